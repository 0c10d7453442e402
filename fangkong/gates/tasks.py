"""Background work of the gates module, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic


@periodic(crontab(hour="1", minute="45"))
def ensure_entry_partitions():
    """Daily (PostgreSQL): the gate entries' monthly partitions of this month and the next
    two exist (gates.maintenance.ensure_partitions); nothing on SQLite."""
    from .maintenance import ensure_partitions

    return ensure_partitions()
