"""The background worker's queue (Huey): its depth as operators see it, and periodic tasks
that run once per period however many workers run the scheduler.

Every Huey consumer started with periodic tasks enabled (the default of `fangkong run_huey`
and `fangkong run`) enqueues each periodic task when its crontab matches, about once a
minute. With workers on several machines (DESIGN.md §3: any number of identical servers)
each would run the task: two retention purges, two escalations of the same overdue item.
`periodic()` wraps Huey's `db_periodic_task` so that the task's body runs only in the
worker that first claims its period in the shared cache (Redis in production, the
database's cache table otherwise): `cache.add` of "periodic:<task>:<period start>" is atomic
on both, so the second worker finds the key and skips.

The period of a run is the latest minute, at or before the moment the task runs, that its
crontab matches (a "*/5" task run at 12:06:02 from a 12:05 enqueue belongs to 12:05). A
task whose run starts more than its period after it was enqueued (a queue backed up by
more than a minute for a minute="*" task) counts for the later period.

With Huey in immediate mode (tests) there is no scheduler, and a call runs the task at once,
every time, as before.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket

logger = logging.getLogger("fangkong.queue")

PERIOD_KEY_SECONDS = 26 * 3600  # the longest period here is a day; a claim outlives it
_LOOKBACK_MINUTES = 8 * 24 * 60  # weekly schedules at most


def queue_depth() -> int:
    """Tasks waiting in the queue (enqueued, not yet taken by a worker)."""
    from huey.contrib.djhuey import HUEY

    return HUEY.pending_count()


def period_start(schedule, now: dt.datetime) -> dt.datetime:
    """The latest minute at or before `now` that `schedule` (a Huey crontab) matches; `now`
    itself (to the minute) when none does within a week."""
    minute = now.replace(second=0, microsecond=0)
    t = minute
    for _ in range(_LOOKBACK_MINUTES):
        if schedule(t):
            return t
        t -= dt.timedelta(minutes=1)
    return minute


def claim_period(name: str, schedule, now: dt.datetime | None = None) -> bool:
    """True for the first caller (in any process, on any machine sharing the cache) that
    claims task `name`'s period containing `now`; False for every later one. A cache that
    cannot be reached claims nothing and lets the task run (a duplicate run of these
    idempotent tasks is better than none)."""
    from django.core.cache import cache
    from huey.contrib.djhuey import HUEY

    if now is None:
        now = HUEY._get_timestamp()  # the clock the scheduler matched the crontab on (UTC by default)
    start = period_start(schedule, now)
    key = f"periodic:{name}:{start:%Y%m%dT%H%M}"
    try:
        return cache.add(key, f"{socket.gethostname()}:{os.getpid()}", timeout=PERIOD_KEY_SECONDS)
    except Exception:
        logger.exception("periodic task %s: the shared cache could not be reached; running it here", name)
        return True


def periodic(schedule, **kwargs):
    """`huey.contrib.djhuey.db_periodic_task(schedule)`, run once per period across all the
    workers (see the module's docstring). `task.call_local()` runs the body unconditionally."""
    from huey.contrib.djhuey import HUEY, db_periodic_task

    def decorator(fn):
        name = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def once(*args, **kw):
            if not HUEY.immediate:
                now = HUEY._get_timestamp()
                start = f"{period_start(schedule, now):%Y-%m-%dT%H:%M}"
                if not claim_period(name, schedule, now):
                    logger.info("periodic task %s: period %s skipped, claimed by another worker", name, start)
                    return None
                logger.info("periodic task %s: period %s claimed, running", name, start)
            return fn(*args, **kw)

        task = db_periodic_task(schedule, **kwargs)(once)
        task.call_local = fn
        return task

    return decorator
