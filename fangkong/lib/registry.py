"""Contracts between modules that are built separately (so no module imports another's
models to learn what it knows). Each module registers its providers in its AppConfig.ready().

Daily figures (M8): a *metric* counts something per place for one day. The daily report
asks every registered metric for its counts and adds them up the place tree itself, so a
module only says where each counted thing happened (the place path of a grid, compound or
building; or an organization for unit figures).

Person health state (M6): a *state provider* says which health flags hold for persons now.
The pass colour rules read the union of the flags of all providers; a module that does not
exist simply contributes nothing.

To-dos: a *to-do provider* says what a user must do now in its module (counts, deadlines,
where); the home page and GET /api/todos list every provider's, most urgent first.
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
    perms: tuple[str, ...] = ()
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


# --- To-dos -----------------------------------------------------------------------------
# What a person must do now (reviews due, arrivals to register, alerts to handle...): each
# module registers a provider; a role's home page and GET /api/todos list them, most
# urgent first. A provider sees only what the user's grants reach (it filters with the
# access module's scope()/has_perm) and costs about one COUNT query per kind it returns;
# it returns nothing for kinds with no work or that the user's roles do not do.

# Urgency ranks: lower is more urgent.
RANK_HEALTH = 0  # a person's health now: fever, symptoms, gate triage
RANK_DEADLINE = 20  # a link of a closed loop with a deadline (inflow, reports)
RANK_QUEUE = 40  # a queue to work through (verifications, confirmations, approvals)
RANK_ROUND = 60  # background rounds (census households not yet visited)


@dataclass(frozen=True)
class Todo:
    key: str  # "inflow.review", "observation.fever", ...: stable, the API's key
    label: object  # lazy translated text (or text already in the user's language)
    count: int
    url: str  # where the work is done
    due: dt.datetime | None = None  # the most urgent deadline among them, if they have one
    rank: int = RANK_QUEUE
    overdue: bool = False  # that deadline has passed

    def sort_key(self):
        far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
        return (not self.overdue, self.rank, self.due or far, -self.count, self.key)


TodoProvider = Callable[[object], Iterable[Todo]]  # user -> the user's to-dos
_TODO_PROVIDERS: list[TodoProvider] = []


def register_todo(fn: TodoProvider) -> TodoProvider:
    if fn not in _TODO_PROVIDERS:
        _TODO_PROVIDERS.append(fn)
    return fn


def todos(user) -> list[Todo]:
    """Every provider's to-dos for the user with work in them, most urgent first: overdue
    ones, then by rank (RANK_*), then by deadline, then the larger count."""
    out = [t for fn in _TODO_PROVIDERS for t in fn(user) if t.count > 0]
    return sorted(out, key=Todo.sort_key)


def count_todo(qs, *, key: str, label, url: str, rank: int = RANK_QUEUE, due_field: str | None = None) -> list[Todo]:
    """The to-do of the rows of `qs` (already scoped to the user): one query for their
    count and, with due_field, their earliest deadline. [] when there are none."""
    from django.db.models import Count, Min
    from django.utils import timezone

    agg = qs.order_by().aggregate(n=Count("pk"), **({"due": Min(due_field)} if due_field else {}))
    if not agg["n"]:
        return []
    due = agg.get("due")
    return [Todo(key=key, label=label, count=agg["n"], url=url, due=due, rank=rank,
                 overdue=due is not None and due < timezone.now())]


# --- A person's page --------------------------------------------------------------------
# What each module shows and offers on a person's page (residents' person_detail): the
# person's passes, measures, applications... and the actions to take for them (issue a
# pass, start an observation) without typing the ID number again. A provider sees only what
# the user's grants reach (scope()/may()) and returns None when it has nothing to show.


@dataclass(frozen=True)
class PersonItem:
    text: object  # one line: a serial, a kind, a state, dates (never an ID or phone number)
    url: str = ""  # its page, when the user may open it


@dataclass(frozen=True)
class PersonAction:
    label: object
    url: str
    post: bool = False  # a form posted to url (with the CSRF token) instead of a link
    key: str = ""  # a stable id for the page and the tests


@dataclass(frozen=True)
class PersonSection:
    key: str  # "passes", "observation", ...
    title: object
    items: tuple = ()
    actions: tuple = ()
    order: int = 50


PersonSectionProvider = Callable[[object, object], "PersonSection | None"]  # (user, person)
_PERSON_PROVIDERS: list[PersonSectionProvider] = []


def register_person_section(fn: PersonSectionProvider) -> PersonSectionProvider:
    if fn not in _PERSON_PROVIDERS:
        _PERSON_PROVIDERS.append(fn)
    return fn


def person_sections(user, person) -> list[PersonSection]:
    out = [s for fn in _PERSON_PROVIDERS if (s := fn(user, person)) is not None]
    return sorted(out, key=lambda s: (s.order, s.key))


# --- Retention --------------------------------------------------------------------------
# What the epidemic no longer needs goes: each module registers a rule that, for the records
# whose episode (an observation, a declaration, an import job...) ended long enough ago,
# clears the health details after `health_days` and unlinks the record from the person (or
# erases the identity it holds) after `link_days`. A rule never deletes or moves what the
# daily figures count (rows, days, place paths, states), so past days' figures stay as they
# were. core.retention.purge runs every rule (daily task and `fangkong purge-retention`).


@dataclass(frozen=True)
class RetentionRule:
    key: str  # "observation", "declarations", ...: stable, named in the log and the audit event
    label: object  # lazy translated text
    # run(now, *, health_days, link_days, dry_run) -> {"health": n, "unlinked": m, ...}: the
    # counts of records changed (or that would be, with dry_run); counts only, never data.
    # It commits in batches of its own (bounded memory, short transactions).
    run: Callable[..., dict[str, int]]


_RETENTION: dict[str, RetentionRule] = {}


def register_retention(rule: RetentionRule) -> RetentionRule:
    if rule.key in _RETENTION and _RETENTION[rule.key] is not rule:
        raise ValueError(f"retention rule {rule.key!r} registered twice")
    _RETENTION[rule.key] = rule
    return rule


def retention_rules() -> list[RetentionRule]:
    return sorted(_RETENTION.values(), key=lambda r: r.key)


def in_batches(ids_query: Callable[[], list[int]], apply: Callable[[list[int]], int], *, dry_run: bool = False,
               count: Callable[[], int] | None = None) -> int:
    """Run `apply(ids)` on successive batches of ids until `ids_query()` (which must return
    at most one batch of ids still to do, e.g. a sliced values_list) returns none; each
    batch in its own transaction. The number of rows changed (with dry_run: `count()`)."""
    from django.db import transaction

    if dry_run:
        return count() if count else len(ids_query())
    total = 0
    while True:
        with transaction.atomic():
            ids = list(ids_query())
            if not ids:
                return total
            total += apply(ids)


# --- Closed entrances -------------------------------------------------------------------
# A module that seals entrances (command) says which checkpoints are closed now; the gates
# refuse check-ins there with the reason (gates.actions). Without a provider nothing is closed.


@dataclass(frozen=True)
class Closure:
    code: str  # "sealed" / "emergency": a refusal reason code of the gates
    text: str  # the reason in the reader's language, e.g. "Sealed under notice 〔2020〕3号"


ClosureProvider = Callable[[int], "Closure | None"]  # a checkpoint's place id -> its closure
_CLOSURES: list[ClosureProvider] = []


def register_closure_provider(fn: ClosureProvider) -> ClosureProvider:
    """`fn` must also declare the tables (and columns) on which whether it answers None
    depends with places.access.declare_auth_tables: the gates keep an entrance's being open
    under the auth version (gates.actions.closure_of)."""
    if fn not in _CLOSURES:
        _CLOSURES.append(fn)
    return fn


def closure(place_id: int) -> Closure | None:
    """Why the entrance at place `place_id` is closed now, or None when it is open."""
    for fn in _CLOSURES:
        found = fn(place_id)
        if found is not None:
            return found
    return None


# --- Findings at a unit -----------------------------------------------------------------
# An inspection (command) that finds something wrong at a unit (an enterprise, a shop, a
# hotel) tells the modules that follow that unit; work resumption keeps it as a problem of
# the enterprise's problems log. The inspecting module says what happened to its finding
# (found, rectified, verified, reopened); each sink decides whether the unit is one of its
# own. Sinks run inside the caller's transaction: what they write commits or rolls back
# with the finding itself.

UNIT_FINDING_EVENTS = ("found", "rectified", "verified", "reopened")


@dataclass(frozen=True)
class UnitFinding:
    source: str  # "command.finding:42": stable, unique per finding (a sink stores it to act once)
    event: str  # one of UNIT_FINDING_EVENTS
    org_id: int  # the unit's organization
    place_path: str  # where it was found
    category: str = ""  # the finding's category in the reader's language
    text: str = ""  # what was found
    due: dt.date | None = None  # rectify by (found, reopened); None when fixed on the spot
    note: str = ""  # what was done (rectified) or why it is reopened
    acting_user: object = None


UnitFindingSink = Callable[[UnitFinding], None]
_FINDING_SINKS: list[UnitFindingSink] = []


def register_finding_sink(fn: UnitFindingSink) -> UnitFindingSink:
    if fn not in _FINDING_SINKS:
        _FINDING_SINKS.append(fn)
    return fn


def report_finding(finding: UnitFinding) -> None:
    """Tell every registered module what happened to a finding at a unit."""
    if finding.event not in UNIT_FINDING_EVENTS:
        raise ValueError(f"unknown finding event {finding.event!r}")
    for fn in _FINDING_SINKS:
        fn(finding)
