"""Matrix objects of disinfection: a stairwell of a building of compound A1Y and its round
due today (the scan page is named by the target's code)."""
from __future__ import annotations

import uuid

from django.utils import timezone

from fangkong.disinfection import actions
from fangkong.disinfection.models import Round, Target
from fangkong.places.actions import create_place


def target(cast):
    b = create_place(acting_user=None, kind="building", name="矩阵楼", code=f"MX{uuid.uuid4().hex[:6]}",
                     parent=cast.compound_a1)
    return actions.create_target(acting_user=None, place=b, kind="stairwell", label="矩阵楼1单元楼道")


def round_(cast):
    t = target(cast)
    return Round.objects.create(target=t, day=timezone.localdate(), slot=0, due_at=timezone.now(), **actions._round_fields(t))


OBJECTS = {Target: target, Round: round_}
URL_KWARGS = {"disinfection_scan": lambda t: {"code": t.code}}
