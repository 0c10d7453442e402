"""Periodic tasks run once per period across workers (fangkong.lib.queue.periodic; issue 22,
item 1): two consumers whose schedulers both enqueued the same periodic task for the same
period run its body once, in whichever claims the period first in the shared cache."""
import datetime as dt
import threading

import pytest
from huey import crontab
from huey.contrib.djhuey import HUEY

from fangkong.lib import queue

pytestmark = pytest.mark.django_db(transaction=True)  # the threads see each other's cache rows

runs = []


@queue.periodic(crontab(minute="*/5"))
def _count_run():
    runs.append(1)
    return len(runs)


@pytest.fixture
def consumers(monkeypatch):
    """As in a consumer: Huey not immediate, the clock set by the test."""
    clock = {"now": dt.datetime(2026, 12, 7, 12, 6, 2)}
    monkeypatch.setattr(HUEY, "immediate", False)
    monkeypatch.setattr(HUEY, "_get_timestamp", lambda: clock["now"])
    runs.clear()
    return clock


def _execute():
    """What a consumer's worker does with the task the scheduler enqueued: run its function."""
    return _count_run.func()


def test_two_consumers_run_a_periodic_task_once_per_period(consumers):
    assert _execute() == 1
    assert _execute() is None  # the second consumer's copy for the same period
    assert runs == [1]
    consumers["now"] = dt.datetime(2026, 12, 7, 12, 9, 59)  # still the 12:05 period
    assert _execute() is None and len(runs) == 1
    consumers["now"] = dt.datetime(2026, 12, 7, 12, 10, 0)  # the next period
    assert _execute() == 2
    assert _execute() is None
    assert len(runs) == 2


def test_concurrent_consumers_run_it_once(consumers):
    barrier = threading.Barrier(4)
    results = []

    def consumer():
        barrier.wait()
        results.append(_execute())
        from django.db import connection

        connection.close()

    threads = [threading.Thread(target=consumer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1
    assert sorted(results, key=lambda r: r is None) == [1, None, None, None]


def test_period_start_follows_the_crontab():
    daily = crontab(hour="3", minute="40")
    assert queue.period_start(daily, dt.datetime(2026, 12, 7, 3, 40, 30)) == dt.datetime(2026, 12, 7, 3, 40)
    assert queue.period_start(daily, dt.datetime(2026, 12, 7, 3, 39)) == dt.datetime(2026, 12, 6, 3, 40)
    assert queue.period_start(crontab(minute="*"), dt.datetime(2026, 12, 7, 3, 39, 59)) == dt.datetime(2026, 12, 7, 3, 39)


def test_immediate_mode_runs_every_call():
    runs.clear()
    assert HUEY.immediate  # tests: a call runs the task at once
    _count_run.call_local()
    _count_run.func()
    assert len(runs) == 2


def test_every_periodic_task_is_claimed_once(consumers):
    """Every periodic task of the platform goes through periodic() (none through Huey's
    db_periodic_task directly, which would run in every consumer)."""
    import pathlib
    import re

    root = pathlib.Path(queue.__file__).resolve().parent.parent
    direct = [str(p.relative_to(root)) for p in root.rglob("*.py")
              if p.name != "queue.py" and re.search(r"@(db_)?periodic_task\(", p.read_text())]
    assert direct == []
    assert len([p for p in root.rglob("tasks.py") if "@periodic(" in p.read_text()]) >= 12
