"""The first stage's runners: a thread (Prefetch) that makes the next batch while the
writer works on the current one, or, for large files, a forked process (ProcessPrefetch).

Reading, validating and encrypting is pure Python: in a thread it shares the GIL with the
writer (which needs it for every parameter it binds). For large files the first stage
runs in a forked child process instead, on the other core, and hands its batches over a
pipe. The child never touches the database (places and employers are resolved by the
writer, as for rows the reader thread could not resolve), never outlives the import (it
is killed with its parent, even one killed by SIGKILL), and has the parent's settings,
keys and language (fork, not spawn).
"""
from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from django.utils import translation

from fangkong.lib.sheets import Table

from .rows import Batch, Lookups, Row, read_batches

PROCESS_MIN_ROWS = 50_000  # smaller files: the reader thread (a process costs more than it saves)

# A row crosses the pipe as a tuple of its slots. The rows' validated fields (`clean`),
# needed only to update a person who exists already, travel as one pickle per batch that
# the writer unpickles only if it needs them.

class _Cleans:
    __slots__ = ("blob", "items")

    def __init__(self, blob: bytes):
        self.blob, self.items = blob, None

    def get(self, i: int) -> dict:
        if self.items is None:
            self.items = pickle.loads(self.blob)
        return self.items[i]


def _encode_batch(batch: Batch) -> tuple:
    rows = batch.rows
    cleans = pickle.dumps([r.clean for r in rows], protocol=pickle.HIGHEST_PROTOCOL)
    return batch.size, batch.ends, cleans, [
        (r.row, r.errors, r.place_text, r.employer_text, r.tenure, r.tenure_error, r.address, r.address_error,
         r.bidx, r.phone_bidx, r.values)
        for r in rows
    ]


def _decode_batch(payload: tuple) -> Batch:
    size, ends, blob, wire = payload
    cleans = _Cleans(blob)
    rows = []
    for i, t in enumerate(wire):
        r = Row()
        (r.row, r.errors, r.place_text, r.employer_text, r.tenure, r.tenure_error, r.address, r.address_error,
         r.bidx, r.phone_bidx, r.values) = t
        r.clean, r.resolved = (cleans, i), None
        rows.append(r)
    return Batch(rows, size, ends)


def _die_with_parent(parent: int) -> None:
    """The reading process ends when the importer ends, however it ends (SIGKILL, a worker
    killed by its supervisor): on Linux the kernel kills it (PR_SET_PDEATHSIG), elsewhere a
    thread of its own watches for the parent to change."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        def watch():
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="fangkong-import-reader-watch", daemon=True).start()


_PR_SET_PDEATHSIG = 1


def _reader_child(items: Callable[[], Iterator[Batch]], conn, language, parent: int | None = None) -> None:
    if parent is not None:
        _die_with_parent(parent)
    # What the child inherited stays as it is: the garbage collector no longer walks it
    # (nor copies its pages by touching them), only the rows this process makes.
    gc.freeze()
    try:
        with translation.override(language):
            for batch in items():
                conn.send(("batch", _encode_batch(batch)))
        conn.send(("end", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the writer stopped: nothing to tell
    except BaseException as exc:  # handed to the writer, which raises it
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {str(exc)[:500]}")))
    finally:
        conn.close()


READER_STALL_SECONDS = 600.0
TICK_SECONDS = 0.5  # while waiting for a batch, the writer reports the rows read this often


class ProcessPrefetch:
    """Prefetch's interface over a forked child process that makes the batches. The pipe
    holds little, so the child is at most about one batch ahead of the writer. pause() and
    resume() have nothing to do: the processes share no GIL."""

    def __init__(self, items: Callable[[], Iterator[Batch]], tick: Callable[[], None] | None = None):
        self._tick = tick
        ctx = multiprocessing.get_context("fork")
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_reader_child, args=(items, child_conn, translation.get_language(), os.getpid()),
                                 name="fangkong-import-reader", daemon=True)
        try:
            self._proc.start()
        except BaseException:
            self._conn.close()
            raise
        finally:
            child_conn.close()

    def __iter__(self):
        while True:
            # A batch takes well under a second; a child that sends nothing for minutes is
            # stuck (a fork of a threaded process can inherit a lock that nobody will free):
            # the import stops with an error, and a resume starts a new reader.
            if not self._wait():
                raise RuntimeError("the import's reading process stopped answering") from None
            try:
                kind, payload = self._conn.recv()
            except EOFError:
                raise RuntimeError("the import's reading process ended unexpectedly") from None
            if kind == "end":
                return
            if kind == "error":
                raise payload
            yield _decode_batch(payload)

    def _wait(self) -> bool:
        """Whether a message came within READER_STALL_SECONDS; tick() meanwhile, every TICK_SECONDS."""
        if self._tick is None:
            return self._conn.poll(READER_STALL_SECONDS)
        deadline = time.monotonic() + READER_STALL_SECONDS
        while not self._conn.poll(max(min(TICK_SECONDS, deadline - time.monotonic()), 0)):
            if time.monotonic() >= deadline:
                return False
            self._tick()
        return True

    def pause(self):
        pass

    def resume(self):
        pass

    def close(self):
        self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._proc.close()


class _Counter:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def start_reader(source: Table, skip: int, lookups: Lookups, batch_size: int, rows_left: int,
                 on_read: Callable[[int], None] | None = None):
    """The first stage's runner: a child process for large files (where fork exists), else a
    thread. While the writer waits for a batch, on_read(rows read so far, after `skip`)
    is called every TICK_SECONDS: the job's progress moves as rows are read."""
    # A daemonic process (e.g. a multiprocessing worker pool's) may not start children.
    if rows_left >= PROCESS_MIN_ROWS and hasattr(os, "fork") and not multiprocessing.current_process().daemon:
        counter = multiprocessing.get_context("fork").Value("q", 0, lock=False)  # shared memory, set by the child
        tick = (lambda: on_read(counter.value)) if on_read else None
        try:
            return ProcessPrefetch(lambda: read_batches(source, skip, lookups, batch_size, None, counter), tick)
        except OSError:  # no process to be had (limits): the thread does the same work
            pass
    counter = _Counter()
    tick = (lambda: on_read(counter.value)) if on_read else None
    return Prefetch(lambda gate: read_batches(source, skip, lookups, batch_size, gate, counter), tick)


class Prefetch:
    """Runs an iterator in a background thread, in the consumer's language, making the next
    item while the consumer works on the current one (so two items exist at most).
    Exceptions reach the consumer after the items made before them. items(gate) makes the
    iterator; it calls gate() often, which waits while paused."""

    _EMPTY, _END = object(), object()

    class _Closed(Exception):
        pass

    def __init__(self, items: Callable[[Callable[[], None]], Iterator], tick: Callable[[], None] | None = None):
        self._tick = tick
        self._cond = threading.Condition()
        self._slot = self._EMPTY
        self._closed = False
        self._go = threading.Event()
        self._go.set()
        self._thread = threading.Thread(target=self._run, args=(items, translation.get_language()),
                                        name="fangkong-import-reader", daemon=True)
        self._thread.start()

    def _gate(self) -> None:
        self._go.wait()
        if self._closed:
            raise self._Closed

    def _hand_over(self, item) -> bool:
        """Puts the item in the slot and waits until the consumer has taken it."""
        with self._cond:
            self._slot = item
            self._cond.notify_all()
            while self._slot is not self._EMPTY and not self._closed:
                self._cond.wait()
            return not self._closed

    def _run(self, items, language):
        try:
            with translation.override(language):
                it = items(self._gate)
                try:
                    for item in it:
                        if not self._hand_over(item):
                            return
                finally:
                    it.close()
            self._hand_over(self._END)
        except self._Closed:
            pass
        except BaseException as exc:  # handed to the consumer
            self._hand_over(exc)

    def __iter__(self):
        while True:
            with self._cond:
                while self._slot is self._EMPTY:
                    if self._tick is None:
                        self._cond.wait()
                    elif not self._cond.wait(TICK_SECONDS):
                        self._cond.release()  # the reader goes on while the progress is written
                        try:
                            self._tick()
                        finally:
                            self._cond.acquire()
                item, self._slot = self._slot, self._EMPTY
                self._cond.notify_all()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def pause(self):
        self._go.clear()

    def resume(self):
        self._go.set()

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._go.set()
        self._thread.join()
