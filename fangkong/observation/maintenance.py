"""The monthly partitions of the temperature reports on PostgreSQL (issue 22, item 2).

observation_report is partitioned by month on `day` there (migration 0005,
fangkong.lib.db.partitions); on SQLite it is one table and these do nothing. Reports are
not append-only: the rows of a new month waiting in the DEFAULT partition are moved in a
plain transaction."""
from __future__ import annotations

import datetime as dt

TABLE, COLUMN = "observation_report", "day"
MONTHS_AHEAD = 2


def ensure_partitions(now: dt.datetime | None = None, using: str = "default") -> list[str]:
    """The partitions of the current month and MONTHS_AHEAD after it (and of any month whose
    reports wait in the DEFAULT partition, moved into it)."""
    from fangkong.lib.db import partitions

    return partitions.ensure_partitions(TABLE, COLUMN, MONTHS_AHEAD, now=now, using=using)


def detach_old(now: dt.datetime, months: int, *, dry_run: bool = False, using: str = "default") -> list[str]:
    """DETACH (not drop) the report partitions of the months wholly older than `months`
    months before now's: plain tables with their reports, for a DBA to archive. months 0:
    nothing."""
    from fangkong.lib.db import partitions

    return partitions.detach_older_than(TABLE, now, months, dry_run=dry_run, using=using)
