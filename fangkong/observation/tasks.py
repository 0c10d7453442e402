"""Background work of the observation module, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/5"))
def missed_windows():
    """Alerts for temperature windows that closed without a report."""
    return actions.check_missed()
