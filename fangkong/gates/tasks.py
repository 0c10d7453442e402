"""Background work of the gates module, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic

# On PostgreSQL the gate entries are partitioned by month on occurred_at (migration 0005,
# fangkong.lib.db.partitions); on SQLite they are one table and these do nothing.
TABLE, COLUMN = "gates_gateentry", "occurred_at"
MONTHS_AHEAD = 2


@periodic(crontab(hour="1", minute="45"))
def ensure_entry_partitions():
    """Daily (PostgreSQL): the gate entries' monthly partitions of this month and the next
    two exist (and of any month whose entries wait in the DEFAULT partition, moved into it
    in a plain transaction: entries are not append-only); nothing on SQLite."""
    from fangkong.lib.db import partitions

    return partitions.ensure_partitions(TABLE, COLUMN, MONTHS_AHEAD)
