"""Periodic work of the inflow loop (Huey)."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*"))
def escalate_overdue():
    """Every minute: alert the owners of every link that is past its deadline, once per
    link (actions.escalate_overdue). `escalate_overdue.call_local()` runs it in place."""
    return actions.escalate_overdue(acting_user=None)
