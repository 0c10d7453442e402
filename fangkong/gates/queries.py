"""Gate figures per checkpoint and day (reads)."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from fangkong.places.access import scope

from .models import GateEntry


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


FIGURES = {
    "people_in": Q(subject="person", direction="in", decision="allowed"),
    "people_out": Q(subject="person", direction="out", decision="allowed"),
    "vehicles_in": Q(subject="vehicle", direction="in", decision="allowed"),
    "vehicles_out": Q(subject="vehicle", direction="out", decision="allowed"),
    "refused": Q(decision="refused"),
    "flagged": Q(flagged=True),
}


def stats(user, day: dt.date, place=None) -> list[dict]:
    """One row per checkpoint with entries on `day` (local), within the user's scope for
    gates.view (and under `place` if given), plus fevers."""
    start, end = day_bounds(day)
    qs = scope(GateEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end), user, "gates.view")
    if place is not None:
        qs = qs.filter(place_path__under=place.path)
    aggs = {k: Count("id", filter=q) for k, q in FIGURES.items()}
    aggs["fevers"] = Count("id", filter=Q(temperature__gte=settings.FEVER_THRESHOLD))
    aggs["total"] = Count("id")
    rows = list(qs.values("place_id", "place__name", "place__code").annotate(**aggs).order_by("place__code"))
    return [{"place_id": r.pop("place_id"), "place_name": r.pop("place__name"), "place_code": r.pop("place__code"), **r}
            for r in rows]
