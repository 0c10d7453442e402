"""Periodic work of work resumption (Huey): overdue decisions escalated, approved
enterprises resumed on their date, supervision inspections scheduled."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/10"))
def resumption_escalate():
    return actions.escalate_overdue()


@periodic(crontab(minute="5", hour="0,6"))
def resumption_daily():
    return {"resumed": actions.auto_resume(), "inspections": actions.schedule_inspections()}
