"""SQLite backend of the platform: Django's, with writers queued in line instead of polling.

SQLite has one writer at a time. Django's backend with transaction_mode=IMMEDIATE makes a
writer take the lock at BEGIN; a writer that finds it taken waits in SQLite's busy
handler, which *sleeps* (1, 2, 5, 10 … 100 ms) and retries. Under load (gunicorn threads
and processes all writing) most of a request's time went into those sleeps: the lock was
often free while everyone slept, and unlucky requests waited a second (measured: W5 p99
~1 s at ~270 req/s, with ~3 ms of CPU per report).

Here a transaction first takes a writer lock that wakes the next writer the moment the
previous one commits: a lock per database file within the process (threading), then an
flock(2) on `<database>-writer.lock` across processes (gunicorn workers, the Huey
worker, commands; waited for up to the connection's timeout, so that a stalled process
cannot hang this one). Only then does it send BEGIN IMMEDIATE, which then finds SQLite's lock
free. The lock is released after COMMIT or ROLLBACK (or when the connection is closed in
a transaction). Durability is unchanged (WAL, synchronous=FULL: an acknowledged write is
on disk); reads never take the lock (WAL readers do not block the writer).

A writer that cannot get the lock within the connection's timeout (OPTIONS["timeout"],
30 s) fails with "database is locked", as SQLite's busy handler would. Another program
writing the file without this lock (the sqlite3 shell) is still handled by SQLite's busy
timeout.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, "_FileLock"] = {}
_locks_guard = threading.Lock()


def _after_fork_in_child() -> None:
    # A forked child (without exec) shares the parent's open file description, and so its
    # flock, and may inherit a thread lock taken by a thread it does not have: it starts
    # with locks of its own.
    global _locks_guard
    _locks.clear()
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _FileLock:
    """One writer at a time for one database file: threads of this process queue on a
    threading.Lock; the one holding it then takes the flock (woken the moment another
    process releases it; failing after the connection's timeout)."""

    def __init__(self, path: str):
        self.path = path
        self.thread_lock = threading.Lock()
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self.thread_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (waited %.0f s for the writer lock)" % timeout)
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._flock(deadline, timeout)
        except BaseException:
            self.thread_lock.release()
            raise

    def _flock(self, deadline: float, timeout: float) -> None:
        """The flock within the deadline. A blocking flock(2) cannot be given a time limit,
        and a process that stalls holding it (an open shell transaction, a stopped import)
        must not hang this one's writer for ever; polling instead would wake the next
        writer late (measured: W5 0.25 -> 0.19). So, when the lock is taken, a helper
        thread waits for it blocking (woken by the kernel the moment it is free) on an open
        file description of its own, and this thread waits for the helper up to the
        deadline. Given up, the helper lets go at once whenever it gets the lock."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        got, guard, abandoned = threading.Event(), threading.Lock(), []

        def wait() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with guard:
                if abandoned:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                else:
                    got.set()

        threading.Thread(target=wait, name="fangkong-writer-flock", daemon=True).start()
        got.wait(max(0.0, deadline - time.monotonic()))
        with guard:
            if not got.is_set():
                abandoned.append(True)
                raise OperationalError("database is locked (waited %.0f s for another process's writer)" % timeout)
        old, self.fd = self.fd, fd  # this description now holds the lock; the old one held none
        os.close(old)

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()


def writer_lock(name: str) -> _FileLock:
    path = os.path.abspath(name) + "-writer.lock"
    lock = _locks.get(path)
    if lock is None:
        with _locks_guard:
            lock = _locks.setdefault(path, _FileLock(path))
    return lock


class DatabaseWrapper(base.DatabaseWrapper):
    _held: _FileLock | None = None

    def _start_transaction_under_autocommit(self):
        name = self.settings_dict["NAME"]
        if self.is_in_memory_db() or self._held is not None:
            return super()._start_transaction_under_autocommit()
        lock = writer_lock(str(name))
        lock.acquire(float(self.settings_dict.get("OPTIONS", {}).get("timeout", 30)))
        self._held = lock
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        lock, self._held = self._held, None
        if lock is not None:
            lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            if not self._sqlite_in_transaction():
                self._release()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            if not self._sqlite_in_transaction():
                self._release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release()

    def _sqlite_in_transaction(self) -> bool:
        conn = self.connection
        return conn is not None and conn.in_transaction
