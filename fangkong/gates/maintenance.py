"""Monthly partitions of the gate entries (PostgreSQL). gates_gateentry is partitioned by
month on `occurred_at` (migration 0005, fangkong.lib.db.partitions); on SQLite it is one
table and these do nothing. Entries are not append-only (a clinic visit is linked to
one), so the rows waiting in the DEFAULT partition are moved into their month's new
partition in the helper's plain transaction. `detach_old` DETACHes (never drops) the
months wholly older than its months: plain tables with their entries, for a DBA."""
from fangkong.lib.db.partitions import Monthly

ENTRIES = Monthly("gates_gateentry", "occurred_at", months_ahead=2)
ensure_partitions, detach_old = ENTRIES.ensure_partitions, ENTRIES.detach_old
