"""Matrix objects of the clinic triage, in compound A1Y: a pre-screening post of a clinic
there, a fever sent by the gate waiting to be routed (fresh each time: routing changes it)
and an export token; and a live credential for the CDC's report pull."""
from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from django.utils import timezone

from fangkong.clinic.models import ExportToken, Post, Visit
from fangkong.places.actions import create_organization

_SEQ = itertools.count(1)


def clinic(cast):
    n = next(_SEQ)
    return create_organization(acting_user=None, kind="clinic", name=f"甲一诊所{n}", code=f"CLINIC-M{n}",
                               place=cast.compound_a1)


def post(cast):
    org = clinic(cast)
    return Post.objects.create(clinic=org, name="大门", place_path=org.place_path)


def gate_visit(cast):
    place = cast.compound_a1
    return Visit.objects.create(client_id=uuid.uuid4(), origin="gate", place=place, place_path=place.path, masked="靶*",
                                temperature=Decimal("38.2"), fever=True, state="waiting", occurred_at=timezone.now())


def token(cast):
    place = cast.compound_a1
    return ExportToken.objects.create(name="区疾控", place=place, place_path=place.path, prefix=uuid.uuid4().hex[:8],
                                      secret_hash="0" * 64)


def report_credential(cast):
    """A live export token over the street (the CDC's report) and its revocation."""
    from fangkong.clinic import actions

    made, secret = actions.create_token(acting_user=None, name=f"区疾控{next(_SEQ)}", place=cast.street)
    return secret, lambda: actions.revoke_token(acting_user=None, token=made)


OBJECTS = {Post: post, Visit: gate_visit, ExportToken: token}
CREDENTIALS = {"clinic.report": report_credential}
