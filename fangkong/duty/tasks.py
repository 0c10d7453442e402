"""Background work of people on duty, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/10"))
def close_overdue_shifts():
    """Shifts left without check-out close themselves 2 h after their end (flagged); shifts
    never checked into are marked missed once over."""
    return actions.close_overdue()


@periodic(crontab(minute="*/5"))
def alert_missing_checkins():
    """The responsible person and the medic hear of everyone not checked in 5 minutes after
    the start of their shift."""
    return actions.alert_missing()
