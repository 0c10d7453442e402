"""Matrix object of the dashboard: a place (grid A1), whose figures /dashboard/<pk>/ and
/api/dashboard/{pk} show."""
from __future__ import annotations

from fangkong.places.models import Place


def place(cast):
    return Place.objects.get(pk=cast.grid_a1.pk)


OBJECTS = {Place: place}
