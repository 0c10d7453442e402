"""Background work of people on duty, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(minute="*/10"))
def close_overdue_shifts():
    """Shifts left without check-out close themselves 2 h after their end (flagged); shifts
    never checked into are marked missed once over."""
    return actions.close_overdue()
