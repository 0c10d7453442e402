"""Background work of command, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="10"))
def overdue_findings():
    """Findings past their rectification deadline: the HQ's commanders are told, once each."""
    return actions.escalate_overdue()
