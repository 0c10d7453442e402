"""What the gates module tells the rest of the platform (fangkong.lib.registry): daily
figures of the gates for the daily report."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry

from .models import GateEntry
from .queries import day_bounds

SECTION = _("Gates")


def _day(day: dt.date) -> list[tuple[str, int, int, int]]:
    """(place path, entries, refused, fevers) of the day: one query for the three metrics
    (shared within one read of the figures, lib.registry.shared)."""
    def query():
        start, end = day_bounds(day)
        return list(GateEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end).values_list("place_path").annotate(
            # place_path, not id: every counted column is in the index (index-only reads)
            n=Count("place_path"), refused=Count("place_path", filter=Q(decision="refused")),
            fevers=Count("place_path", filter=Q(temperature__gte=settings.FEVER_THRESHOLD))).order_by())

    return registry.shared(("gates.day", day), query)


def _column(i: int):
    def counts(day: dt.date):
        return [(row[0], row[i]) for row in _day(day) if row[i]]

    return counts


registry.register_metric(registry.Metric("gates.entries", _("Gate entries"), SECTION, _column(1), order=60))
registry.register_metric(registry.Metric("gates.refused", _("Turned away at gates"), SECTION, _column(2), order=61))
registry.register_metric(registry.Metric("gates.fevers", _("Fevers at gates"), SECTION, _column(3), order=62))


# --- Retention: old months of the gate log DETACHed (never dropped) on PostgreSQL when
# FANGKONG_GATE_ENTRY_DETACH_MONTHS is set (0, the default: never); the entries stay, in a
# plain table per month for a DBA to archive, out of the pages and the daily figures. The
# app deletes no gate entry (a clinic visit names its entry: clinic/0003). SQLite: nothing.
def _detach_partitions(now, *, health_days, link_days, dry_run=False):
    from django.db.models import Exists, OuterRef

    from .maintenance import detach_old
    from .models import GateEntry, SuspectClock

    detached = detach_old(now, settings.GATE_ENTRY_DETACH_MONTHS, dry_run=dry_run)
    if detached and not dry_run:
        # The suspect clocks noted of entries now out of the log: no resend can meet those.
        SuspectClock.objects.filter(~Exists(GateEntry.objects.filter(
            client_id=OuterRef("client_id"), occurred_at=OuterRef("occurred_at")))).delete()
    return {"partitions_detached": len(detached)}


registry.register_retention(registry.RetentionRule(key="gates.partitions", label=_("Gate entry partitions"),
                                                   run=_detach_partitions))
