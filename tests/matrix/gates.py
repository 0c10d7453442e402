"""Matrix objects of gates: an open fever triage at compound A1Y (a fresh one each time,
since closing it changes its state)."""
from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from fangkong.gates.models import Triage


def triage(cast):
    place = cast.compound_a1
    return Triage.objects.create(place=place, place_path=place.path, masked="靶*", temperature=Decimal("38.2"),
                                 created_at=timezone.now())


OBJECTS = {Triage: triage}
