"""Observation writes as named actions. Views, API, the inflow arrival and tasks call only these.

TRANSITIONS is the state machine of an observation: an action is allowed only from its
listed states; any other call raises Conflict (409) with the reason and changes nothing.
Each transition locks the row and updates it conditionally on (state, version), so of two
concurrent calls exactly one wins.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Conflict etc. for callers)
from fangkong.lib import registry
from fangkong.lib.health import body_temperature
from fangkong.lib.db import fastsql, group_commit

from .models import SYMPTOM_KEYS, Alert, Event, Observation, Report, Room, SupplyRequest

S = Observation.State
MAX_DAYS = 60
# What a report reads of its observation (under lock): the state machine's fields and what
# the audit event and an alert need.
LOCKED_FIELDS = ("person", "kind", "state", "version", "start_date", "planned_end", "place_path")





TRANSITIONS: dict[str, Transition] = {
    "extend": Transition("observation.manage", (S.ACTIVE,), S.ACTIVE, gettext_lazy("Extend")),
    "transfer": Transition("observation.manage", (S.ACTIVE,), S.HOSPITAL, gettext_lazy("Transfer to hospital")),
    "resume": Transition("observation.manage", (S.HOSPITAL,), S.ACTIVE, gettext_lazy("Back from hospital")),
    "release": Transition("observation.release", (S.ACTIVE,), S.RELEASED, gettext_lazy("Release")),
}


def _name(user) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""


def _event(obs: Observation, action: str, user, note: str = "", at=None) -> None:
    Event.objects.create(observation=obs, action=action, actor_name=_name(user), at=at or timezone.now(), note=str(note)[:300])


def _form_key(obs: Observation, client_key: str) -> str:
    """The stored key of a form or device report: the observation and the sender's own key,
    hashed (any length in, 64 characters stored; one observation's keys never meet another's)."""
    import hashlib

    return hashlib.sha256(f"{obs.pk}:{client_key}".encode()).hexdigest() if client_key else ""


def parse_temperature(raw) -> Decimal:
    return body_temperature(raw, required=True)


# --- Windows ----------------------------------------------------------------------------

def windows() -> list[tuple[dt.time, dt.time]]:
    return list(settings.OBSERVATION_WINDOWS)


def window_at(moment: dt.datetime) -> tuple[dt.date, int] | None:
    """(local day, window index) of the window open at `moment`, or None."""
    local = timezone.localtime(moment)
    for i, (start, end) in enumerate(windows()):
        if start <= local.time() < end:
            return local.date(), i
    return None


def window_label(i: int) -> str:
    start, end = windows()[i]
    return f"{start:%H:%M}–{end:%H:%M}"


def _window_bounds(day: dt.date, i: int) -> tuple[dt.datetime, dt.datetime]:
    start, end = windows()[i]
    return (timezone.make_aware(dt.datetime.combine(day, start)), timezone.make_aware(dt.datetime.combine(day, end)))


# --- Start ------------------------------------------------------------------------------

@transaction.atomic
def start(*, acting_user, person, kind: str, days: int, start_date: dt.date | None = None, site=None, application=None,
          reason: str = "") -> Observation:
    """Start a control measure for `person` (on arrival, or by staff)."""
    if kind not in Observation.Kind.values:
        raise Invalid({"kind": _("Choose a control measure")})
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Invalid({"days": _("The period is 1 to %(max)d days") % {"max": MAX_DAYS}})
    if site is not None and site.kind != "site":
        raise Invalid({"site": _("Choose a centralized observation site")})
    if kind != Observation.Kind.CENTRAL and site is not None:
        raise Invalid({"site": _("Only centralized observation takes place at a site")})
    if Observation.objects.filter(person=person, state__in=[S.ACTIVE, S.HOSPITAL]).exists():
        raise Conflict(_("This person is already under a control measure"))
    start_date = start_date or timezone.localdate()
    try:
        with transaction.atomic():
            obs = Observation.objects.create(
                person=person, kind=kind, place_path=person.place_path, site=site, application=application,
                start_date=start_date, planned_end=start_date + dt.timedelta(days=days), reason=str(reason)[:200],
                created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None)
    except IntegrityError:
        raise Conflict(_("This person is already under a control measure")) from None
    _event(obs, "start", acting_user, f"{obs.get_kind_display()} {days}")
    record(acting_user, "observation.start", obj=obs, detail={"kind": kind, "days": days, "inflow": application.pk if application else None})
    return obs


# --- Reports and alerts -----------------------------------------------------------------

def _alert(obs: Observation, kind: str, day: dt.date, window: int, detail: str) -> Alert | None:
    """One alert per (observation, kind, day, window); tells the registry's sinks once."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(observation=obs, kind=kind, day=day, window=window, detail=detail[:200])
    except IntegrityError:
        return None
    text = f"{obs.person.name[:1]}** {obs.person.id_masked}: {alert.get_kind_display()} {detail}"
    transaction.on_commit(lambda: registry.raise_alert(registry.Alert(
        kind=f"observation.{kind}", place_path=obs.place_path, text=text, person_id=obs.person_id,
        perms=("observation.alerted",), obj_type="observation.alert", obj_id=alert.pk)))
    return alert


def report(*, acting_user, observation: Observation, temperature, symptoms=(), source: str, at: dt.datetime | None = None,
           client_key: str = "") -> Report:
    """A temperature report in the window open now. Refused outside every window, for a
    window already reported, for an observation that is over, and for impossible values.
    The report returned says whether it was `created` now or is the first of a resend."""
    client_key = _form_key(observation, client_key)
    if client_key:
        existing = Report.objects.filter(client_key=client_key, observation=observation).first()
        if existing is not None:
            existing.created = False  # a resend: the first report stands
            return existing
    temp = parse_temperature(temperature)
    symptoms = [s for s in (symptoms or []) if s]
    unknown = [s for s in symptoms if s not in SYMPTOM_KEYS]
    if unknown:
        raise Invalid({"symptoms": _("Unknown symptom: %(s)s") % {"s": ", ".join(unknown)}})
    if source not in Report.Source.values:
        raise Invalid({"source": _("Unknown source")})
    at = at or timezone.now()
    slot = window_at(at)
    if slot is None:
        spans = ", ".join(window_label(i) for i in range(len(windows())))
        raise Invalid({"temperature": _("Reports are taken in the windows %(spans)s only") % {"spans": spans}})
    day, window = slot
    reported_by = acting_user if acting_user is not None and acting_user.is_authenticated else None

    def write() -> Report:
        # The observation locked (PostgreSQL: its row; SQLite: the writer lock held since
        # BEGIN), so a transition and a report of one observation are serialized, and
        # report_one_per_window cannot be raced.
        obs = fastsql.get(Observation, LOCKED_FIELDS, for_update=True, id=observation.pk)
        if client_key:
            # A resend that came in since the lookup above: its key is this observation's
            # (_form_key), now locked, so this lookup cannot be raced. report_client_key_day
            # holds only within a day (`day` is the server's day at receipt, and the table is
            # partitioned on it on PostgreSQL), and a resend may arrive on a later day.
            # day >= start_date: the partitions of the observation's months only.
            existing = Report.objects.filter(client_key=client_key, observation=obs.pk, day__gte=obs.start_date).first()
            if existing is not None:
                existing.created = False
                return existing
        if obs.state != S.ACTIVE:
            raise Conflict(_("No reports are taken: the observation is %(state)s") % {"state": obs.get_state_display()})
        if not obs.start_date <= day <= obs.planned_end:
            raise Conflict(_("No reports are taken outside the observation period"))
        rep = Report(observation=obs, day=day, window=window, temperature=temp, symptoms=symptoms, source=source,
                     reported_at=at, client_key=client_key or None, reported_by=reported_by)
        fastsql.insert(rep)  # a second report for this window: IntegrityError (report_one_per_window)
        rep.created = True
        if rep.fever:
            _alert(obs, Alert.Kind.FEVER, day, window, f"{temp} °C")
        if symptoms:
            _alert(obs, Alert.Kind.SYMPTOMS, day, window, ", ".join(symptoms))
        record(acting_user, "observation.report", obj=obs, detail={"source": source, "day": day.isoformat(), "window": window,
                                                                    "fever": rep.fever, "symptoms": len(symptoms)})
        return rep

    # One transaction; on SQLite shared with the reports of concurrent requests (one commit).
    try:
        rep = group_commit.write(write)
    except IntegrityError:
        if client_key:  # the same report sent twice at once: the first one stands
            existing = Report.objects.filter(client_key=client_key, observation=observation).first()
            if existing is not None:
                existing.created = False
                return existing
        if Report.objects.filter(observation=observation, day=day, window=window).exists():
            raise Conflict(_("This window (%(w)s) is already reported") % {"w": window_label(window)}) from None
        raise
    return rep


def unreported(day: dt.date, i: int, qs=None):
    """Active observations whose period covers `day` and that have no report in window i of it."""
    reported = Report.objects.filter(observation=OuterRef("pk"), day=day, window=i)
    qs = Observation.objects.all() if qs is None else qs
    return qs.filter(state=S.ACTIVE, start_date__lte=day, planned_end__gte=day).exclude(Exists(reported))


def window_closes(day: dt.date, i: int) -> dt.datetime:
    return _window_bounds(day, i)[1]


def check_missed(now: dt.datetime | None = None) -> int:
    """Alerts for windows that closed without a report (today and yesterday), for every
    active observation whose period covers the window and that existed when it opened.
    Idempotent: an alert exists once per window. Run by the worker every few minutes."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    created = 0
    for day in (today - dt.timedelta(days=1), today):
        for i in range(len(windows())):
            opens, closes = _window_bounds(day, i)
            if closes > now:
                continue
            alerted = Alert.objects.filter(observation=OuterRef("pk"), kind=Alert.Kind.MISSED, day=day, window=i)
            candidates = (unreported(day, i, Observation.objects.select_related("person"))
                          .filter(created_at__lte=opens).exclude(Exists(alerted)))
            for obs in candidates:
                with transaction.atomic():
                    if _alert(obs, Alert.Kind.MISSED, day, i, f"{day:%m-%d} {window_label(i)}") is not None:
                        created += 1
    return created


def handle_alert(*, acting_user, alert: Alert, note: str = "") -> Alert:
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, handled_at__isnull=True).update(
                handled_at=timezone.now(), handled_by=acting_user, handled_note=str(note)[:300]):
            raise Conflict(_("This alert was already handled"))
        alert.refresh_from_db()
        _event(alert.observation, "alert_handled", acting_user, f"{alert.get_kind_display()} {note}")
        record(acting_user, "observation.alert.handle", obj=alert.observation, detail={"alert": alert.pk, "kind": alert.kind})
    return alert


# --- Transitions ------------------------------------------------------------------------

def release_blockers(obs: Observation, today: dt.date | None = None) -> list[str]:
    """Why the observation cannot be released now (empty: it can). The period must be
    over, and the last day's reports all there and normal: the reports of every window of
    the last day of the period (or of the day before, while the last day's windows are
    still open)."""
    today = today or timezone.localdate()
    out = []
    if today < obs.planned_end:
        out.append(_("The period ends on %(d)s") % {"d": obs.planned_end.isoformat()})
    n = len(windows())
    last_day = min(today, obs.planned_end)
    reports = list(obs.reports.filter(day__in=[last_day, last_day - dt.timedelta(days=1)]))
    on = {d: [r for r in reports if r.day == d] for d in (last_day, last_day - dt.timedelta(days=1))}
    still_open = last_day == timezone.localdate() and timezone.localtime().time() < windows()[-1][1]
    last = on[last_day] if len(on[last_day]) == n or not still_open else on[last_day - dt.timedelta(days=1)]
    if len(last) < n:
        out.append(_("Too few reports: the last day's reports are needed"))
    elif any(r.fever or r.symptoms for r in last):
        out.append(_("The last reports are not normal"))
    if obs.alerts.filter(handled_at__isnull=True, kind__in=[Alert.Kind.FEVER, Alert.Kind.SYMPTOMS]).exists():
        out.append(_("A fever or symptom alert is still open"))
    return out


def transition(*, acting_user, observation: Observation, action: str, note: str = "", days: int | None = None) -> Observation:
    t = TRANSITIONS[action]
    now = timezone.now()
    note = str(note or "").strip()
    if action == "extend":
        if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise Invalid({"days": _("The period is 1 to %(max)d days") % {"max": MAX_DAYS}})
        if not note:
            raise Invalid({"note": _("Give the reason")})
    if action == "transfer" and not note:
        raise Invalid({"note": _("Name the hospital")})
    with transaction.atomic():
        def check(current):  # under the lock, the state allowing the action
            if action == "extend":
                return {"planned_end": current.planned_end + dt.timedelta(days=days)}
            if action == "release" and (blockers := release_blockers(current)):
                raise Conflict("; ".join(blockers))
            return None

        changes: dict = {}
        if action == "extend":
            note = f"+{days} · {note}"
        elif action in ("transfer", "release"):
            changes.update(ended_at=now, ended_by=acting_user, end_note=note[:300], room=None)
        elif action == "resume":
            changes.update(ended_at=None, ended_by=None)
        # No select_related("person"): the person is nullable (retention), and PostgreSQL locks
        # no row of an outer join; the person is read after the lock.
        current = apply_transition(Observation.objects.all(), observation, t, changes=changes,
                                   check=check, lower=True,
                                   refused=gettext_lazy("Cannot %(action)s: the observation is %(state)s"),
                                   changed=gettext_lazy("The observation was changed by someone else; reload it"))
        _event(current, action, acting_user, note, at=now)
        record(acting_user, f"observation.{action}", obj=current, detail={"state": current.state})
        if action == "release":
            _release_notice(acting_user, current, now)
    return current


def _release_notice(acting_user, obs: Observation, now) -> None:
    """The release notice (解除医学观察通知书), issued by the person's residents' committee."""
    from fangkong.documents.notices import committee_name, issue_release_notice

    place = obs.person.place
    issue_release_notice(acting_user=acting_user, subject=obs, person=obs.person, place=place,
                         issuer=committee_name(place), start=obs.start_date, end=timezone.localdate(now), released_at=now)


@transaction.atomic
def assign_room(*, acting_user, observation: Observation, room: Room | None) -> Observation:
    """Put a person under centralized observation into a room of its site (capacity
    permitting), or free the room (room=None)."""
    obs = Observation.objects.select_for_update().get(pk=observation.pk)
    if obs.state != S.ACTIVE:
        raise Conflict(_("Rooms are assigned only during an observation"))
    if room is not None:
        if obs.kind != Observation.Kind.CENTRAL:
            raise Invalid({"room": _("Only centralized observation uses rooms")})
        if obs.site_id is not None and room.site_id != obs.site_id:
            # Moving a person to another site changes who may see them: not a room change.
            raise Invalid({"room": _("Choose a room of the person's own site")})
        room = Room.objects.select_for_update().get(pk=room.pk)  # serializes assignments to this room
        if not room.active:
            raise Invalid({"room": _("This room is out of service")})
        taken = Observation.objects.filter(room=room, state=S.ACTIVE).exclude(pk=obs.pk).count()
        if taken >= room.capacity:
            raise Conflict(_("Room %(room)s is full") % {"room": room.number})
        obs.site = room.site
    obs.room = room
    obs.save(update_fields=["room", "site"])
    _event(obs, "room", acting_user, room.number if room else _("room freed"))
    record(acting_user, "observation.room", obj=obs, detail={"room": room.pk if room else None})
    return obs


@transaction.atomic
def add_room(*, acting_user, site, number: str, capacity: int) -> Room:
    number = str(number or "").strip()
    errors = {}
    if not number or len(number) > 20:
        errors["number"] = _("Enter the room number (at most 20 characters)")
    if not isinstance(capacity, int) or not 1 <= capacity <= 20:
        errors["capacity"] = _("Capacity is 1 to 20")
    if not errors and Room.objects.filter(site=site, number=number).exists():
        errors["number"] = _("This room exists already")
    if errors:
        raise Invalid(errors)
    room = Room.objects.create(site=site, number=number, capacity=capacity, place_path=site.place_path)
    record(acting_user, "observation.room.add", obj=room, detail={"site": site.pk, "number": number, "capacity": capacity})
    return room


@transaction.atomic
def set_psych_support(*, acting_user, observation: Observation, needed: bool) -> Observation:
    Observation.objects.filter(pk=observation.pk).update(psych_support=needed)
    observation.psych_support = needed
    _event(observation, "psych", acting_user, _("psychological support needed") if needed else _("psychological support no longer needed"))
    record(acting_user, "observation.psych", obj=observation, detail={"needed": needed})
    return observation


def request_supplies(*, acting_user, observation: Observation, kind: str, text: str, client_key: str = "") -> SupplyRequest:
    """A request from the observed household (through its link) or staff on its behalf."""
    client_key = _form_key(observation, client_key)
    if client_key:
        existing = SupplyRequest.objects.filter(client_key=client_key, observation=observation).first()
        if existing is not None:
            return existing
    text = str(text or "").strip()
    errors = {}
    if kind not in ("supplies", "medicine"):
        errors["kind"] = _("Choose supplies or medicine")
    if not text or len(text) > 300:
        errors["text"] = _("Say what is needed (at most 300 characters)")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        obs = Observation.objects.select_for_update().get(pk=observation.pk)
        if obs.state != S.ACTIVE:
            raise Conflict(_("Requests are taken only during an observation"))
        req = SupplyRequest.objects.create(observation=obs, kind=kind, text=text, client_key=client_key or None)
        record(acting_user, "observation.request", obj=obs, detail={"kind": kind})
    return req


@transaction.atomic
def deliver_request(*, acting_user, request: SupplyRequest) -> SupplyRequest:
    if not SupplyRequest.objects.filter(pk=request.pk, state=SupplyRequest.State.OPEN).update(
            state=SupplyRequest.State.DONE, done_at=timezone.now(), done_by=acting_user):
        raise Conflict(_("This request was already delivered"))
    request.refresh_from_db()
    record(acting_user, "observation.request.done", obj=request.observation, detail={"request": request.pk})
    return request
