"""Contracts between modules that are built separately (so no module imports another's
models to learn what it knows). Each module registers its providers in its AppConfig.ready().

Daily figures (M8): a *metric* counts something per place for one day. The daily report
asks every registered metric for its counts and adds them up the place tree itself, so a
module only says where each counted thing happened (the place path of a grid, compound or
building; or an organization for unit figures).

Person health state (M6): a *state provider* says which health flags hold for persons now.
The pass colour rules read the union of the flags of all providers; a module that does not
exist simply contributes nothing.
"""
from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

# --- Daily figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str  # "inflow.arrived", "observation.active", ...: unique, stable (stored in closed days)
    label: str  # lazy translated text for the report's header
    section: str  # lazy translated group heading (its module)
    # (day, user-independent) -> iterable of (place path, count) for that local calendar day;
    # several entries with one path are added. Counts must be additive over places.
    counts: Callable[[dt.date], Iterable[tuple[str, int]]]
    order: int = 100
    # "day": things that happened on the day (adds up over days); "state": how many at the
    # end of the day (a stock, not added over days).
    kind: str = "day"
    # by_org: optional (day) -> iterable of (organization id, count) for unit figures.
    by_org: Callable[[dt.date], Iterable[tuple[int, int]]] | None = None


_METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    if metric.key in _METRICS and _METRICS[metric.key] is not metric:
        raise ValueError(f"metric {metric.key!r} registered twice")
    if metric.kind not in ("day", "state"):
        raise ValueError(f"metric {metric.key!r}: kind must be 'day' or 'state'")
    _METRICS[metric.key] = metric
    return metric


def metrics() -> list[Metric]:
    return sorted(_METRICS.values(), key=lambda m: (m.order, m.key))


# One read of the figures (reports.figures) asks every metric in turn. Metrics of one module
# that count the same rows may share one query within that read: `shared(key, fn)` runs
# fn once per key inside `one_read()` (and every time outside it, so nothing is ever kept
# between reads).
_READ: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fangkong_metric_read", default=None)


@contextmanager
def one_read():
    token = _READ.set({}) if _READ.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _READ.reset(token)


def shared(key, fn: Callable[[], object]):
    memo = _READ.get()
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


# --- Person health state ----------------------------------------------------------------

# The flags a provider may report. Pass colour rules (passes app) decide what they mean.
OBSERVATION = "observation"  # under home or centralized medical observation now
CENTRAL_OBSERVATION = "central_observation"  # under centralized observation (with OBSERVATION)
HEALTH_MONITORING = "health_monitoring"  # under health monitoring (lighter measure) now
FEVER = "fever"  # an open fever / symptom alert (observation report, gate triage, clinic)
HOSPITAL = "hospital"  # transferred to hospital, not yet back
RELEASED = "released"  # released from observation in the last 14 days
FLAGS = frozenset({OBSERVATION, CENTRAL_OBSERVATION, HEALTH_MONITORING, FEVER, HOSPITAL, RELEASED})

StateProvider = Callable[[list[int]], dict[int, set[str]]]  # person ids -> {person id: flags}
_PROVIDERS: list[StateProvider] = []


def register_state_provider(fn: StateProvider) -> StateProvider:
    if fn not in _PROVIDERS:
        _PROVIDERS.append(fn)
    return fn


def health_flags(person_ids: list[int]) -> dict[int, set[str]]:
    """Union of every provider's flags for these persons (missing id = no flags)."""
    out: dict[int, set[str]] = {pid: set() for pid in person_ids}
    for fn in _PROVIDERS:
        for pid, flags in fn(list(person_ids)).items():
            unknown = set(flags) - FLAGS
            if unknown:
                raise ValueError(f"{fn.__qualname__} reported unknown health flags {sorted(unknown)}")
            out.setdefault(pid, set()).update(flags)
    return out


# --- Alerts -----------------------------------------------------------------------------
# A module that detects something urgent (fever at a gate, a missed temperature window)
# calls raise_alert(); the notification module registers a sink that turns it into inbox
# messages, e-mail and webhooks for the people responsible for that place. Without a sink
# the caller's own record (triage record, alert row) is still what staff see on its board.


@dataclass(frozen=True)
class Alert:
    kind: str  # "gate.fever", "observation.fever", "observation.missed", ...
    place_path: str  # where: the person's grid/compound/building path
    text: str  # short, already masked (no raw ID or phone)
    person_id: int | None = None
    # Who must hear of it: the holders of these permissions over the place (the access
    # module decides who they are; a module never names roles here).
    perms: tuple[str, ...] = ("observation.alerted",)
    obj_type: str = ""  # "app_label.model" of the record behind the alert
    obj_id: int | None = None
    # Who else must hear of it: holders of `perms` through a grant on this organization
    # (a unit's liaison, whose grant is on the unit, not on a place).
    org_id: int | None = None
    # Tells apart alerts of one kind about one record (e.g. the link that is overdue):
    # sinks say each (kind, record, key) once.
    key: str = ""


AlertSink = Callable[[Alert], None]
_SINKS: list[AlertSink] = []


def register_alert_sink(fn: AlertSink) -> AlertSink:
    if fn not in _SINKS:
        _SINKS.append(fn)
    return fn


def raise_alert(alert: Alert) -> None:
    for fn in _SINKS:
        fn(alert)
