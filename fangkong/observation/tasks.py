"""Background work of the observation module, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/5"))
def missed_windows():
    """Alerts for temperature windows that closed without a report."""
    return actions.check_missed()


@periodic(crontab(hour="1", minute="40"))
def ensure_report_partitions():
    """Daily (PostgreSQL): the temperature reports' monthly partitions of this month and the
    next two exist (observation.maintenance.ensure_partitions); nothing on SQLite."""
    from .maintenance import ensure_partitions

    return ensure_partitions()
