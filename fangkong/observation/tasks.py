"""Background work of the observation module, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(minute="*/5"))
def missed_windows():
    """Alerts for temperature windows that closed without a report."""
    return actions.check_missed()
