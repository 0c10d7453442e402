"""Retention of the clinic's pre-screening records (registered in contributions.py, run by
core.retention). A visit whose triage is over (not waiting, not awaiting an outcome) loses
its identity `health_days` after it happened: the encrypted ID number and phone with their
blind indexes, the name, the address and the free-text notes; the masked forms and what the
daily figures count (place, day, temperature, fever, route, state) stay, so past figures and
the CDC's earlier reports' counts do not change. The link to a registry person goes too."""
from __future__ import annotations

import datetime as dt

from fangkong.lib.registry import in_batches

from .models import Visit

BATCH = 500
OPEN = (Visit.State.WAITING, Visit.State.TRACKING, Visit.State.TESTED)


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    qs = Visit.objects.filter(occurred_at__lt=now - dt.timedelta(days=health_days)).exclude(state__in=OPEN).exclude(
        id_bidx="", phone_bidx="", name="", address="", person=None)

    def clear(ids: list[int]) -> int:
        return Visit.objects.filter(pk__in=ids).update(
            id_enc=None, id_bidx="", phone_enc=None, phone_bidx="", name="", address="", history_note="", note="",
            outcome_note="", person=None)

    return {"identity": in_batches(lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:BATCH]), clear,
                                   dry_run=dry_run, count=qs.count)}
