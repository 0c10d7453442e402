"""Retention of self-declarations (registered in contributions.py, run by core.retention).

A declaration ends when it is checked (verified true or found false); one never checked
ends `link_days` after it was submitted. `health_days` after its end its health details
go (temperature, symptoms, travel, the declarant's note); `link_days` after its end the
identity it holds goes (name, ID and phone numbers with their blind indexes and masks,
address, the check's note, the hashed client address) with its link to the person.

What the daily figures count stays (contributions.py): every row with its place path,
submission and check times, state and `risk` flag, and the declared risk flags (risk
area, contacts) that make `risk`; so past days' figures are the same after a purge.

Exception: a declaration behind a credit-record entry in force (CreditEntry.declaration,
not revoked) is the entry's evidence, which the person may appeal against: it is kept
whole, with its person and identity, while the entry is in force; once the entry is
revoked the next purge treats it like any other.

Grid-watch findings are left alone: their evidence is the committee's free text about a
person and a confirmed one backs a credit entry; deciding what of it may go is left to the
credit-record rules (not decided here).
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q

from fangkong.lib.registry import in_batches

from .models import CreditEntry, Declaration

BATCH = 500
D = Declaration.State


def _ended_before(cutoff: dt.datetime, link_days: int):
    """Declarations that ended before `cutoff` and back no credit entry in force."""
    ended = (Q(state__in=[D.VERIFIED, D.FOUND_FALSE], checked_at__lt=cutoff)
             | Q(state__in=[D.SUBMITTED, D.FOLLOW_UP], submitted_at__lt=cutoff - dt.timedelta(days=link_days)))
    in_force = CreditEntry.objects.filter(declaration=OuterRef("pk"), state=CreditEntry.State.ACTIVE)
    return Declaration.objects.filter(ended).exclude(Exists(in_force))


def run(now: dt.datetime, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
    not_cleared = Q(temperature__isnull=False) | ~Q(symptoms="") | ~Q(note="") | ~Q(travel=[])
    health_qs = _ended_before(now - dt.timedelta(days=health_days), link_days).filter(not_cleared)

    def clear_health(ids: list[int]) -> int:
        return Declaration.objects.filter(pk__in=ids).update(temperature=None, symptoms="", travel=[], note="")

    link_qs = _ended_before(now - dt.timedelta(days=link_days), link_days).filter(
        Q(person__isnull=False) | ~Q(id_bidx="") | ~Q(name=""))

    def unlink(ids: list[int]) -> int:
        return Declaration.objects.filter(pk__in=ids).update(
            person=None, name="", id_enc=b"", id_bidx="", id_masked="", phone_enc=b"", phone_bidx="",
            phone_masked="", address="", check_note="", client_hash="")

    def ids(qs):
        return lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:BATCH])

    return {
        "health": in_batches(ids(health_qs), clear_health, dry_run=dry_run, count=health_qs.count),
        "unlinked": in_batches(ids(link_qs), unlink, dry_run=dry_run, count=link_qs.count),
    }
