"""Matrix objects of people on duty: a shift at a site in compound A1Y (tomorrow), a
person assigned to it, and an unwell health check-in there (fresh each time, since the
routes change their state), and a team attached to compound A1Y."""
from __future__ import annotations

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from fangkong.duty import actions
from fangkong.duty.models import Assignment, HealthCheck, Shift, StreetSetting, Team, TeamKind
from fangkong.places.actions import create_organization
from tests.cast import make_user

_seq = itertools.count(1)


def _site(cast):
    return create_organization(acting_user=None, kind="site", name="矩阵值守点", code=f"DSITE-{uuid.uuid4().hex[:8]}",
                               place=cast.compound_a1)


def shift(cast):
    start = timezone.now() + dt.timedelta(days=1)
    return actions.create_shift(acting_user=None, site=_site(cast), post="gate", starts_at=start,
                                ends_at=start + dt.timedelta(hours=4), slots=3, open=True)


def assignment(cast):
    s = shift(cast)
    user = make_user(f"matrix_duty_{next(_seq)}")
    actions.deploy(acting_user=None, user=user, site=s.site, starts_on=timezone.localdate())
    return actions.assign(acting_user=None, shift=s, user=user)


def health(cast):
    a = assignment(cast)
    return HealthCheck.objects.create(user=a.user, day=timezone.localdate(), temperature="38.1", state="unwell",
                                      site=a.site, place_path=a.place_path, reported_at=timezone.now())


def team(cast):
    kind = TeamKind.objects.get_or_create(code="matrix", defaults={"name": "矩阵队"})[0]
    return actions.create_team(acting_user=None, kind=kind, name="矩阵先锋队", place=cast.compound_a1)


def street_setting(cast):
    """The cast's street allows its police to issue temporary passes (for 24 hours at
    most), so the police's pass routes are tried past the street's refusal (tested in
    tests/test_duty.py)."""
    return actions.set_street_settings(acting_user=None, street=cast.street, police_passes=True, police_pass_hours=24)


OBJECTS = {Shift: shift, Assignment: assignment, HealthCheck: health, Team: team, StreetSetting: street_setting}
