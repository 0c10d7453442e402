"""Background work of command, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(minute="10"))
def overdue_findings():
    """Findings past their rectification deadline: the HQ's commanders are told, once each."""
    return actions.escalate_overdue()
