"""Census writes as named actions (keyword-only, acting_user, one transaction, an audit
event). Views, API and tests call only these.

TRANSITIONS is the campaign's state machine: draft → running → closed. Visits are taken
only while a campaign runs, for households inside its area. A visit is validated against
the campaign's questionnaire as a whole before anything is stored; a resend with the same
client key returns the first visit.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.health import TEMP_MAX, TEMP_MIN
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Conflict etc. for callers)

from .models import Answer, Campaign, FollowUp, Question, Questionnaire, Visit

S = Campaign.State
MAX_DAYS = 90
KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
PROPOSED_DAYS = 14  # a risky answer proposes 14 days of home medical observation (seeds 000, 003)

TRANSITIONS: dict[str, Transition] = {
    "start": Transition("census.manage", (S.DRAFT,), S.RUNNING, gettext_lazy("Start the census")),
    "close": Transition("census.manage", (S.RUNNING,), S.CLOSED, gettext_lazy("Close the census")),
}

# A follow-up's state machine: open → done, by the grid (what was done) or by starting the
# control measure its risky answers propose.
FU = FollowUp.State
FOLLOWUP_TRANSITIONS: dict[str, Transition] = {
    "done": Transition("census.visit", (FU.OPEN,), FU.DONE, gettext_lazy("Done")),
    "observe": Transition("observation.start", (FU.OPEN,), FU.DONE, gettext_lazy("Start observation")),
}


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --- Questionnaires --------------------------------------------------------------------

CHOICE_KINDS = (Question.Kind.SINGLE, Question.Kind.MULTIPLE)
MAX_QUESTIONS = 40


def _items(raw) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.replace("，", ",").replace("、", ",").split(",")
    return [str(v).strip() for v in raw if str(v).strip()]


@transaction.atomic
def create_questionnaire(*, acting_user, name: str, questions: list[dict]) -> Questionnaire:
    """A questionnaire configured by staff: each question has a text, a type, whether it is
    required, its choices (single/multiple) and its risk rule: the answers that signal risk
    (yes/no: "yes" or "no"; choices: some of the choices) or, for number and temperature, a
    threshold at or above which the answer signals risk."""
    name = str(name or "").strip()
    errors: dict = {}
    if not name or len(name) > 100:
        errors["name"] = _("Enter a name (at most 100 characters)")
    questions = list(questions or []) if isinstance(questions, (list, tuple)) else []
    if not questions:
        errors["questions"] = _("Add at least one question")
    elif len(questions) > MAX_QUESTIONS:
        errors["questions"] = _("At most %(n)d questions") % {"n": MAX_QUESTIONS}
    rows = []
    keys: set[str] = set()
    for i, q in enumerate(questions[:MAX_QUESTIONS]):
        # Errors name the question by its position in what was given (nothing is dropped).
        where = f"questions.{i}"
        if not isinstance(q, dict):
            errors[where] = _("Not a question")
            continue
        text = str(q.get("text") or "").strip()
        if not text:
            errors[f"{where}.text"] = _("Enter the question")
        key = str(q.get("key") or "").strip() or f"q{i + 1}"
        if not KEY_RE.fullmatch(key):
            errors[f"{where}.key"] = _("A key is 1 to 32 lower-case letters, digits or _, starting with a letter")
        elif key in keys:
            errors[f"{where}.key"] = _("Each question needs a key of its own")
        keys.add(key)
        kind = str(q.get("kind") or "")
        choices = _items(q.get("choices"))
        risk_values = _items(q.get("risk_values"))
        threshold = q.get("risk_at_least")
        if len(text) > 300:
            errors[f"{where}.text"] = _("At most 300 characters")
        if kind not in Question.Kind.values:
            errors[f"{where}.kind"] = _("Choose the type of the question")
        if kind in CHOICE_KINDS:
            if len(choices) < 2 or len(set(choices)) != len(choices) or any(len(c) > 50 or "," in c for c in choices):
                errors[f"{where}.choices"] = _("Give at least two different choices (at most 50 characters each)")
            elif any(v not in choices for v in risk_values):
                errors[f"{where}.risk_values"] = _("Risky answers must be among the choices")
        elif choices:
            errors[f"{where}.choices"] = _("Only choice questions take choices")
        if kind == Question.Kind.YESNO:
            risk_values = ["yes" if v.lower() in YES else "no" if v.lower() in NO else v for v in risk_values]
        if kind == Question.Kind.YESNO and any(v not in ("yes", "no") for v in risk_values):
            errors[f"{where}.risk_values"] = _("Answer yes or no")
        if kind in (Question.Kind.TEXT, Question.Kind.NUMBER, Question.Kind.TEMPERATURE) and risk_values:
            errors[f"{where}.risk_values"] = _("Only yes/no and choice questions take risky answers")
        number = None
        if threshold not in (None, ""):
            try:
                number = Decimal(str(threshold).strip()).quantize(Decimal("0.1"))
            except (InvalidOperation, ValueError):
                number = None
            if number is None or kind not in (Question.Kind.NUMBER, Question.Kind.TEMPERATURE) or abs(number) >= 100000:
                errors[f"{where}.risk_at_least"] = _("A threshold is a number, for number and temperature questions")
        rows.append(dict(order=i, key=key, text=text, kind=kind, required=bool(q.get("required", True)),
                         choices=choices if kind in CHOICE_KINDS else [], risk_values=risk_values, risk_at_least=number))
    if errors:
        raise Invalid(errors)
    questionnaire = Questionnaire.objects.create(name=name)
    Question.objects.bulk_create([Question(questionnaire=questionnaire, **row) for row in rows])
    record(acting_user, "census.questionnaire.create", obj=questionnaire, detail={"questions": len(rows)})
    return questionnaire


# --- Campaigns --------------------------------------------------------------------------

@transaction.atomic
def create_campaign(*, acting_user, name: str, place, start_date: dt.date | None, end_date: dt.date | None,
                    questionnaire: Questionnaire | None) -> Campaign:
    name = str(name or "").strip()
    errors = {}
    if not name or len(name) > 100:
        errors["name"] = _("Enter a name (at most 100 characters)")
    if place is None:
        errors["place"] = _("Choose the area the census covers")
    if questionnaire is None:
        errors["questionnaire"] = _("Choose a questionnaire")
    if start_date is None:
        errors["start_date"] = _("Enter the first day")
    if end_date is None:
        errors["end_date"] = _("Enter the last day")
    elif start_date is not None and not 0 <= (end_date - start_date).days <= MAX_DAYS:
        errors["end_date"] = _("The last day is on or after the first, at most %(n)d days later") % {"n": MAX_DAYS}
    if errors:
        raise Invalid(errors)
    campaign = Campaign.objects.create(name=name, place=place, place_path=place.path, questionnaire=questionnaire,
                                       start_date=start_date, end_date=end_date, created_by=_user(acting_user))
    record(acting_user, "census.campaign.create", obj=campaign, detail={"place": place.pk, "questionnaire": questionnaire.pk})
    return campaign


def transition(*, acting_user, campaign: Campaign, action: str) -> Campaign:
    t = TRANSITIONS[action]
    with transaction.atomic():
        current = apply_transition(Campaign.objects, campaign, t,
                                   refused=gettext_lazy("Cannot %(action)s: the census is %(state)s"),
                                   changed=gettext_lazy("The census was changed by someone else; reload it"))
        record(acting_user, f"census.campaign.{action}", obj=current, detail={"state": current.state})
    return current


# --- Answers ----------------------------------------------------------------------------

YES = {"yes", "y", "true", "1", "是", "有"}
NO = {"no", "n", "false", "0", "否", "无", "没有"}


def parse_answer(question: Question, raw) -> tuple[str, bool]:
    """(normalized value, risk) of one answer; "" for an empty answer. Raises ValueError
    with the reason in the user's language."""
    if isinstance(raw, (list, tuple)):
        items = [str(v).strip() for v in raw if str(v).strip()]
    else:
        text = "" if raw is None else str(raw).strip()
        items = [text] if text else []
    if not items:
        return "", False
    kind = question.kind
    if kind == Question.Kind.YESNO:
        if len(items) != 1 or items[0].lower() not in YES | NO:
            raise ValueError(_("Answer yes or no"))
        value = "yes" if items[0].lower() in YES else "no"
        return value, value in question.risk_values
    if kind == Question.Kind.SINGLE:
        if len(items) != 1 or items[0] not in question.choices:
            raise ValueError(_("Choose one of the listed answers"))
        return items[0], items[0] in question.risk_values
    if kind == Question.Kind.MULTIPLE:
        if len(items) == 1 and "," in items[0]:
            items = [v.strip() for v in items[0].split(",") if v.strip()]
        unknown = [v for v in items if v not in question.choices]
        if unknown:
            raise ValueError(_("Not a listed answer: %(v)s") % {"v": "、".join(unknown)})
        chosen = [c for c in question.choices if c in items]
        return ",".join(chosen), any(v in question.risk_values for v in chosen)
    if kind == Question.Kind.TEXT:
        if len(items) != 1 or len(items[0]) > 300:
            raise ValueError(_("At most 300 characters"))
        return items[0], False
    # number, temperature
    try:
        number = Decimal(items[0].replace("，", ".").replace(",", ".")) if len(items) == 1 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(_("Enter a number"))
    if kind == Question.Kind.TEMPERATURE:
        number = number.quantize(Decimal("0.1"))
        if not TEMP_MIN <= number <= TEMP_MAX:
            raise ValueError(_("A body temperature lies between 34 and 43 °C"))
    elif abs(number) >= Decimal("100000"):
        raise ValueError(_("Enter a number"))
    risk = question.risk_at_least is not None and number >= question.risk_at_least
    return str(number), risk


def validate_members(questions: list[Question], members: dict, household) -> tuple[dict, dict]:
    """{person id: {question id: (value, risk)}} for the members present, or the errors
    keyed "members.<person id>.<question key>" (and "members" for the set as a whole)."""
    errors: dict = {}
    clean: dict = {}
    household_ids = set(household.members.values_list("pk", flat=True))
    for pid_raw, answers in members.items():
        try:
            pid = int(pid_raw)
        except (TypeError, ValueError):
            errors["members"] = _("Unknown member")
            continue
        if pid not in household_ids:
            errors["members"] = _("Only members of this household can answer")
            continue
        if not isinstance(answers, dict):
            errors[f"members.{pid}"] = _("Give the answers of this member")
            continue
        known = {q.key for q in questions}
        for key in answers:
            if key not in known:
                errors[f"members.{pid}.{key}"] = _("Not a question of this questionnaire")
        row = {}
        for q in questions:
            try:
                value, risk = parse_answer(q, answers.get(q.key))
            except ValueError as exc:
                errors[f"members.{pid}.{q.key}"] = str(exc)
                continue
            if value == "":
                if q.required:
                    errors[f"members.{pid}.{q.key}"] = _("This answer is required")
                continue
            row[q.pk] = (value, risk)
        clean[pid] = row
    return clean, errors


# --- Visits -----------------------------------------------------------------------------

def record_visit(*, acting_user, campaign: Campaign, household, outcome: str, members: dict | None = None,
                 note: str = "", client_key: str = "", at: dt.datetime | None = None) -> Visit:
    """A visit of `household` in `campaign`: the outcome and, when the household was
    reached, the answers of every member present ({person id: {question key: value}}).
    The caller has checked that the household is in the user's scope. Risky answers open
    one follow-up per person and raise one alert for it. The visit returned says whether
    it was `created` now or is the first of a resend (same client key)."""
    client_key = str(client_key or "").strip()[:64]
    if client_key:
        existing = Visit.objects.filter(client_key=client_key).first()
        if existing is not None:
            if existing.campaign_id != campaign.pk or existing.household_id != household.pk:
                raise Conflict(_("This form was already used for another visit"))
            existing.created = False
            return existing
    members = members or {}
    note = str(note or "").strip()
    errors: dict = {}
    if outcome not in Visit.Outcome.values:
        errors["outcome"] = _("Choose the outcome of the visit")
    if len(note) > 300:
        errors["note"] = _("At most 300 characters")
    if not isinstance(members, dict):
        errors["members"] = _("Give the answers of each member present")
        members = {}
    if not household.place_path.startswith(campaign.place_path):
        errors["household"] = _("This household is outside the census area")
    questions = list(campaign.questionnaire.questions.all())
    clean: dict = {}
    if outcome == Visit.Outcome.REACHED:
        if not members:
            errors["members"] = _("Record the answers of at least one member present")
        else:
            clean, answer_errors = validate_members(questions, members, household)
            errors.update(answer_errors)
    elif outcome in Visit.Outcome.values and members:
        errors["members"] = _("A visit where nobody answered takes no answers")
    if errors:
        raise Invalid(errors)
    at = at or timezone.now()
    by_id = {q.pk: q for q in questions}
    with transaction.atomic():
        # A plain read, no row lock: a lock on the campaign would queue every grid worker
        # of the street behind one another; a visit committed while the campaign closes
        # is a visit that happened.
        current = Campaign.objects.get(pk=campaign.pk)
        if current.state != S.RUNNING:
            raise Conflict(_("Visits are recorded only while the census runs (it is %(state)s)") % {
                "state": current.get_state_display()})
        try:
            with transaction.atomic():
                visit = Visit.objects.create(campaign=current, household=household, place_path=household.place_path,
                                             visitor=_user(acting_user), visited_at=at, outcome=outcome,
                                             persons=len(clean), note=note, client_key=client_key or None)
        except IntegrityError:
            # A concurrent resend with the same client key stored it first.
            existing = Visit.objects.filter(client_key=client_key).first() if client_key else None
            if existing is None:
                raise
            existing.created = False
            return existing
        Answer.objects.bulk_create([Answer(visit=visit, person_id=pid, question_id=qid, value=value, risk=risk)
                                    for pid, row in clean.items() for qid, (value, risk) in row.items()])
        risky = {pid: [(by_id[qid], value) for qid, (value, risk) in row.items() if risk] for pid, row in clean.items()}
        followups = 0
        for pid, items in risky.items():
            if items:
                _follow_up(visit, pid, items, at)
                followups += 1
        record(acting_user, "census.visit", obj=visit, detail={
            "campaign": current.pk, "household": household.pk, "outcome": outcome, "persons": len(clean),
            "followups": followups})
    visit.created = True
    return visit


def _follow_up(visit: Visit, person_id: int, items, at) -> FollowUp:
    from fangkong.residents.models import Person

    reason = "；".join(f"{q.text} {_display(q, v)}" for q, v in items)[:500]
    fu = FollowUp.objects.create(campaign_id=visit.campaign_id, visit=visit, person_id=person_id,
                                 place_path=visit.place_path, reason=reason, created_at=at)
    person = Person.objects.get(pk=person_id)
    signal = _("Census answers signal risk; proposed: home medical observation")
    text = f"{person.name[:1]}** {person.id_masked}: {signal}"
    # The grid follows up; the committee and the medics may start the proposed observation.
    transaction.on_commit(lambda: registry.raise_alert(registry.Alert(
        kind="census.risk", place_path=fu.place_path, text=text, person_id=person_id,
        perms=("observation.alerted", "observation.start"),
        obj_type="census.followup", obj_id=fu.pk)))
    return fu


def _display(question: Question, value: str) -> str:
    if question.kind == Question.Kind.YESNO:
        return _("yes") if value == "yes" else _("no")
    if question.kind == Question.Kind.TEMPERATURE:
        return f"{value} °C"
    return value


# --- Follow-ups -------------------------------------------------------------------------

def _close(followup: FollowUp, action: str, **changes) -> FollowUp:
    """The follow-up done, by `action`; of two concurrent closers, one wins."""
    return apply_transition(FollowUp.objects, followup, FOLLOWUP_TRANSITIONS[action],
                            changes={"done_at": timezone.now(), **changes},
                            refused=gettext_lazy("This follow-up is already done"))


@transaction.atomic
def close_followup(*, acting_user, followup: FollowUp, note: str) -> FollowUp:
    note = str(note or "").strip()
    if not note or len(note) > 300:
        raise Invalid({"note": _("Say what was done (at most 300 characters)")})
    _close(followup, "done", done_note=note, done_by=_user(acting_user))
    followup.refresh_from_db()
    record(acting_user, "census.followup.done", obj=followup, detail={"campaign": followup.campaign_id})
    return followup


def observe_followup(*, acting_user, followup: FollowUp, kind: str, days) -> "Observation":  # noqa: F821
    """The proposal of a risky answer taken: a control measure started for the follow-up's
    person (the observation module's start, with its checks) and the follow-up closed with
    it, in one transaction. A follow-up already done, or a person already under a measure,
    is a Conflict and nothing changes."""
    from fangkong.observation import actions as observation

    try:
        days = int(str(days).strip())
    except (TypeError, ValueError):
        raise Invalid({"days": _("Enter the number of days")}) from None
    with transaction.atomic():
        # The follow-up locked and closed first: of two concurrent takers, one wins.
        _close(followup, "observe", done_by=_user(acting_user))
        obs = observation.start(acting_user=acting_user, person=followup.person, kind=kind, days=days,
                                reason=(_("Census: %(reason)s") % {"reason": followup.reason})[:200])
        note = _("Control measure started: %(kind)s, %(days)d days") % {"kind": obs.get_kind_display(), "days": days}
        FollowUp.objects.filter(pk=followup.pk).update(done_note=note[:300], observation=obs)
        followup.refresh_from_db()
        record(acting_user, "census.followup.observe", obj=followup, detail={
            "campaign": followup.campaign_id, "observation": obs.pk, "kind": kind, "days": days})
    return obs
