"""The monthly partitions of the temperature reports on PostgreSQL (issue 22, item 2).

observation_report is partitioned by month on `day` there (migration 0005,
fangkong.lib.db.partitions); on SQLite it is one table and these do nothing. Reports are
not append-only: the rows of a new month waiting in the DEFAULT partition are moved in a
plain transaction. `detach_old` DETACHes (never drops) the months wholly older than its
months: plain tables with their reports, for a DBA to archive."""
from fangkong.lib.db.partitions import Monthly

REPORTS = Monthly("observation_report", "day", months_ahead=2)
ensure_partitions, detach_old = REPORTS.ensure_partitions, REPORTS.detach_old
