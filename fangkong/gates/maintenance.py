"""Monthly partitions of the gate entries (PostgreSQL). gates_gateentry is partitioned by
month on `occurred_at` (migration 0005, fangkong.lib.db.partitions); on SQLite it is one
table and these do nothing. Entries are not append-only (a clinic visit is linked to
one), so the rows waiting in the DEFAULT partition are moved into their month's new
partition in the helper's plain transaction."""
from __future__ import annotations

import datetime as dt

TABLE, COLUMN = "gates_gateentry", "occurred_at"
MONTHS_AHEAD = 2


def ensure_partitions(now: dt.datetime | None = None, using: str = "default") -> list[str]:
    """The partitions of the current month and MONTHS_AHEAD after it (and of any month whose
    entries wait in the DEFAULT partition, moved into it)."""
    from fangkong.lib.db import partitions

    return partitions.ensure_partitions(TABLE, COLUMN, MONTHS_AHEAD, now=now, using=using)


def detach_old(now: dt.datetime, months: int, *, dry_run: bool = False, using: str = "default") -> list[str]:
    """DETACH (not drop) the gate entries' partitions of the months wholly older than
    `months` months before now's: plain tables with their entries, for a DBA to archive.
    months 0: nothing."""
    from fangkong.lib.db import partitions

    return partitions.detach_older_than(TABLE, now, months, dry_run=dry_run, using=using)
