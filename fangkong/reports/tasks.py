"""Background work of the daily report, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/5"))
def close_due_days():
    """Close every day whose close time (FANGKONG_REPORT_CLOSE on the next day) has passed."""
    return [d.isoformat() for d in actions.close_due_days()]


@periodic(crontab(minute="*/15"))
def notify_late_units():
    """After the deadline (FANGKONG_REPORT_DEADLINE), tell each unit that has not confirmed."""
    return actions.notify_late()
