"""Retention of employee health records (registered in contributions.py, run by
core.retention). A record whose worker is not (or no longer) under a running measure goes
unlinked from the person `link_days` after it was made, or after its measure ended if that
came later; the name and masked ID it holds are erased with the link. What the daily
figures count stays (the row, its enterprise and place path, its return date)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q

from fangkong.lib.registry import in_batches

from .models import StaffRecord

BATCH = 500


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    cutoff = now - dt.timedelta(days=link_days)
    qs = StaffRecord.objects.filter(person__isnull=False, created_at__lt=cutoff).filter(
        Q(observation__isnull=True) | Q(observation__state="released", observation__ended_at__lt=cutoff))

    def unlink(ids: list[int]) -> int:
        return StaffRecord.objects.filter(pk__in=ids).update(person=None, name="", id_masked="")

    return {"unlinked": in_batches(lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:BATCH]), unlink,
                                   dry_run=dry_run, count=qs.count)}
