"""Retention of transfer requests (registered in contributions.py, run by core.retention).

A decided request (accepted, declined, withdrawn) keeps who asked to take over whom for
`link_days` after its decision; then its link to the person and what the requester typed
(name, masked ID, address, reasons) go. Transfer requests hold no health details."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q

from fangkong.lib.registry import in_batches

from .models import Transfer

BATCH = 500


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    link_qs = Transfer.objects.exclude(state=Transfer.State.REQUESTED).filter(
        decided_at__lt=now - dt.timedelta(days=link_days)).filter(Q(person__isnull=False) | ~Q(typed_name=""))

    def unlink(ids: list[int]) -> int:
        return Transfer.objects.filter(pk__in=ids).update(person=None, typed_name="", id_masked="", address="",
                                                          reason="", decision_reason="")

    return {"unlinked": in_batches(lambda: list(link_qs.order_by("pk").values_list("pk", flat=True)[:BATCH]), unlink,
                                   dry_run=dry_run, count=link_qs.count)}
