"""Periodic work of the inflow loop (Huey)."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(minute="*"))
def escalate_overdue():
    """Every minute: alert the owners of every link that is past its deadline, once per
    link (actions.escalate_overdue). `escalate_overdue.call_local()` runs it in place."""
    return actions.escalate_overdue(acting_user=None)
