"""The read replica: reports, dashboards and exports read from a PostgreSQL streaming
replica of the primary when one is configured (settings.REPLICA_URL) and healthy.

Design (DESIGN.md §3, scale plan):

- **The primary by default.** The router (ReplicaRouter, settings.DATABASE_ROUTERS) sends
  a read to the replica only inside `reads_from_replica()`: a context manager, and a view
  decorator, applied by hand to the read-only paths that can bear data a few seconds old —
  the daily report's page, its JSON and its exports, the dashboard's pages and JSON, and
  the modules' export views. Everything else (every page a user acts on, every check
  before a write, the gates, imports, workers, commands) reads the primary, as does any
  read inside a transaction on the primary (it may need its own writes), and the
  database cache's table (the shared cache must not go back in time).
- **Writes always go to the primary**, also when the row was read from the replica
  (db_for_write names the primary: Django would otherwise save an instance to the
  database it was read from).
- **A user reads their own writes.** A signed-in user's request that may have written (any
  method but GET/HEAD/OPTIONS/TRACE; ReplicaStickyMiddleware) records the time in the
  shared cache (Redis or the database cache: every app server sees it), keyed by the
  user's id; for REPLICA_STICKY_SECONDS after it, that user's marked reads go to the
  primary. The method, not a post_save signal: signals miss bulk inserts and updates and
  raw SQL (the gates' multi-row inserts, imports) and do not know the user; a request
  that was refused or changed nothing only costs its user a few seconds of primary reads.
  Writes made for a user later by a worker (an import finishing) are not covered: the
  report pages they change are read-only summaries that can lag by the threshold anyway.
- **A replica that lags or is down is not used.** Its lag is measured from the replica
  itself: 0 when it has replayed everything the primary had written when checked
  (`pg_last_wal_replay_lsn()` ≥ the primary's `pg_current_wal_lsn()`, read first), else
  `now() - pg_last_xact_replay_timestamp()` — the age of the last transaction it replayed.
  The LSN comparison is what keeps an idle primary (no new transaction for minutes, so an
  old replay timestamp) from looking like a lagging replica; when the replica is behind
  after an idle spell the age over-states its lag, which only sends reads to the primary
  until it has caught up (milliseconds later). More than REPLICA_MAX_LAG_SECONDS behind,
  not in recovery (promoted: it no longer follows this primary), or any error reaching it
  (down, refusing connections; connect_timeout 2 s): the primary serves. The result is
  kept per process for REPLICA_HEALTH_SECONDS, so the check costs two small queries a
  second per process, not one per request.
- **What stays possible.** A replica that fails between the health check and a read fails
  that request (once: the next check sees it). Inside a marked view the scope filters
  (which places a user sees) read the replica and can be up to the lag threshold old; the
  access decision at the door (`requires`) runs before the marked block, on the primary.
  An object another user created less than the lag ago may pass that check and still be
  missing from the replica (a 404 for those few seconds; its creator reads the primary).
  A past day's dashboard figures cached in the shared cache may have been read from the
  replica: they are already allowed to be minutes old (dashboard.queries).
"""
from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import FileResponse, StreamingHttpResponse

log = logging.getLogger("fangkong.replica")

REPLICA = "replica"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_use_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("fangkong_replica_reads", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


# --- Routing --------------------------------------------------------------------------------

class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not _use_replica.get():
            return DEFAULT_DB_ALIAS
        if model._meta.app_label == "django_cache":  # the shared cache: never an older copy
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:  # may read its own writes
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows, whichever copy they were read from

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None


# --- A user's own writes ----------------------------------------------------------------------

def _wrote_key(user_id) -> str:
    return f"replica:wrote:{user_id}"


def mark_wrote(user) -> None:
    """The user has (maybe) just written: their marked reads use the primary for a while."""
    sticky = settings.REPLICA_STICKY_SECONDS
    if sticky > 0:
        cache.set(_wrote_key(user.pk), time.time(), sticky + 1)


def wrote_recently(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    sticky = settings.REPLICA_STICKY_SECONDS
    if sticky <= 0:
        return False
    at = cache.get(_wrote_key(user.pk))
    return at is not None and time.time() - at < sticky


class ReplicaStickyMiddleware:
    """Installed (after AuthenticationMiddleware) only when a replica is configured."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in _SAFE_METHODS:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                mark_wrote(user)
        return response


# --- Health -------------------------------------------------------------------------------------

_health_lock = threading.Lock()
_health: dict = {"at": None, "ok": False, "lag": None}


def measure_lag() -> float | None:
    """Seconds the replica is behind the primary; None when it cannot be used (down, a
    database error, or not a replica any more)."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            primary_lsn = cur.fetchone()[0]
        with connections[REPLICA].cursor() as cur:
            cur.execute(
                "SELECT pg_is_in_recovery(),"
                " pg_last_wal_replay_lsn() >= %s::pg_lsn,"
                " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8",
                [primary_lsn])
            recovering, caught_up, age = cur.fetchone()
    except Exception as exc:  # down, refusing, misconfigured, or not allowed here (a test's blocker): the primary
        log.warning("replica unusable: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        try:
            connections[REPLICA].close()  # the next check connects afresh
        except Exception:
            pass
        return None
    if not recovering:
        log.warning("replica unusable: it is not in recovery (promoted?)")
        return None
    if caught_up:
        return 0.0
    return age if age is not None else float("inf")


def healthy() -> bool:
    """The replica is up and at most REPLICA_MAX_LAG_SECONDS behind (checked at most every
    REPLICA_HEALTH_SECONDS per process)."""
    now = time.monotonic()
    at = _health["at"]
    if at is not None and now - at < settings.REPLICA_HEALTH_SECONDS:
        return _health["ok"]
    with _health_lock:
        at = _health["at"]
        if at is not None and now - at < settings.REPLICA_HEALTH_SECONDS:
            return _health["ok"]
        lag = measure_lag()
        ok = lag is not None and lag <= settings.REPLICA_MAX_LAG_SECONDS
        if not ok and _health["ok"] and lag is not None:
            log.warning("replica %.1f s behind: reads go to the primary", lag)
        _health.update(at=time.monotonic(), ok=ok, lag=lag)
        return ok


def forget_health() -> None:
    _health.update(at=None, ok=False, lag=None)


def replica_usable(user=None) -> bool:
    return configured() and not wrote_recently(user) and healthy()


# --- Marking read paths -------------------------------------------------------------------------

@contextmanager
def replica_reads(user=None):
    """Reads of models inside the block go to the replica when it is configured, healthy
    and `user` has not written in the last REPLICA_STICKY_SECONDS; else to the primary."""
    token = _use_replica.set(replica_usable(user))
    try:
        yield
    finally:
        _use_replica.reset(token)


def _in_context(iterator, on: bool):
    token = _use_replica.set(on)
    try:
        yield from iterator
    finally:
        _use_replica.reset(token)


def reads_from_replica(view):
    """A view (a Django view or a django-ninja operation: the request first) whose reads go
    to the replica as replica_reads(request.user) decides. A streamed response's rows are
    read while it is sent, after the view returned: they are read under the same decision."""
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not configured():
            return view(request, *args, **kwargs)
        on = replica_usable(getattr(request, "user", None))
        token = _use_replica.set(on)
        try:
            response = view(request, *args, **kwargs)
        finally:
            _use_replica.reset(token)
        if on and isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):
            response.streaming_content = _in_context(iter(response.streaming_content), on)
        return response

    return wrapped


def serving_from_replica() -> bool:
    """Whether reads of models here would go to the replica."""
    return _use_replica.get()
