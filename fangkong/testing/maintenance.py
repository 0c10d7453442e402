"""Monthly partitions of the testing registrations (PostgreSQL). testing_registration is
partitioned by month on `round_created` (its round's creation time; migration 0003,
fangkong.lib.db.partitions): a round's registrations all live in the partition of the
month its round was made. On SQLite it is one table and these do nothing.

Registrations are not append-only (a conflict is flagged, a recall is unset, a round or a
person deleted takes its registrations along), so the rows waiting in the DEFAULT partition
are moved into their month's new partition in the helper's plain transaction (no
maintenance context as for the audit trail)."""
from __future__ import annotations

import datetime as dt

TABLE, COLUMN = "testing_registration", "round_created"
MONTHS_AHEAD = 2


def ensure_partitions(now: dt.datetime | None = None, using: str = "default") -> list[str]:
    """The partitions of the current month and MONTHS_AHEAD after it (and of any month whose
    registrations wait in the DEFAULT partition, moved into it)."""
    from fangkong.lib.db import partitions

    return partitions.ensure_partitions(TABLE, COLUMN, MONTHS_AHEAD, now=now, using=using)


def detach_old(now: dt.datetime, months: int, *, dry_run: bool = False, using: str = "default") -> list[str]:
    """DETACH (not drop) the registration partitions of the months wholly older than
    `months` months before now's (rounds made then): plain tables with their rows, for a
    DBA to archive and drop. months 0: nothing. Never the month of a round not closed yet,
    nor any after it: a round still taking registrations keeps all of them (its coverage,
    its one-registration-per-person key and its resends read them)."""
    from fangkong.lib.db import partitions

    from .models import Round

    if months <= 0:
        return []
    cutoff = partitions.add_months(partitions.month_start(now), -months)
    oldest_open = (Round.objects.using(using).exclude(state=Round.State.CLOSED).order_by("created_at")
                   .values_list("created_at", flat=True).first())
    if oldest_open is not None:
        cutoff = min(cutoff, partitions.month_start(oldest_open))
    return partitions.detach_before(TABLE, cutoff, dry_run=dry_run, using=using)
