"""Group commit for SQLite: several requests' writes committed in one transaction, each
request answered only after that commit.

On SQLite every commit is an fsync of the WAL (synchronous=FULL: an acknowledged write
survives a crash or power loss), and there is one writer at a time. On a machine whose disk
is shared, an fsync takes milliseconds (measured 0.2–5 ms, p99 16 ms on the bench machine
while other jobs ran), so one commit per request caps a whole server at a few hundred
writes per second however fast the Python is.

`write(fn)` runs `fn()` — the transactional part of a named action — in the writer thread
of this process, which takes every job waiting at that moment (up to MAX_BATCH), runs them
in one transaction (a job that raises leaves no trace and gets its exception back; the
others are unaffected: see commit()), commits once, runs the on-commit hooks,
and only then hands each job its result. If the commit fails, no job's write is stored and
every job gets the error. So each caller sees exactly what `with transaction.atomic():
return fn()` would give it, and an acknowledged write is on disk.

The job runs in the writer thread with a copy of the caller's context variables (the audit
context: client IP) and the caller's language. It uses the writer thread's own database
connection, so `fn` must take its input as arguments and return plain results (model
instances are fine), not rely on the caller's open transaction.

A job may hand inserts to the batch (`insert_later(prepared, then)`): the rows of one
table from every job of the batch go in multi-row INSERTs after the last job, instead of
a statement each (on a busy server every statement the writer sends is a wait to get the
GIL back, with the writer's lock held: measured on W6, see testing.actions). `then(obj)`
runs when the row is stored (its key known) and may hand on more (an audit event naming
the row). Outside a batch of the writer, and when a batch is run again job by job in
savepoints, `insert_later` inserts at once and calls `then` at once, so a job means the
same either way. A row refused by the database fails its statement and so the batch's
first try: the batch is run again with savepoints, where the refusal is its job's own.

Used only where it pays (SQLite, not inside an atomic block, FANGKONG_GROUP_COMMIT on);
otherwise `write(fn)` is `with transaction.atomic(): return fn()`. PostgreSQL groups the
WAL flushes of concurrent commits itself.
"""
from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading

from django.conf import settings
from django.db import connection, transaction
from django.utils import translation

log = logging.getLogger(__name__)

MAX_BATCH = 128

_queue: queue.SimpleQueue = queue.SimpleQueue()
_writer: threading.Thread | None = None
_writer_pid = 0
_start = threading.Lock()


class _Job:
    __slots__ = ("fn", "ctx", "lang", "done", "result", "exc")

    def __init__(self, fn):
        self.fn = fn
        self.ctx = contextvars.copy_context()
        self.lang = translation.get_language()
        self.done = threading.Event()
        self.result = None
        self.exc: BaseException | None = None


def enabled() -> bool:
    # Not from the writer thread itself (an on-commit hook that writes): it would wait on itself.
    return (getattr(settings, "GROUP_COMMIT", False) and connection.vendor == "sqlite" and not connection.in_atomic_block
            and threading.current_thread() is not _writer)


def write(fn):
    """Run fn() in a transaction; return its result once the transaction is committed."""
    if not enabled():
        with transaction.atomic():
            return fn()
    job = _Job(fn)
    _ensure_writer()
    _queue.put(job)
    job.done.wait()
    if job.exc is not None:
        raise job.exc
    return job.result


_batch = threading.local()  # .pending: [(prepared, then, job)], .job: the job running, while the writer runs a batch


def insert_later(prepared, then=None) -> None:
    """Insert `prepared` (a fastsql.Prepared) with the batch's other rows of its table,
    then call then(obj); at once where no batch collects (see the module doc)."""
    pending = getattr(_batch, "pending", None)
    if pending is None:
        prepared.run()
        if then is not None:
            then(prepared.obj)
        return
    pending.append((prepared, then, _batch.job))


def _flush() -> None:
    """The batch's collected inserts, a multi-row INSERT per table, rounds until no `then`
    hands on more."""
    from . import fastsql

    while _batch.pending:
        rows, _batch.pending = _batch.pending, []
        by_sql: dict[str, list] = {}
        for row in rows:
            by_sql.setdefault(row[0].sql, []).append(row[0])
        for group in by_sql.values():
            fastsql.run_many(group)
        for prepared, then, job in rows:
            if then is not None:  # in the context and language of the job that handed the row
                _batch.job = job
                job.ctx.run(_run_then, job, then, prepared.obj)


def _run_then(job, then, obj) -> None:
    with translation.override(job.lang):
        then(obj)


def _after_fork_in_child() -> None:
    # The writer thread is not copied into a forked child, nor may its queue or lock be.
    global _queue, _writer, _start
    _queue, _writer, _start = queue.SimpleQueue(), None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _ensure_writer() -> None:
    global _writer, _writer_pid
    if _writer is not None and _writer_pid == os.getpid() and _writer.is_alive():
        return
    with _start:
        if _writer is None or _writer_pid != os.getpid() or not _writer.is_alive():
            _writer = threading.Thread(target=_loop, name="fangkong-group-commit", daemon=True)
            _writer_pid = os.getpid()
            _writer.start()


def _loop() -> None:
    while True:
        jobs = [_queue.get()]
        while len(jobs) < MAX_BATCH:
            try:
                jobs.append(_queue.get_nowait())
            except queue.Empty:
                break
        try:
            commit(jobs)
        except BaseException:  # noqa: BLE001 - never let the writer die; commit() answered the jobs
            log.exception("group commit failed")


def _run(job: _Job):
    with translation.override(job.lang):
        return job.fn()


class _Retry(Exception):
    """A job failed in a batch run without savepoints: run the batch again with them."""


def commit(jobs: list[_Job]) -> None:
    """One transaction for `jobs` (see the module doc); every job is answered.

    First without a savepoint per job (two statements less each); if a job raises, that
    transaction is rolled back and the batch runs again, each job in its own savepoint, so
    that only the failing job fails. A job is a function of its inputs that writes to the
    database, so running it again after a rollback is running it once."""
    try:
        try:
            _attempt(jobs, savepoints=False)
        except _Retry:
            for job in jobs:
                job.result, job.exc = None, None
            _attempt(jobs, savepoints=True)
    except BaseException as exc:  # the transaction failed: nothing of this batch is stored
        for job in jobs:
            if job.exc is None:
                job.exc, job.result = exc, None
        connection.close_if_unusable_or_obsolete()
    finally:
        for job in jobs:
            job.done.set()


def _attempt(jobs: list[_Job], *, savepoints: bool) -> None:
    with transaction.atomic():
        if not savepoints:
            _batch.pending = []
            try:
                for job in jobs:
                    _batch.job = job
                    job.result = job.ctx.run(_run, job)
                _flush()
            except Exception as exc:  # noqa: BLE001 - retried with savepoints, then handed back
                raise _Retry from exc
            finally:
                _batch.pending = _batch.job = None
        for job in jobs if savepoints else ():
            try:
                with transaction.atomic():
                    job.result = job.ctx.run(_run, job)
            except Exception as exc:  # noqa: BLE001 - the job's own error, handed back to it
                job.exc = exc
        # A failing hook (after the commit) must not turn committed writes into errors.
        connection.run_on_commit = [(sids, func, True) for sids, func, _robust in connection.run_on_commit]
