"""Background work of disinfection, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="5"))
def generate_rounds():
    """Every hour (idempotent; the first run after local midnight makes the day): the day's
    rounds from the targets' frequencies and the isolated households' waste collections
    (a household put under observation during the day is collected from the next hour)."""
    return actions.generate()


@periodic(crontab(minute="*/10"))
def escalate_overdue():
    """Overdue key-area and case rounds alert the property staff and the committee."""
    return actions.escalate()
