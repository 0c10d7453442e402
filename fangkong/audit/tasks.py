"""Background work of the audit app, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic


@periodic(crontab(hour="1", minute="35"))
def ensure_audit_partitions():
    """Daily (PostgreSQL): the audit trail's monthly partitions of this month and the next
    two exist (audit.maintenance.ensure_partitions); nothing on SQLite."""
    from .maintenance import ensure_partitions

    return ensure_partitions()
