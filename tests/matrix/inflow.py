"""Matrix objects of the inflow loop: an application forwarded to grid A1's committee,
applied for by unit X (so unit-scoped and place-scoped grants both reach it); an origin and
a row of the policy table (admin only, not scoped by place)."""
from __future__ import annotations

import uuid

from django.utils import timezone

from fangkong.inflow.models import Application, MeasurePolicy, Origin


def application(cast):
    origin, _ = Origin.objects.get_or_create(name="矩阵省", defaults={"risk": "medium"})
    now = timezone.now()
    # One open application per person: the previous matrix object is closed first.
    Application.objects.filter(person=cast.person_a1).exclude(state__in=["rejected", "arrived"]).update(state="rejected")
    return Application.objects.create(
        serial=uuid.uuid4().hex[:20], person=cast.person_a1, employer=cast.org_x, household=cast.hh_a1,
        place=cast.hh_a1.place, place_path=cast.hh_a1.place_path, origin=origin, risk=origin.risk,
        state=Application.State.FORWARDED, submitted_at=now, forwarded_at=now, review_due_at=now,
        due_link="review", due_at=now,
    )


def origin(cast):
    return Origin.objects.create(name=f"矩阵地{uuid.uuid4().hex[:8]}", risk="low")


def measure_policy(cast):
    row, _ = MeasurePolicy.objects.get_or_create(risk="low", defaults={"measure": "health_monitoring", "days": 7})
    return row


OBJECTS = {Application: application, Origin: origin, MeasurePolicy: measure_policy}
