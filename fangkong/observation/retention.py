"""Retention of observations (registered in contributions.py, run by core.retention).

A released observation's health details go `health_days` after its end: the reports'
temperatures and symptoms, the alerts' details and handling notes, the notes of its
history, its end note and the household's supply requests. Its link to the person goes
`link_days` after its end. What the daily figures count stays: every observation, report
and alert row with its day, kind, place path, dates and state (contributions.py), so the
figures of past days are the same after a purge. A measure transferred to hospital is not
over (it may resume) and is left alone."""
from __future__ import annotations

import datetime as dt

from fangkong.lib.registry import in_batches

from .models import Alert, Event, Observation, Report, SupplyRequest

BATCH = 500
# History entries whose note staff typed (the others are written by the platform).
TYPED_NOTES = ("alert_handled", "release", "transfer", "extend", "resume")


def _ended_before(cutoff: dt.datetime):
    return Observation.objects.filter(state=Observation.State.RELEASED, ended_at__lt=cutoff)


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    health_qs = _ended_before(now - dt.timedelta(days=health_days)).filter(health_cleared_at__isnull=True)

    def clear_health(ids: list[int]) -> int:
        Report.objects.filter(observation_id__in=ids).update(temperature=None, symptoms=[])
        Alert.objects.filter(observation_id__in=ids).update(detail="", handled_note="")
        Event.objects.filter(observation_id__in=ids, action__in=TYPED_NOTES).exclude(note="").update(note="")
        SupplyRequest.objects.filter(observation_id__in=ids).update(text="")
        return Observation.objects.filter(pk__in=ids).update(end_note="", health_cleared_at=now)

    link_qs = _ended_before(now - dt.timedelta(days=link_days)).filter(person__isnull=False)

    def unlink(ids: list[int]) -> int:
        return Observation.objects.filter(pk__in=ids).update(person=None)

    def ids(qs):
        return lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:BATCH])

    return {
        "health": in_batches(ids(health_qs), clear_health, dry_run=dry_run, count=health_qs.count),
        "unlinked": in_batches(ids(link_qs), unlink, dry_run=dry_run, count=link_qs.count),
    }
