"""The six links as named actions. Views, API and tests call only these.

TRANSITIONS is the state machine: an action is allowed only from its listed states; any
other call raises Conflict (409) with the reason and changes nothing. Each transition is
one conditional UPDATE on (state, version) inside a transaction, so of two concurrent
calls exactly one wins and the other gets Conflict.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Conflict etc. for callers)
from fangkong.lib import registry
from fangkong.lib.health import body_temperature
from fangkong.lib import crypto
from fangkong.lib.identity import has_numbers, mask_id
from fangkong.residents import actions as residents

from fangkong.residents.models import Household, Person
from fangkong.residents.validation import validate_person

from .notices import issue_inflow_approval
from .models import Application, DueLink, Event, Measure, MeasurePolicy, Origin, Risk

S = Application.State
logger = logging.getLogger(__name__)





TRANSITIONS: dict[str, Transition] = {
    "forward": Transition("inflow.forward", (S.SUBMITTED,), S.FORWARDED, gettext_lazy("Forward to the committee")),
    "approve": Transition("inflow.review", (S.FORWARDED,), S.APPROVED, gettext_lazy("Approve")),
    "reject": Transition("inflow.review", (S.FORWARDED,), S.REJECTED, gettext_lazy("Reject")),
    "request_info": Transition("inflow.review", (S.FORWARDED,), S.MORE_INFO, gettext_lazy("Ask for more information")),
    "resubmit": Transition("inflow.apply", (S.MORE_INFO,), S.SUBMITTED, gettext_lazy("Resubmit")),
    "travel": Transition("inflow.travel", (S.APPROVED,), S.TRAVELLING, gettext_lazy("Notified, travelling")),
    "arrive": Transition("inflow.arrive", (S.TRAVELLING,), S.ARRIVED, gettext_lazy("Register arrival")),
}
ACTION_LABELS = {"apply": gettext_lazy("Applied"), "push": gettext_lazy("Result pushed to the unit and the person"),
                 "transfer": gettext_lazy("Transfer request decided"),
                 "escalate": gettext_lazy("Overdue, escalated"),
                 **{k: t.label for k, t in TRANSITIONS.items()}}

# Who owns each link's deadline, so who hears of it when it is overdue. A liaison's grant
# is scoped to its organization, not to a place, so the committee of the destination
# hears of an overdue travel confirmation too (and the alert names the unit).
ESCALATION_PERMS: dict[str, tuple[str, ...]] = {
    DueLink.FORWARD: ("inflow.forward",),
    DueLink.REVIEW: ("inflow.review",),
    DueLink.TRAVEL: ("inflow.travel", "inflow.review"),
    DueLink.ARRIVE: ("inflow.arrive",),
}



def review_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.INFLOW_REVIEW_MINUTES)


def deadline(link: str, now, *, planned_arrival: dt.date | None = None) -> dict:
    """The fields that make `link` the one now due (and clear an earlier escalation):
    forward within INFLOW_FORWARD_MINUTES of submission, review within
    INFLOW_REVIEW_MINUTES of forwarding, travel confirmed within INFLOW_TRAVEL_HOURS of
    the decision, arrival registered by the end of the planned arrival day (local time)
    plus INFLOW_ARRIVAL_GRACE_HOURS. An empty link: nothing is due."""
    if not link:
        return {"due_link": "", "due_at": None, "escalated_at": None}
    if link == DueLink.FORWARD:
        due = now + dt.timedelta(minutes=settings.INFLOW_FORWARD_MINUTES)
    elif link == DueLink.REVIEW:
        due = now + review_window()
    elif link == DueLink.TRAVEL:
        due = now + dt.timedelta(hours=settings.INFLOW_TRAVEL_HOURS)
    elif link == DueLink.ARRIVE:
        day = planned_arrival or timezone.localdate(now)
        due = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)) + dt.timedelta(
            hours=settings.INFLOW_ARRIVAL_GRACE_HOURS)
    else:
        raise ValueError(f"unknown link {link!r}")
    return {"due_link": str(link), "due_at": due, "escalated_at": None}


def _event(app: Application, action: str, user, at, note: str = "") -> None:
    Event.objects.create(application=app, action=action, state=app.state, actor=user if user and user.is_authenticated else None,
                         actor_name=user.get_username() if user and user.is_authenticated else "", at=at, note=note[:300])


def _serial(now, pk: int) -> str:
    return f"LR{timezone.localdate(now):%Y%m%d}-{pk:06d}"


def _policy(risk: str) -> MeasurePolicy:
    policy = MeasurePolicy.objects.filter(risk=risk).first()
    if policy is None:  # an admin removed the row: the safest reading is no exemption
        raise Invalid({"origin": _("No control measure is set for this risk level; ask an administrator")})
    return policy


OPEN_STATES = [S.SUBMITTED, S.FORWARDED, S.MORE_INFO, S.APPROVED, S.TRAVELLING]


def _form_key(acting_user, person, client_key: str) -> str:
    """The stored key of a form: a hash of the submitter and the form's own key."""
    import hashlib

    if not client_key:
        return ""
    who = f"u{acting_user.pk}" if acting_user is not None and acting_user.is_authenticated else f"p{getattr(person, 'pk', '')}"
    return hashlib.sha256(f"{who}:{client_key}".encode()).hexdigest()


def _household(acting_user, place, address: str) -> Household:
    household = Household.objects.filter(place=place, address=address).first()
    if household is None:
        try:
            with transaction.atomic():
                household = residents.create_household(acting_user=acting_user, place=place, address=address)
        except IntegrityError:  # made a moment ago by a concurrent request
            household = Household.objects.get(place=place, address=address)
    return household


def _person_for(acting_user, clean: dict, household: Household, employer, origin) -> tuple[Person | None, object]:
    """The person an application by staff is for, found by the ID number typed among the
    persons the applicant may apply for (`inflow.apply`: a committee's area, a unit's
    staff): (person, None). An unregistered number: the person is registered at the
    destination household. A number registered outside the applicant's scope: (None, a
    transfer request to the committee where it is registered) — the application goes on
    the same as for a new number, and takes its person when that committee accepts
    (`transfer_decided`). Neither answer tells the applicant that the number exists."""
    from fangkong.places.access import scope
    from fangkong.residents import transfers

    person = Person.objects.filter(id_bidx__in=crypto.blind_indexes("id", clean["id_number"])).first()
    if person is None:
        try:
            with transaction.atomic():
                return residents.create_person(acting_user=acting_user, clean=clean, household=household,
                                               employer=employer), None
        except (residents.DuplicatePerson, IntegrityError):  # registered a moment ago by a concurrent request
            raise Conflict(_("This person was registered at the same moment; submit again")) from None
    if scope(Person.objects.filter(pk=person.pk), acting_user, "inflow.apply").exists():
        # The applicant's own person: it may see them, so a wrong name is said plainly.
        if person.name != clean["name"]:
            raise Invalid({"id_number": _("This ID number does not match the name; check both")})
        return person, None
    # A second application from the same side gets what it would for a number new here (its
    # first application registered the person): the person already has an open application.
    if scope(Application.objects.filter(transfer__person=person, transfer__state="requested", state__in=OPEN_STATES),
             acting_user, "inflow.apply").exists():
        raise Conflict(_("This person already has an open application"))
    return None, transfers.request(
        acting_user=acting_user, person=person, typed_name=clean["name"], to_place=household.place,
        address=household.address, employer=employer, purpose=TRANSFER_PURPOSE,
        reason=_("Return from %(origin)s (inflow application)") % {"origin": origin.name})


TRANSFER_PURPOSE = "inflow"


def _tell_owners_of_arrival(acting_user, app: Application) -> None:
    """The person has arrived while the transfer request to their committee waits: the
    control measure starts when it is accepted, so that committee is asked to decide now."""
    from django.urls import reverse

    from fangkong.notify.actions import notify
    from fangkong.residents.models import Transfer

    t = Transfer.objects.filter(pk=app.transfer_id, state=Transfer.State.REQUESTED).first()
    if t is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        notify(kind="inflow.transfer_arrived", perms=("residents.transfer",), place_path=t.from_path, obj=t,
               acting_user=acting_user, link=reverse("transfer_detail", args=[t.pk]),
               dedupe_key=f"inflow.transfer_arrived:{t.pk}",
               title=_("Arrived: decide the transfer request %(id)s now") % {"id": t.id_masked},
               body=_("The control measure (%(measure)s) starts when you accept.") % {
                   "measure": app.get_measure_display() or "—"})


def _withdraw_transfer(app: Application) -> None:
    """A rejected application's transfer request still waiting is withdrawn (by the module:
    the owners are not left to move a person for a closed application)."""
    from fangkong.residents import transfers
    from fangkong.residents.models import Transfer

    pending = Transfer.objects.filter(pk=app.transfer_id, state=Transfer.State.REQUESTED).first()
    if pending is not None:
        transfers.withdraw(acting_user=None, transfer=pending)


def transfer_decided(transfer, acting_user) -> None:
    """The follow-up of a transfer request made by an application (registered for the
    purpose "inflow" in contributions.py, run in the deciding transaction): accepted, the
    application takes its person (and the measure starts if they have arrived); declined
    or withdrawn, an application still open is rejected with the committee's reason."""
    app = Application.objects.select_for_update().filter(transfer=transfer).first()
    if app is None or app.person_id is not None:
        return
    now = timezone.now()
    if transfer.state == transfer.State.ACCEPTED:
        if app.state == S.REJECTED:
            raise Conflict(_("The return application this request was made for is closed; decline the request"))
        if app.state in OPEN_STATES and Application.objects.filter(person_id=transfer.person_id,
                                                                   state__in=OPEN_STATES).exists():
            raise Conflict(_("The person already has an open return application; decline this request"))
        Application.objects.filter(pk=app.pk).update(person_id=transfer.person_id, version=F("version") + 1)
        app.refresh_from_db()
        _event(app, "transfer", acting_user, now, note=_("The person's committee accepted the transfer"))
        if app.state == S.ARRIVED and app.measure and app.measure != Measure.NONE:
            _start_measure(acting_user, app)
        return
    note = transfer.decision_reason or str(transfer.get_state_display())
    if app.state in OPEN_STATES:
        why = (_("The committee where the person is registered declined: %(reason)s") % {"reason": note}
               if transfer.state == transfer.State.DECLINED else _("The transfer request was withdrawn"))
        Application.objects.filter(pk=app.pk).update(
            state=S.REJECTED, decided_at=now, pushed_at=now, version=F("version") + 1,
            decision_reason=why[:300], **deadline("", now))
        app.refresh_from_db()
        _event(app, "reject", acting_user, now, note=note)
        record(acting_user, "inflow.reject", obj=app, detail={"serial": app.serial, "state": app.state,
                                                             "transfer": transfer.pk})
        _tell(acting_user, app, "reject")
    else:
        _event(app, "transfer", acting_user, now, note=note)


@transaction.atomic
def apply(*, acting_user, employer, place, address: str, origin: Origin, person_fields: dict | None = None,
          person: Person | None = None, purpose: str = "", transport: str = "", planned_arrival: dt.date | None = None,
          client_key: str = "") -> Application:
    """Link 1: an application for a person's return to a household at `place`/`address`.

    From a unit liaison or committee (person_fields): the person is found in the registry
    by ID number, or registered with the registry's own validation. From the person through
    a personal link (person=, acting_user None): the registered person applies for
    themselves, nothing of the person is re-entered. A repeated client_key (a
    double-submitted form) returns the first application (of the same person)."""
    # A double-submitted form returns the first application: the key is the form's, and
    # counts only for the same submitter (a user, or the person on their own link).
    client_key = _form_key(acting_user, person, client_key)
    if client_key:
        existing = Application.objects.filter(client_key=client_key).first()
        if existing is not None:
            existing.created = False
            return existing
    if person is None:
        clean, errors = validate_person(person_fields or {})
    else:
        clean, errors = None, {}
    address = (address or "").strip()
    if place is None:
        errors["place"] = _("Choose the destination grid or compound")
    if not address:
        errors["address"] = _("Enter the household address")
    elif len(address) > 200:
        errors["address"] = _("Address is longer than 200 characters")
    elif has_numbers(address):
        errors["address"] = _("Leave phone and ID numbers out of the address")
    if origin is None:
        errors["origin"] = _("Choose where the person comes from")
    if planned_arrival is not None and planned_arrival < timezone.localdate():
        errors["planned_arrival"] = _("The planned arrival date is in the past")
    if errors:
        raise Invalid(errors)
    household = _household(acting_user, place, address)
    transfer = None
    if person is None:
        person, transfer = _person_for(acting_user, clean, household, employer, origin)
        via_link = False
        name, id_masked = clean["name"], mask_id(clean["id_number"])
    else:
        via_link = True
        name, id_masked = person.name, person.id_masked
    if person is not None and Application.objects.filter(person=person, state__in=OPEN_STATES).exists():
        raise Conflict(_("This person already has an open application"))
    now = timezone.now()
    auto = settings.INFLOW_AUTO_ROUTE
    try:
        with transaction.atomic():
            app = Application.objects.create(
                serial=uuid.uuid4().hex[:24], person=person, person_name=name, person_id_masked=id_masked,
                transfer=transfer, employer=employer, household=household, place=household.place,
                place_path=household.place.path, origin=origin, risk=origin.risk, purpose=purpose[:200],
                transport=transport[:100], client_key=client_key or None, created_by=acting_user if acting_user and acting_user.is_authenticated else None,
                submitted_at=now, state=S.FORWARDED if auto else S.SUBMITTED, planned_arrival=planned_arrival,
                forwarded_at=now if auto else None, review_due_at=now + review_window() if auto else None,
                **deadline(DueLink.REVIEW if auto else DueLink.FORWARD, now),
            )
    except IntegrityError:
        existing = Application.objects.filter(client_key=client_key).first() if client_key else None
        if existing is not None:
            existing.created = False
            return existing
        # The other unique rule: one open application per person (a concurrent submission won).
        raise Conflict(_("This person already has an open application")) from None
    app.serial = _serial(now, app.pk)
    Application.objects.filter(pk=app.pk).update(serial=app.serial)
    _event(app, "apply", acting_user, now, note=_("Applied by the person through a personal link") if via_link else "")
    if auto:
        _event(app, "forward", None, now, note=_("Routed automatically to the destination community"))
    record(acting_user, "inflow.apply", obj=app, detail={"serial": app.serial, "origin": origin.name, "auto_routed": auto,
                                                          "personal_link": via_link})
    _tell(acting_user, app, "apply")
    app.created = True
    return app


def transition(*, acting_user, app: Application, action: str, reason: str = "", planned_arrival=None,
               temperature=None, healthy=None) -> Application:
    """Links 2–6. Raises Conflict when the state does not allow `action`."""
    t = TRANSITIONS[action]
    now = timezone.now()
    changes: dict = {}
    note = ""
    if action == "forward":
        changes.update(forwarded_at=now, review_due_at=now + review_window(), **deadline(DueLink.REVIEW, now))
    elif action in ("approve", "reject", "request_info"):
        reason = (reason or "").strip()
        if action != "approve" and not reason:
            raise Invalid({"reason": _("Give the reason")})
        changes.update(decided_at=now, pushed_at=now, decision_reason=reason[:300],
                       **deadline(DueLink.TRAVEL if action == "approve" else "", now))
        note = reason
    elif action == "resubmit":
        auto = settings.INFLOW_AUTO_ROUTE
        changes.update(state=S.FORWARDED if auto else S.SUBMITTED, forwarded_at=now if auto else None,
                       review_due_at=now + review_window() if auto else None, decided_at=None, pushed_at=None,
                       **deadline(DueLink.REVIEW if auto else DueLink.FORWARD, now))
    elif action == "travel":
        if planned_arrival is None:
            raise Invalid({"planned_arrival": _("Enter the planned arrival date")})
        if planned_arrival < timezone.localdate(now):
            raise Invalid({"planned_arrival": _("The planned arrival date is in the past")})
        changes.update(travelling_at=now, planned_arrival=planned_arrival,
                       **deadline(DueLink.ARRIVE, now, planned_arrival=planned_arrival))
    elif action == "arrive":
        temp = body_temperature(temperature, required=True)
        if healthy is None:
            raise Invalid({"healthy": _("Record the result of the health check")})
        policy = _policy(app.risk)
        start = timezone.localdate(now)
        changes.update(arrived_at=now, arrival_temperature=temp, arrival_healthy=bool(healthy), measure=policy.measure,
                       measure_start=start if policy.measure != Measure.NONE else None,
                       measure_end=start + dt.timedelta(days=policy.days) if policy.measure != Measure.NONE else None,
                       **deadline("", now))
        note = f"{temp} °C"
    with transaction.atomic():
        current = apply_transition(Application.objects, app, t, changes=changes, lower=True,
                                   refused=gettext_lazy("Cannot %(action)s: the application is %(state)s"),
                                   changed=gettext_lazy("The application was changed by someone else; reload it"))
        _event(current, action, acting_user, now, note=note)
        if action == "arrive" and current.measure != Measure.NONE and current.person_id is not None:
            _start_measure(acting_user, current)
        if action in ("approve", "reject", "request_info"):
            _event(current, "push", None, now)
        record(acting_user, f"inflow.{action}", obj=current, detail={"serial": current.serial, "state": current.state})
        if action == "approve":  # the approval notice (流入人员审核通过通知单), in the same transaction
            issue_inflow_approval(acting_user=acting_user, app=current)
        if action == "reject" and current.transfer_id and current.person_id is None:
            _withdraw_transfer(current)
        if action == "arrive" and current.person_id is None and current.transfer_id:
            _tell_owners_of_arrival(acting_user, current)
        _tell(acting_user, current, action)
    return current


def _tell(acting_user, app: Application, action: str) -> None:
    """Links 1, 2 and 4 as messages (in-app inbox, and the channels configured for the place):
    a new application to the coordination department, a forwarded one to the destination committee; the decision to the unit's
    liaisons (organization grants). The person sees the result on their personal-link page."""
    from django.urls import reverse

    from fangkong.notify.actions import notify
    from fangkong.places.access import holders

    link = reverse("inflow_detail", args=[app.pk])
    with translation.override(settings.LANGUAGE_CODE):
        if app.state == S.SUBMITTED:
            notify(kind="inflow.submitted", perms=("inflow.forward",), place_path=app.place_path, link=link, obj=app,
                   acting_user=acting_user, dedupe_key=f"inflow.submitted:{app.pk}:{app.version}",
                   title=_("Inflow application %(serial)s to forward") % {"serial": app.serial},
                   body=_("From %(origin)s.") % {"origin": app.origin.name})
        elif app.state == S.FORWARDED:
            notify(kind="inflow.forwarded", perms=("inflow.review",), place_path=app.place_path, link=link, obj=app,
                   acting_user=acting_user, dedupe_key=f"inflow.forwarded:{app.pk}:{app.version}",
                   title=_("Inflow application %(serial)s to review") % {"serial": app.serial},
                   body=_("From %(origin)s; review by %(due)s.") % {
                       "origin": app.origin.name, "due": timezone.localtime(app.due_at).strftime("%m-%d %H:%M") if app.due_at else "—"})
        elif action in ("approve", "reject", "request_info") and app.employer_id:
            liaisons = holders("inflow.travel", org_id=app.employer_id).values_list("pk", flat=True)
            notify(kind=f"inflow.{action}", users=list(liaisons), place_path=app.place_path, link=link, obj=app,
                   acting_user=acting_user, dedupe_key=f"inflow.result:{app.pk}:{app.version}",
                   title=_("%(serial)s: %(state)s") % {"serial": app.serial, "state": app.get_state_display()},
                   body=app.decision_reason or str(app.get_state_display()))


def _start_measure(acting_user, app: Application) -> None:
    """Link 6: the control measure starts on arrival, as an observation of the person."""
    from fangkong.observation import actions as observation

    try:
        observation.start(acting_user=acting_user, person=app.person, kind=app.measure, application=app,
                          days=(app.measure_end - app.measure_start).days, start_date=app.measure_start,
                          reason=_("Arrival from %(origin)s") % {"origin": app.origin.name})
    except observation.Conflict:
        pass  # already under a measure (e.g. started by staff): that one goes on


# --- Deadlines: escalation of overdue links ------------------------------------------------

def escalate_overdue(*, acting_user=None, now=None, limit: int = 500) -> int:
    """Every application overdue on its current link and not yet escalated for it: one
    alert (lib.registry.raise_alert) to the link's owners, an "escalate" event and an
    audit record, each application in its own transaction. Idempotent: the mark
    (escalated_at) is set by a conditional update, so two runs, or two workers at once,
    escalate a link once. A sink that raises rolls its application back (retried next run);
    the notification sink logs its own failures instead of raising.
    Returns how many were escalated."""
    now = now or timezone.now()
    pks = list(Application.objects.filter(escalated_at__isnull=True, due_at__lt=now).exclude(due_link="")
               .order_by("due_at").values_list("pk", flat=True)[:limit])
    done = 0
    for pk in pks:
        try:
            done += _escalate(acting_user=acting_user, pk=pk, now=now)
        except Exception:  # one bad row or sink must not stop the others
            logger.exception("inflow escalation of application %s failed", pk)
    return done


def _escalate(*, acting_user, pk: int, now) -> int:
    with transaction.atomic():
        app = Application.objects.select_related("employer").filter(pk=pk).first()
        if app is None or app.escalated_at is not None or not app.due_link or app.due_at is None or app.due_at >= now:
            return 0
        claimed = Application.objects.filter(pk=pk, escalated_at__isnull=True, due_link=app.due_link,
                                             due_at=app.due_at).update(escalated_at=now)
        if not claimed:
            return 0
        minutes = int((now - app.due_at).total_seconds() // 60)
        with translation.override(settings.LANGUAGE_CODE):
            text = _("%(serial)s: %(link)s overdue by %(minutes)s min") % {
                "serial": app.serial, "link": app.get_due_link_display(), "minutes": minutes}
            if app.employer_id:
                text += " · " + _("unit: %(unit)s") % {"unit": app.employer.name}
        _event(app, "escalate", acting_user, now, note=text)
        record(acting_user, "inflow.escalate", obj=app, detail={"serial": app.serial, "link": app.due_link,
                                                                "minutes_late": minutes})
        registry.raise_alert(registry.Alert(
            kind="inflow.overdue", place_path=app.place_path, text=text, person_id=app.person_id,
            perms=ESCALATION_PERMS[app.due_link], obj_type="inflow.application", obj_id=app.pk,
            org_id=app.employer_id, key=app.due_link))
    return 1


# --- The policy table (admin) -------------------------------------------------------------

def _risk(value) -> str:
    if value not in Risk.values:
        raise Invalid({"risk": _("Choose a risk level: high, medium, low or none")})
    return value


@transaction.atomic
def create_origin(*, acting_user, name: str, risk: str) -> Origin:
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = _("Enter the name of the origin")
    elif len(name) > 60:
        errors["name"] = _("The name is longer than 60 characters")
    elif Origin.objects.filter(name=name).exists():
        errors["name"] = _("This origin is already in the table")
    if risk not in Risk.values:
        errors["risk"] = _("Choose a risk level: high, medium, low or none")
    if errors:
        raise Invalid(errors)
    try:
        with transaction.atomic():
            origin = Origin.objects.create(name=name, risk=risk)
    except IntegrityError:
        raise Invalid({"name": _("This origin is already in the table")}) from None
    record(acting_user, "inflow.origin.create", obj=origin, detail={"origin": name, "risk": risk})
    return origin


@transaction.atomic
def set_origin_risk(*, acting_user, origin: Origin, risk: str) -> Origin:
    _risk(risk)
    origin = Origin.objects.select_for_update().get(pk=origin.pk)
    before = origin.risk
    origin.risk = risk
    origin.save(update_fields=["risk", "updated_at"])
    record(acting_user, "inflow.origin.risk", obj=origin, detail={"origin": origin.name, "from": before, "to": risk})
    return origin


MAX_MEASURE_DAYS = 60


@transaction.atomic
def set_measure_policy(*, acting_user, policy: MeasurePolicy, measure: str, days) -> MeasurePolicy:
    """One row of the policy table: the measure for a risk level and its days (0–60;
    "no measure" exactly when 0 days). Applies to arrivals registered from now on."""
    errors = {}
    if measure not in Measure.values:
        errors["measure"] = _("Choose a control measure")
    try:
        days = int(str(days).strip())
    except (TypeError, ValueError):
        errors["days"] = _("Enter the number of days (0 to %(max)s)") % {"max": MAX_MEASURE_DAYS}
    else:
        if not 0 <= days <= MAX_MEASURE_DAYS:
            errors["days"] = _("Enter the number of days (0 to %(max)s)") % {"max": MAX_MEASURE_DAYS}
        elif "measure" not in errors and (measure == Measure.NONE) != (days == 0):
            errors["days"] = _("No measure means 0 days; any other measure needs at least 1 day")
    if errors:
        raise Invalid(errors)
    policy = MeasurePolicy.objects.select_for_update().get(pk=policy.pk)
    before = {"measure": policy.measure, "days": policy.days}
    policy.measure, policy.days = measure, days
    policy.save(update_fields=["measure", "days", "updated_at"])
    record(acting_user, "inflow.policy.set", obj=policy, detail={"risk": policy.risk, "from": before,
                                                                 "to": {"measure": measure, "days": days}})
    return policy
