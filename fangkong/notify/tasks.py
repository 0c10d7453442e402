"""The worker's side of notifications: deliver one delivery (one attempt; a failure
schedules the next after its back-off), and every minute re-enqueue the deliveries whose
time has come, so nothing is lost when the worker was down or a queue entry vanished."""
from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_task
from django.utils import timezone

from fangkong.lib.queue import periodic
from . import actions
from .models import Delivery


@db_task()
def deliver(delivery_id: int):
    delivery = actions.attempt_delivery(delivery_id=delivery_id)
    if delivery is not None and delivery.state == Delivery.State.FAILED and delivery.next_attempt_at:
        delay = max((delivery.next_attempt_at - timezone.now()).total_seconds(), 0)
        deliver.schedule((delivery_id,), delay=delay)
    return delivery.state if delivery is not None else None


@periodic(crontab(minute="*"))
def requeue_due_deliveries():
    ids = actions.due_deliveries()
    for pk in ids:
        deliver(pk)
    return len(ids)
