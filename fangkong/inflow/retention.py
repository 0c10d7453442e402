"""Retention of return applications (registered in contributions.py, run by core.retention).

An application ends when the person arrived (`arrived_at`) or it was rejected
(`decided_at`). `health_days` after its end the arrival's health check goes (temperature,
healthy, and the arrival's note in the history, which holds the temperature); `link_days`
after it the link to the person goes: the person, the name and masked ID kept on the
application, its household, the decision's reason and every note of its history. What the
daily figures count stays (contributions.py: states, dates, place path, unit, origin and
risk), so the figures of past days are the same after a purge. An open application, and
one waiting for a transfer request, is not over and is left alone."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q

from fangkong.lib.registry import in_batches

from .models import Application, Event

BATCH = 500
S = Application.State


def _ended_before(cutoff: dt.datetime):
    ended = Q(state=S.ARRIVED, arrived_at__lt=cutoff) | Q(state=S.REJECTED, decided_at__lt=cutoff)
    return Application.objects.filter(ended).exclude(transfer__state="requested")  # waiting for its person


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    health_qs = _ended_before(now - dt.timedelta(days=health_days)).filter(
        Q(arrival_temperature__isnull=False) | Q(arrival_healthy__isnull=False))

    def clear_health(ids: list[int]) -> int:
        Event.objects.filter(application_id__in=ids, action="arrive").exclude(note="").update(note="")
        return Application.objects.filter(pk__in=ids).update(arrival_temperature=None, arrival_healthy=None)

    link_qs = _ended_before(now - dt.timedelta(days=link_days)).filter(
        Q(person__isnull=False) | ~Q(person_name="") | Q(household__isnull=False))

    def unlink(ids: list[int]) -> int:
        Event.objects.filter(application_id__in=ids).exclude(note="").update(note="")
        return Application.objects.filter(pk__in=ids).update(person=None, person_name="", person_id_masked="",
                                                             household=None, decision_reason="", transfer=None)

    def ids(qs):
        return lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:BATCH])

    return {
        "health": in_batches(ids(health_qs), clear_health, dry_run=dry_run, count=health_qs.count),
        "unlinked": in_batches(ids(link_qs), unlink, dry_run=dry_run, count=link_qs.count),
    }
