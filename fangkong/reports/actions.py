"""Writes of the daily report as named actions (keyword-only, acting_user, one transaction,
an audit event). Views, API, the `close_day` command and the periodic tasks call only these.

Entered figures: each station/unit (an Organization) files one Submission per day, through
the user whose `reports.enter` grant covers it (the unit liaison granted on that
organization). TRANSITIONS is its state machine:

    draft ──confirm──▶ confirmed ──reopen──▶ reopened ──confirm──▶ confirmed ...

Values are entered while draft or reopened; a confirmed submission is locked. Reopening is
the coordinator's (reports.manage), and only while the day is open. After the day is closed
the values are corrected by a coordinator with a reason (`correct`): the closed day keeps
what it had, the correction shows beside it.

A day D is due to be closed at settings.REPORT_CLOSE on D + 1 (local time); the entered
figures are due at settings.REPORT_DEADLINE on D.
"""
from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition, int_or_none  # noqa: F401
from fangkong.places.models import Organization

from . import figures
from .models import ClosedDay, Correction, FigureDefinition, Submission

S = Submission.State
MAX_VALUE = 10**9

TRANSITIONS: dict[str, Transition] = {
    "confirm": Transition("reports.enter", (S.DRAFT, S.REOPENED), S.CONFIRMED, gettext_lazy("Confirm the figures")),
    "reopen": Transition("reports.manage", (S.CONFIRMED,), S.REOPENED, gettext_lazy("Reopen")),
}
EDITABLE = (S.DRAFT, S.REOPENED)


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def local_at(day: dt.date, at: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, at))


def deadline(day: dt.date) -> dt.datetime:
    """When the entered figures of `day` are due."""
    return local_at(day, settings.REPORT_DEADLINE)


def close_time(day: dt.date) -> dt.datetime:
    """When `day` is closed: the close time on the next day."""
    return local_at(day + dt.timedelta(days=1), settings.REPORT_CLOSE)


def is_closed(day: dt.date) -> bool:
    return ClosedDay.objects.filter(day=day).exists()


_DAY_LOCK_SPACE = 0x464B5244  # "FKRD": the advisory-lock key space of report days


def _lock_day(day: dt.date) -> None:
    """Serialize, until the transaction ends, the writes that depend on whether `day` is
    closed: entering, confirming or reopening its figures, and closing it. Without it a
    unit's entry committed while the day closes could be stored yet missing from the kept
    report. SQLite already runs one write transaction at a time (BEGIN IMMEDIATE); on
    PostgreSQL a transaction-level advisory lock on the day."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_DAY_LOCK_SPACE, day.toordinal()])


def definitions_for(org: Organization, active_only: bool = True) -> list[FigureDefinition]:
    qs = FigureDefinition.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    return [d for d in qs if org.kind in d.kinds]


def parse_day(raw, *, field: str = "day") -> dt.date:
    """A day from a form or query (YYYY-MM-DD), else Invalid naming the field."""
    if isinstance(raw, dt.date):
        return raw
    text = str(raw or "").strip()
    try:
        if not (text.isascii() and len(text) == 10):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid({field: _("Enter a date like 2020-03-18")}) from None
    if not figures.EARLIEST <= day <= timezone.localdate() + dt.timedelta(days=1):
        # Far dates overflow the day's time range (9999-12-31 + 1 day) and hold no figures.
        raise Invalid({field: _("Choose a day from 2000-01-01 to tomorrow")})
    return day


# --- Figure definitions -------------------------------------------------------------------

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@transaction.atomic
def create_definition(*, acting_user, key: str, label: str, unit: str = "", org_kinds, order: int | None = None
                      ) -> FigureDefinition:
    """A figure that stations/units enter every day, e.g. masks on hand (个)."""
    key = str(key or "").strip()
    label = str(label or "").strip()
    unit = str(unit or "").strip()
    if isinstance(org_kinds, str):
        org_kinds = [k for k in re.split(r"[,，\s]+", org_kinds) if k]
    kinds = list(dict.fromkeys(str(k).strip() for k in (org_kinds or []) if str(k).strip()))
    errors = {}
    if not KEY_RE.match(key):
        errors["key"] = _("Use lower-case letters, digits and _ (starting with a letter, at most 40)")
    elif FigureDefinition.objects.filter(key=key).exists():
        errors["key"] = _("This key is already used")
    if not label or len(label) > 60:
        errors["label"] = _("Enter a label (at most 60 characters)")
    if len(unit) > 10:
        errors["unit"] = _("At most 10 characters")
    if not kinds or any(k not in Organization.Kind.values for k in kinds):
        errors["org_kinds"] = _("Choose which kinds of stations and units report it")
    if order is not None and (not isinstance(order, int) or not 0 <= order <= 32767):
        errors["order"] = _("Enter a whole number from 0 to 32767")
    if errors:
        raise Invalid(errors)
    try:
        with transaction.atomic():  # a concurrent definition of the same key got there first
            d = FigureDefinition.objects.create(key=key, label=label, unit=unit, org_kinds=",".join(kinds),
                                                order=100 if order is None else order)
    except IntegrityError:
        raise Invalid({"key": _("This key is already used")}) from None
    record(acting_user, "reports.figure.create", obj=d, detail={"key": key, "kinds": kinds})
    return d


@transaction.atomic
def set_definition_active(*, acting_user, definition: FigureDefinition, active: bool) -> FigureDefinition:
    FigureDefinition.objects.filter(pk=definition.pk).update(active=bool(active))
    definition.refresh_from_db()
    record(acting_user, "reports.figure.active", obj=definition, detail={"key": definition.key, "active": bool(active)})
    return definition


# --- Entered figures ------------------------------------------------------------------------

def clean_values(org: Organization, raw: dict, *, prefix: str = "values.") -> dict[str, int]:
    """{figure key: int ≥ 0} for the organization's figures; Invalid names each bad field."""
    defs = {d.key: d for d in definitions_for(org)}
    errors, out = {}, {}
    if not isinstance(raw, dict):
        raise Invalid({"values": _("Give the figures as key: number")})
    for key, value in raw.items():
        key = str(key)
        if key not in defs:
            errors[f"{prefix}{key}"] = _("This unit does not report this figure")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # left empty: not entered yet
        if isinstance(value, bool):
            n = None
        elif isinstance(value, int):
            n = value if 0 <= value <= MAX_VALUE else None
        elif isinstance(value, float):
            n = int(value) if value.is_integer() and 0 <= value <= MAX_VALUE else None
        else:
            n = int_or_none(value, maximum=MAX_VALUE)
        if n is None:
            errors[f"{prefix}{key}"] = _("%(label)s: enter a whole number, 0 or more") % {"label": defs[key].label}
            continue
        out[key] = n
    if errors:
        raise Invalid(errors)
    return out


def _locked_submission(org: Organization, day: dt.date) -> Submission:
    """The organization's submission of the day, created if missing, locked for this transaction."""
    sub = Submission.objects.select_for_update().filter(organization=org, day=day).first()
    if sub is None:
        try:
            with transaction.atomic():
                Submission.objects.create(organization=org, day=day, place_path=org.place_path)
        except IntegrityError:
            pass  # a concurrent first entry created it
        sub = Submission.objects.select_for_update().get(organization=org, day=day)
    return sub


@transaction.atomic
def enter_values(*, acting_user, organization: Organization, day: dt.date, values: dict) -> Submission:
    """Store (some of) the unit's figures for the day. Refused (409) once confirmed or once
    the day is closed; a bad value refuses the whole entry (nothing stored)."""
    today = timezone.localdate()
    if day > today:
        raise Invalid({"day": _("Figures are entered for today or an earlier day")})
    clean = clean_values(organization, values)
    _lock_day(day)
    sub = _locked_submission(organization, day)
    if is_closed(day):
        raise Conflict(_("The day is closed; a coordinator corrects its figures."))
    if sub.state not in EDITABLE:
        raise Conflict(_("The figures are confirmed and locked; a coordinator can reopen them."))
    merged = {**sub.values, **clean}
    Submission.objects.filter(pk=sub.pk).update(values=merged, version=F("version") + 1, updated_by=_user(acting_user),
                                                updated_at=timezone.now())
    sub.refresh_from_db()
    record(acting_user, "reports.enter", obj=sub, detail={"day": day.isoformat(), "org": organization.pk,
                                                         "figures": sorted(clean)})
    return sub


@transaction.atomic
def transition(*, acting_user, submission: Submission, action: str) -> Submission:
    """confirm (all the unit's figures entered) or reopen (coordinator, day still open)."""
    t = TRANSITIONS[action]
    _lock_day(submission.day)  # a submission's day never changes

    def check(sub):
        if is_closed(sub.day):
            raise Conflict(_("The day is closed; a coordinator corrects its figures."))
        if action != "confirm":
            return None
        missing = [d for d in definitions_for(sub.organization) if d.key not in sub.values]
        if missing:
            raise Invalid({f"values.{d.key}": _("%(label)s: enter a figure before confirming") % {"label": d.label}
                           for d in missing})
        return {"confirmed_at": timezone.now(), "confirmed_by": _user(acting_user)}

    sub = apply_transition(Submission.objects.select_related("organization"), submission, t, check=check,
                           refused=gettext_lazy("Not possible: the figures are %(state)s."))
    record(acting_user, f"reports.{action}", obj=sub, detail={"day": sub.day.isoformat(), "org": sub.organization_id})
    return sub


@transaction.atomic
def correct(*, acting_user, submission: Submission, figure: str, value, reason: str) -> Correction:
    """After closing: the coordinator corrects one entered figure, with a reason. The closed
    day keeps its figure; the correction (old → new, who, when, why) shows beside it."""
    sub = Submission.objects.select_for_update().select_related("organization").get(pk=submission.pk)
    closed = ClosedDay.objects.filter(day=sub.day).first()
    if closed is None:
        raise Conflict(_("The day is still open: reopen the figures instead of correcting them."))
    reason = str(reason or "").strip()
    figure = str(figure or "")
    errors = {}
    if not reason or len(reason) > 200:
        errors["reason"] = _("Say why (at most 200 characters)")
    if figure not in {d.key for d in definitions_for(sub.organization)}:
        errors["figure"] = _("Choose one of the unit's figures")
    else:
        try:
            clean = clean_values(sub.organization, {figure: value}, prefix="")
        except Invalid:
            clean = {}
        if figure not in clean:
            errors["value"] = _("Enter a whole number, 0 or more")
    if errors:
        raise Invalid(errors)
    new = clean[figure]
    old = sub.values.get(figure)
    c = Correction.objects.create(closed_day=closed, submission=sub, place_path=sub.place_path, figure=figure, old=old,
                                  new=new, reason=reason, corrected_by=_user(acting_user))
    Submission.objects.filter(pk=sub.pk).update(values={**sub.values, figure: new}, version=F("version") + 1)
    record(acting_user, "reports.correct", obj=sub, detail={"day": sub.day.isoformat(), "figure": figure, "old": old,
                                                           "new": new})
    return c


# --- Closing --------------------------------------------------------------------------------

def _entered(day: dt.date) -> dict:
    return {
        str(s.organization_id): {"state": s.state, "values": dict(s.values),
                                 "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None}
        for s in Submission.objects.filter(day=day)
    }


def snapshot(day: dt.date, *, entered: bool = True) -> dict:
    """Everything the report of `day` shows, as it is now (entered=False: without the
    stations' and units' entered figures, which close_day reads under the day's lock)."""
    return {
        "metrics": {k: [[p, n] for p, n in v] for k, v in figures.live_counts(day).items()},
        "by_org": {k: [[o, n] for o, n in v] for k, v in figures.live_by_org(day).items()},
        "entered": _entered(day) if entered else {},
        "figures": list(FigureDefinition.objects.filter(active=True).values_list("key", flat=True)),
    }


def close_day(*, acting_user, day: dt.date, force_early: bool = False) -> ClosedDay:
    """Keep the report of `day` as it is now. A day closes once it is over (the operator may
    close it early with force_early: the command's --now); closing twice is a 409."""
    now = timezone.now()
    if day >= timezone.localdate(now) and not force_early:
        raise Conflict(_("A day is closed once it is over."))
    snap = snapshot(day, entered=False)  # the metric reads, outside the write transaction
    try:
        with transaction.atomic():
            # The entered figures under the day's lock: every entry or confirmation either
            # committed before (and is kept) or waits and then finds the day closed (409).
            _lock_day(day)
            snap["entered"] = _entered(day)
            closed = ClosedDay.objects.create(day=day, closed_at=now, closed_by=_user(acting_user), snapshot=snap)
            record(acting_user, "reports.close", obj=closed,
                   detail={"day": day.isoformat(), "metrics": len(snap["metrics"]), "units": len(snap["entered"])})
    except IntegrityError:
        raise Conflict(_("The day %(day)s is already closed.") % {"day": day.isoformat()}) from None
    return closed


def close_due_days(*, now: dt.datetime | None = None, lookback: int = 7) -> list[dt.date]:
    """The periodic task: close every day of the last `lookback` days whose close time has
    passed and which is not closed yet."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    done = []
    for back in range(lookback, 0, -1):
        day = today - dt.timedelta(days=back)
        if close_time(day) <= now and not is_closed(day):
            try:
                close_day(acting_user=None, day=day)
            except Conflict:
                continue  # closed by a concurrent run
            done.append(day)
    return done


# --- Who is late ------------------------------------------------------------------------------

def required_orgs(qs=None):
    """The organizations that must report (their kind reports at least one active figure)."""
    kinds = set()
    for d in FigureDefinition.objects.filter(active=True):
        kinds.update(d.kinds)
    qs = Organization.objects.all() if qs is None else qs
    return qs.filter(kind__in=sorted(kinds)).order_by("place_path", "name")


def late(day: dt.date, orgs_qs=None, now: dt.datetime | None = None) -> list[dict]:
    """Units not confirmed by the deadline: [{org, submission, state}] where state is
    "missing" (nothing entered), "draft"/"reopened" (not confirmed) or "late" (confirmed
    after the deadline). Empty before the deadline has passed."""
    now = now or timezone.now()
    due = deadline(day)
    if now < due:
        return []
    orgs = list(required_orgs(orgs_qs))
    subs = {s.organization_id: s for s in Submission.objects.filter(day=day, organization__in=[o.pk for o in orgs])}
    out = []
    for org in orgs:
        sub = subs.get(org.pk)
        if sub is None:
            out.append({"org": org, "submission": None, "state": "missing"})
        elif sub.state != S.CONFIRMED:
            out.append({"org": org, "submission": sub, "state": sub.state})
        elif sub.confirmed_at and sub.confirmed_at > due:
            out.append({"org": org, "submission": sub, "state": "late"})
    return out


def notify_late(*, day: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """The periodic task: after the deadline, a message to the inbox of each unit that has
    not confirmed (its liaisons), once per unit and day. Returns the messages sent now."""
    from fangkong.notify.actions import notify
    from fangkong.places.access import holders
    from fangkong.notify.models import Message

    now = now or timezone.now()
    day = day or timezone.localdate(now)
    if is_closed(day):
        return 0
    sent = 0
    for row in late(day, now=now):
        if row["state"] == "late":
            continue  # confirmed, if after the deadline
        org = row["org"]
        users = list(holders("reports.enter", org_id=org.pk).values_list("pk", flat=True))  # the unit's own liaisons
        key = f"reports.late:{org.pk}:{day.isoformat()}"
        if Message.objects.filter(dedupe_key=key).exists():
            continue  # told already
        notify(kind="reports.late", title=_("Daily figures not confirmed: %(org)s") % {"org": org.name},
               body=_("The figures of %(org)s for %(day)s were due at %(at)s. Enter and confirm them.") % {
                   "org": org.name, "day": day.isoformat(), "at": settings.REPORT_DEADLINE.strftime("%H:%M")},
               place_path=org.place_path, users=users, link=f"/reports/entry/?day={day.isoformat()}",
               dedupe_key=key, acting_user=None)
        sent += 1
    return sent
