"""Rate limits that hold across processes and servers: counters in the shared cache
(settings.CACHES["default"]: the database cache, or Redis when configured), never in
process memory.

A counter counts events under a key within a window that opens at its first event and
lasts `window` seconds (then the count starts again from zero):

    wait = throttle.hit("api:u:42", limit=1200, window=60)   # count one; seconds to wait or None
    wait = throttle.over("signin:addr:…", limit=30, window=900)  # only look

An answer of "too many" is HTTP 429 with a Retry-After header (`too_many(request, wait)`:
a readable page, or JSON under /api/).

`budget(key, limit, window)` is the same for counters hit on every request (the API's
budget per user): each process adds its hits to the shared counter in small batches
(at most 1/50 of the limit, at most 50), so the shared counter costs one cache write per
batch instead of one per request, and may lag behind by less than a batch per process.

The client's address is REMOTE_ADDR, or, behind FANGKONG_PROXY_HOPS trusted reverse
proxies, the address that many hops from the right of X-Forwarded-For (the one the
nearest trusted proxy saw), so a client cannot choose its own address by sending the header.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import caches

CACHE = "default"
PREFIX = "throttle:"


def _cache():
    return caches[CACHE]


def client_address(request) -> str:
    hops = getattr(settings, "PROXY_HOPS", 0)
    if hops:
        chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def digest(*parts: str) -> str:
    """A short fixed-length key part for values that must not stand in a cache key as
    they are (user names may be phone numbers) or may be long (IPv6, tokens)."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12, key=settings.SECRET_KEY.encode()[:64]).hexdigest()


def _bump(key: str, window: int, delta: int = 1) -> int:
    """Add `delta` to the counter (opening its window if it has none); the new count."""
    c = _cache()
    k = PREFIX + key
    try:
        return c.incr(k, delta)
    except ValueError:
        pass
    c.set(k + ":t", time.time(), window)  # when the window opened: for Retry-After
    if c.add(k, delta, window):
        return delta
    try:
        return c.incr(k, delta)  # another process opened it meanwhile
    except ValueError:  # ... or it expired between the two: open it again
        c.set(k, delta, window)
        return delta


def _retry(started: float | None, window: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    if started is None:
        return window
    return max(1, math.ceil(started + window - now))


def counts(keys: list[str], window: int) -> dict[str, tuple[int, int]]:
    """Each key's count and the seconds until its window closes, in one cache read."""
    names = [PREFIX + k for k in keys]
    got = _cache().get_many(names + [n + ":t" for n in names])
    now = time.time()
    return {k: (int(got.get(n) or 0), _retry(got.get(n + ":t"), window, now)) for k, n in zip(keys, names)}


def count(key: str, window: int) -> int:
    """Count one event without a limit; the count in the window so far."""
    return _bump(key, window)


def hit(key: str, limit: int, window: int) -> int | None:
    """Count one event; if that makes more than `limit` in the window, the seconds until
    the window closes (the Retry-After), else None. A limit of 0 means no limit (not counted)."""
    if limit <= 0:
        return None
    n = _bump(key, window)
    if n <= limit:
        return None
    return counts([key], window)[key][1]


def over(key: str, limit: int, window: int) -> int | None:
    """Without counting: the seconds to wait if `limit` events are already counted, else None."""
    if limit <= 0:
        return None
    n, wait = counts([key], window)[key]
    return wait if n >= limit else None


def reset(*keys: str) -> None:
    names = [PREFIX + k for k in keys]
    _cache().delete_many(names + [n + ":t" for n in names])


_noted: dict[str, float] = {}  # key -> until when this process has noted it


def first_time(key: str, seconds: float) -> bool:
    """Whether this process has not noted `key` in the last `seconds` (and note it now):
    to audit the first of many refusals without a write for each (per process, in memory:
    several processes may each note it once)."""
    now = time.monotonic()
    with _lock:
        if _noted.get(key, 0.0) > now:
            return False
        if len(_noted) > 10_000:
            _noted.clear()
        _noted[key] = now + seconds
        return True


# --- Budgets hit on every request: batched per process -------------------------------------

_lock = threading.Lock()
_pending: dict[str, int] = {}  # key -> hits of this process not yet added to the shared counter
_known: dict[str, tuple[int, float]] = {}  # key -> (shared count at the last flush, when its window closes)


def budget(key: str, limit: int, window: int) -> int | None:
    """Like hit(), for a counter hit on every request (see the module doc)."""
    if limit <= 0:
        return None
    batch = max(1, min(50, limit // 50))
    if batch == 1:
        return hit(key, limit, window)
    now = time.time()
    with _lock:
        pending = _pending.get(key, 0) + 1
        flush = pending >= batch
        _pending[key] = 0 if flush else pending
        known, closes = _known.get(key, (0, 0.0))
        if closes <= now:
            known = 0
        if len(_pending) > 10_000:  # many idle keys: forget them (their hits are < a batch)
            _pending.clear()
            _known.clear()
    if flush:
        total = _bump(key, window, pending)
        if total == pending or closes <= now:
            closes = now + window if total == pending else now + counts([key], window)[key][1]
        with _lock:
            _known[key] = (total, closes)
        known, pending = total, 0
    if known + pending > limit:
        return max(1, math.ceil(closes - now))
    return None


_refused: dict[str, float] = {}  # key -> until when (time.time()) a refusal read from the shared counters holds


def remember_refusal(key: str, wait: int) -> None:
    """Keep a refusal read from the shared counters in this process until its window
    closes: counters only grow within a window, so the answer cannot change before, and
    the next attempts are refused without a cache read."""
    with _lock:
        if len(_refused) > 10_000:
            _refused.clear()
        _refused[key] = time.time() + wait


def refused_here(*keys: str) -> int | None:
    """The seconds left of a refusal this process remembers for any of `keys`, else None."""
    now = time.time()
    left = max((_refused.get(k, 0.0) - now for k in keys), default=0.0)
    return max(1, math.ceil(left)) if left > 0 else None


def forget_local() -> None:
    """Drop this process's own notes and unsent batches (tests, after clearing the cache)."""
    with _lock:
        _refused.clear()
        _noted.clear()
        _pending.clear()
        _known.clear()


# --- Bounding CPU-heavy work (password hashing) per process ---------------------------------

class Busy(Exception):
    """No slot became free in time: answer 429 with a short Retry-After."""


_slots: dict[str, list] = {}  # name -> [semaphore, threads waiting for it]


def slot_full(name: str, size: int) -> bool:
    """Whether slot(name, size, …) would refuse now (all places taken, all waits too)."""
    entry = _slots.get(name)
    return entry is not None and entry[1] >= size and entry[0]._value == 0


@contextmanager
def slot(name: str, size: int, wait: float):
    """At most `size` threads of this process inside at once, and at most `size` more
    waiting (each up to `wait` seconds) for a place; anyone else, or a waiter whose time
    is up, gets Busy at once. Password hashes (Argon2: a tenth of a second of CPU each) go
    through here, so that a burst of sign-ins cannot take every thread of the server."""
    with _lock:
        entry = _slots.get(name)
        if entry is None:
            entry = _slots[name] = [threading.BoundedSemaphore(size), 0]
        sem = entry[0]
        if not sem.acquire(blocking=False):
            if entry[1] >= size:
                raise Busy()
            entry[1] += 1
            sem = None
    if sem is None:
        try:
            got = entry[0].acquire(timeout=wait)
        finally:
            with _lock:
                entry[1] -= 1
        if not got:
            raise Busy()
    try:
        yield
    finally:
        entry[0].release()


_low: dict = {}  # the per-process pool of low-priority threads, made on first use


def at_low_priority(fn, *args):
    """fn(*args) on one of this process's threads that run at the lowest CPU priority
    (nice 19, Linux: a thread's own), waiting for its result: CPU-heavy work such as a
    password hash then yields the processors to everyone else's requests instead of
    taking them. (The caller bounds how many run at once: slot().)"""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def lower():
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: normal priority
            pass

    pool = _low.get("pool")
    if pool is None:
        with _lock:
            pool = _low.get("pool")
            if pool is None:
                pool = _low["pool"] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="low-priority", initializer=lower)
    return pool.submit(fn, *args).result()


# --- The answer ------------------------------------------------------------------------------

def too_many(request, wait: int, message: str = ""):
    """429 with Retry-After: JSON under /api/, else a readable page."""
    from django.http import JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext as _

    wait = max(1, int(wait))
    message = message or _("Too many requests. Please try again in %(s)d seconds.") % {"s": wait}
    if request.path.startswith("/api/"):
        resp = JsonResponse({"detail": message, "retry_after": wait}, status=429)
    else:
        resp = render(request, "429.html", {"message": message, "wait": wait}, status=429)
    resp["Retry-After"] = str(wait)
    resp._has_been_logged = True  # a flood of refusals is not a flood of log lines
    return resp


def per_address(request, scope: str, rate: tuple[int, int]):
    """Count one request of this client address under `scope` against `rate` (limit,
    window seconds): the 429 response to give if it is over, else None."""
    limit, window = rate
    wait = hit(f"{scope}:{digest(client_address(request))}", limit, window)
    return None if wait is None else too_many(request, wait)


def rate_limited(setting: str, *, scope: str, methods=("POST",)):
    """View decorator: the requests of one client address to this view (with these methods)
    are limited by settings.<setting>, a (limit, window seconds) pair."""
    from functools import wraps

    def deco(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method in methods:
                refused = per_address(request, scope, getattr(settings, setting))
                if refused is not None:
                    return refused
            return view(request, *args, **kwargs)

        return wrapper

    return deco
