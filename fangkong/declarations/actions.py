"""Self-declaration, grid watch and the credit record as named actions (keyword-only,
acting_user, one transaction, an audit event). Pages, API and tests call only these.

Three state machines, each one table:

* DECLARATION: submitted → follow_up → verified | found_false (found false opens a
  credit entry with the evidence);
* FINDING (grid watch): recorded → confirmed (a credit entry) | dismissed — recorded by a
  grid worker, confirmed by the committee, so no entry rests on one person's word;
* APPEAL: open → upheld | revoked (the entry is revoked and stays in the history).

A transition that is not allowed from the current state, or that lost a race with another
one, is a Conflict (409); bad input is Invalid with field errors (400/422).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import crypto
from fangkong.lib.health import body_temperature
from fangkong.lib.identity import IdentityError, has_numbers, mask_numbers, normalize_id, normalize_phone
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition
from fangkong.residents.actions import encrypted_fields
from fangkong.residents.models import Person
from fangkong.residents.validation import clean_name, parse_date

from .models import SYMPTOM_KEYS, Appeal, CreditEntry, Declaration, Finding, Point

__all__ = ["Conflict", "Invalid"]
log = logging.getLogger(__name__)

D = Declaration.State
FS = Finding.State
AS = Appeal.State

DECLARATION_TRANSITIONS: dict[str, Transition] = {
    "verify": Transition("declarations.verify", (D.SUBMITTED, D.FOLLOW_UP), D.VERIFIED, gettext_lazy("Verified true")),
    "follow_up": Transition("declarations.verify", (D.SUBMITTED,), D.FOLLOW_UP, gettext_lazy("Needs follow-up")),
    "find_false": Transition("declarations.verify", (D.SUBMITTED, D.FOLLOW_UP), D.FOUND_FALSE, gettext_lazy("Found false")),
}
FINDING_TRANSITIONS: dict[str, Transition] = {
    "confirm": Transition("declarations.confirm", (FS.RECORDED,), FS.CONFIRMED, gettext_lazy("Confirm the finding")),
    "dismiss": Transition("declarations.confirm", (FS.RECORDED,), FS.DISMISSED, gettext_lazy("Dismiss the finding")),
}
APPEAL_TRANSITIONS: dict[str, Transition] = {
    "uphold": Transition("credit.decide_appeal", (AS.OPEN,), AS.UPHELD, gettext_lazy("Uphold the entry")),
    "revoke": Transition("credit.decide_appeal", (AS.OPEN,), AS.REVOKED, gettext_lazy("Revoke the entry")),
}

CS = CreditEntry.State
# A credit entry changes only by an appeal's decision: "revoke" (it stays, marked revoked).
CREDIT_TRANSITIONS: dict[str, Transition] = {
    "revoke": Transition("credit.decide_appeal", (CS.ACTIVE,), CS.REVOKED, gettext_lazy("Revoke the entry")),
}

LOOKBACK_DAYS = 14  # travel "in the last 14 days"
MAX_TRAVEL_ROWS = 5
# Public page: at most this many new declarations from one network address per window
# (a family or a compound behind one address stays well below it).
RATE_LIMIT = 30
RATE_WINDOW = dt.timedelta(minutes=10)
FINDING_MAX_AGE_DAYS = 60

YES = {"yes", "y", "true", "1", "on", "是", "有"}
NO = {"no", "n", "false", "0", "off", "否", "无", "没有"}


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


class RateLimited(Exception):
    """Too many declarations from one address: HTTP 429."""


# --- Entry points (the community's QR code) ---------------------------------------------

@transaction.atomic
def ensure_point(*, acting_user, place) -> Point:
    """The community's entry point, created with a fresh unguessable code on first use."""
    if place is None or place.kind != "community":
        raise Invalid({"place": _("Choose a community")})
    point = Point.objects.filter(place=place).first()
    if point is not None:
        return point
    try:
        with transaction.atomic():
            point = Point.objects.create(place=place, place_path=place.path, code=secrets.token_urlsafe(16),
                                         created_by=_user(acting_user))
    except IntegrityError:  # a concurrent first use created it
        return Point.objects.get(place=place)
    record(acting_user, "declarations.point.create", obj=point, detail={"place": place.pk})
    return point


@transaction.atomic
def renew_code(*, acting_user, point: Point) -> Point:
    """A new code for the community's QR code (the printed one was abused or leaked): the
    old code stops working at once; declarations already made stay."""
    Point.objects.filter(pk=point.pk).update(code=secrets.token_urlsafe(16))
    point.refresh_from_db()
    record(acting_user, "declarations.point.renew", obj=point, detail={"place": point.place_id})
    return point


def point_for_code(code: str) -> Point | None:
    code = str(code or "")
    if not 16 <= len(code) <= 40 or not code.isascii():
        return None
    return Point.objects.select_related("place").filter(code=code, active=True).first()


# --- Public declaration -------------------------------------------------------------------

def _yes_no(raw) -> bool | None:
    if isinstance(raw, bool):
        return raw
    text = str(raw if raw is not None else "").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None


def validate(data: dict, *, today: dt.date | None = None) -> tuple[dict, dict]:
    """(clean, errors) of a declaration's raw fields, errors keyed by field name (travel rows
    as "travel.<i>.<place|from|to>"), in the user's language."""
    today = today or timezone.localdate()
    clean: dict = {}
    errors: dict = {}
    try:
        clean["name"] = clean_name(data.get("name"))
    except IdentityError as exc:
        errors["name"] = str(exc.message)
    try:
        clean["id_number"] = normalize_id(data.get("id_number"))
    except IdentityError as exc:
        errors["id_number"] = str(exc.message)
    try:
        clean["phone"] = normalize_phone(data.get("phone"))
    except IdentityError as exc:
        errors["phone"] = str(exc.message)
    address = str(data.get("address") or "").strip()
    if not address or len(address) > 200:
        errors["address"] = _("Enter your current address in this community (at most 200 characters)")
    elif has_numbers(address):
        errors["address"] = _("An address holds no ID or phone number")
    clean["address"] = address

    try:
        clean["temperature"] = body_temperature(data.get("temperature"))
    except Invalid as exc:
        clean["temperature"] = None
        errors.update(exc.errors)

    raw_symptoms = data.get("symptoms") or []
    if isinstance(raw_symptoms, str):
        raw_symptoms = [s for s in raw_symptoms.replace("，", ",").split(",")]
    symptoms = [str(s).strip() for s in raw_symptoms if str(s).strip()]
    unknown = [s for s in symptoms if s not in SYMPTOM_KEYS and s != "none"]
    if unknown:
        errors["symptoms"] = _("Not a listed symptom: %(v)s") % {"v": "、".join(unknown)[:60]}
    elif not symptoms:
        errors["symptoms"] = _("Tick your symptoms, or “none”")
    elif "none" in symptoms and len(symptoms) > 1:
        errors["symptoms"] = _("“None” cannot go with a symptom")
    clean["symptoms"] = [s for s in SYMPTOM_KEYS if s in symptoms]

    for field in ("risk_area", "contact_case", "contact_risk_area"):
        value = _yes_no(data.get(field))
        if value is None:
            errors[field] = _("Answer yes or no")
        clean[field] = bool(value)

    rows = data.get("travel") or []
    if not isinstance(rows, (list, tuple)):
        rows = []
    travel = []
    earliest = today - dt.timedelta(days=LOOKBACK_DAYS)
    given = [(i, r) for i, r in enumerate(rows) if isinstance(r, dict) and any(str(r.get(k) or "").strip()
                                                                                for k in ("place", "from", "to"))]
    if len(given) > MAX_TRAVEL_ROWS:
        errors["travel"] = _("At most %(n)d places") % {"n": MAX_TRAVEL_ROWS}
    for i, row in given[:MAX_TRAVEL_ROWS]:
        where = f"travel.{i}"
        place = str(row.get("place") or "").strip()
        if not place or len(place) > 100:
            errors[f"{where}.place"] = _("Name the place (at most 100 characters)")
        elif has_numbers(place):
            errors[f"{where}.place"] = _("A place holds no ID or phone number")
        days = {}
        for key in ("from", "to"):
            try:
                days[key] = parse_date(row.get(key))
            except IdentityError as exc:
                errors[f"{where}.{key}"] = str(exc.message)
                continue
            if days[key] is None:
                errors[f"{where}.{key}"] = _("Enter the date")
            elif days[key] > today:
                errors[f"{where}.{key}"] = _("This date is in the future")
        if days.get("from") and days.get("to"):
            if days["from"] > days["to"]:
                errors[f"{where}.to"] = _("The last day is on or after the first")
            elif days["to"] < earliest:
                errors[f"{where}.from"] = _("Only travel in the last %(n)d days is declared") % {"n": LOOKBACK_DAYS}
            else:
                travel.append({"place": place, "from": max(days["from"], earliest).isoformat(),
                               "to": days["to"].isoformat()})
    if clean.get("risk_area") and not given and "risk_area" not in errors:
        errors["travel"] = _("Give the places and dates of your travel")
    clean["travel"] = travel

    note = str(data.get("note") or "").strip()
    if len(note) > 300:
        errors["note"] = _("At most 300 characters")
    clean["note"] = mask_numbers(note)
    if _yes_no(data.get("pledge")) is not True:
        errors["pledge"] = _("Confirm that what you declare is true")
    return clean, errors


def is_risk(clean: dict) -> bool:
    t = clean.get("temperature")
    return bool(clean.get("symptoms") or clean.get("risk_area") or clean.get("contact_case")
                or clean.get("contact_risk_area") or (t is not None and t >= settings.FEVER_THRESHOLD))


def _form_key(point: Point, client_key: str) -> str:
    """The stored key of a form: hashed with its entry point, so keys of any length and of
    different communities never collide."""
    client_key = str(client_key or "").strip()[:200]
    return hashlib.sha256(f"{point.pk}:{client_key}".encode()).hexdigest() if client_key else ""


def client_hash(ip: str) -> str:
    return crypto.blind_index("declare-client", ip or "unknown")


def _serial() -> str:
    return f"SB{timezone.localdate():%y%m%d}-{secrets.token_hex(4).upper()}"


def submit(*, acting_user=None, point: Point, data: dict, client_key: str = "", client_ip: str = "",
           at: dt.datetime | None = None, person: Person | None = None) -> Declaration:
    """A resident's declaration through the community's entry point. A declaration from
    the public page (no `person`) is anyone's word about the ID number typed: it stays
    unmatched, so it is nobody's health state and nobody's credit record, until a grid
    worker who checked with the person matches it (`match`). When the number is
    registered in the community, the declaration goes to that person's grid to check
    (its place path), else it stays at the community. A declaration made through the
    person's own link (`person`) is theirs, matched at once. A resend of the same form
    (same client key) returns the first declaration (`created` False)."""
    key = _form_key(point, client_key)
    clean, errors = validate(data)
    if key:
        existing = Declaration.objects.filter(client_key=key).first()
        # A resend is the same form of the same person: a key sent with another ID number
        # (a guessed or reused key) gets nobody's receipt.
        if (existing is not None and not errors and existing.id_bidx in crypto.blind_indexes("id", clean["id_number"])
                and existing.person_id == (person.pk if person is not None else existing.person_id)):
            existing.created = False
            return existing
        if existing is not None:
            raise Conflict(_("This form was sent already; open the page again to declare anew"))
    if errors:
        raise Invalid(errors)
    at = at or timezone.now()
    who = client_hash(client_ip)
    if Declaration.objects.filter(client_hash=who, submitted_at__gte=at - RATE_WINDOW).count() >= RATE_LIMIT:
        raise RateLimited()
    bidxs = crypto.blind_indexes("id", clean["id_number"])
    if person is not None and person.id_bidx not in bidxs:
        raise Invalid({"id_number": _("This is not the ID number of the person of this link")})
    registered = person or Person.objects.filter(id_bidx__in=bidxs, place_path__under=point.place_path).first()
    risk = is_risk(clean)
    fields = encrypted_fields(clean["id_number"], clean["phone"])
    try:
        with transaction.atomic():
            decl = Declaration.objects.create(
                point=point, community_id=point.place_id, person=person,
                place_path=registered.place_path if registered is not None else point.place_path,
                serial=_serial(), name=clean["name"], name_matches=person is None or person.name == clean["name"],
                address=clean["address"], temperature=clean["temperature"],
                symptoms="," + ",".join(clean["symptoms"]) + "," if clean["symptoms"] else "",
                travel=clean["travel"], risk_area=clean["risk_area"], contact_case=clean["contact_case"],
                contact_risk_area=clean["contact_risk_area"], note=clean["note"], risk=risk, submitted_at=at,
                client_key=key or None, client_hash=who, **fields)
            record(acting_user, "declarations.submit", obj=decl, detail={
                "serial": decl.serial, "community": point.place_id, "matched": person is not None, "risk": risk,
                "personal_link": person is not None})
            if risk:
                transaction.on_commit(lambda: _tell_risk(decl))
    except IntegrityError:
        existing = Declaration.objects.filter(client_key=key).first() if key else None
        if existing is None:
            raise
        existing.created = False
        return existing
    decl.created = True
    return decl


def _notify(**kwargs) -> None:
    """A message through the notifications module; a failure is logged and never undoes
    what the person or the worker recorded (their lists show it anyway)."""
    from fangkong.notify.actions import notify

    try:
        with translation.override(settings.LANGUAGE_CODE):
            notify(**{k: (v() if callable(v) else v) for k, v in kwargs.items()})
    except Exception:
        log.exception("declarations: notification %s failed", kwargs.get("kind"))


def _tell_risk(decl: Declaration) -> None:
    from django.urls import reverse

    # Those who verify declarations over its place: matched, the person's grid (its workers
    # and the committee above it); unmatched, the community, where the committee registers
    # or matches the person.
    perms = ("declarations.verify",)
    _notify(kind="declarations.risk", perms=perms, place_path=decl.place_path, obj=decl,
            link=reverse("declarations_detail", args=[decl.pk]), dedupe_key=f"declarations.risk:{decl.pk}",
            title=lambda: _("Self-declaration with a risk: %(serial)s") % {"serial": decl.serial},
            body=lambda: f"{decl.name_masked} {decl.id_masked}: " + "；".join(risk_reasons(decl)))


def risk_reasons(decl: Declaration) -> list[str]:
    out = []
    if decl.temperature is not None and decl.temperature >= settings.FEVER_THRESHOLD:
        out.append(_("temperature %(t)s °C") % {"t": decl.temperature})
    if decl.symptom_list:
        out.append(_("symptoms: %(s)s") % {"s": "、".join(decl.symptom_labels())})
    if decl.risk_area:
        out.append(_("been to a risk area"))
    if decl.contact_case:
        out.append(_("contact with confirmed or suspected cases"))
    if decl.contact_risk_area:
        out.append(_("contact with people from risk areas"))
    return out


# --- Verification by the grid -------------------------------------------------------------

def _note(note, *, required: bool, missing: str, most: int, too_long: str) -> str:
    """The note of a decision, stripped: `missing` if required and empty, `too_long` past `most` characters."""
    note = str(note or "").strip()
    if required and not note:
        raise Invalid({"note": missing})
    if len(note) > most:
        raise Invalid({"note": too_long})
    return note


def check(*, acting_user, declaration: Declaration, action: str, note: str = "") -> Declaration:
    """A grid worker's verification of a declaration. Found false needs the evidence and a
    matched person; it opens the person's credit entry in the same transaction."""
    t = DECLARATION_TRANSITIONS[action]
    note = mask_numbers(_note(note, required=action == "find_false", most=1000, too_long=_("At most 1000 characters"),
                              missing=_("Give the evidence that the declaration is false")))
    with transaction.atomic():
        def check(current):
            if action == "find_false" and current.person_id is None:
                raise Conflict(_("Match the declaration to a registered person first"))

        current = apply_transition(
            Declaration.objects, declaration, t, check=check,
            changes={"checked_at": timezone.now(), "checked_by": _user(acting_user), "check_note": note},
            refused=gettext_lazy("Cannot mark it “%(action)s”: the declaration is “%(state)s”"),
            changed=gettext_lazy("The declaration was changed by someone else; reload it"))
        entry = None
        if action == "find_false":
            entry = _entry(acting_user, person=current.person, kind=CreditEntry.Kind.FALSE_DECLARATION,
                           reason=_("Self-declaration %(serial)s found false") % {"serial": current.serial},
                           evidence=note, day=timezone.localdate(current.submitted_at), declaration=current)
        record(acting_user, f"declarations.{action}", obj=current, detail={
            "serial": current.serial, "state": current.state, "credit_entry": entry.pk if entry else None})
    return current


@transaction.atomic
def match(*, acting_user, declaration: Declaration) -> Declaration:
    """Match an unmatched declaration to the registered person with its ID number, among
    the persons the acting user sees: the grid worker says they checked with the person
    that the declaration is theirs (a public declaration is anyone's word until then).
    Only a matched declaration can be found false and so enter a credit record."""
    from fangkong.residents.queries import person_by_id_number

    current = Declaration.objects.select_for_update().get(pk=declaration.pk)
    if current.person_id is not None:
        raise Conflict(_("This declaration is matched already"))
    # Among the persons the user may verify declarations of (not any registry grant they hold).
    person = person_by_id_number(acting_user, "declarations.verify", current.id_number())
    if person is None:
        raise Conflict(_("Nobody with this ID number is registered in your area; register the person first"))
    Declaration.objects.filter(pk=current.pk).update(person=person, place_path=person.place_path,
                                                     name_matches=person.name == current.name,
                                                     version=F("version") + 1)
    current.refresh_from_db()
    record(acting_user, "declarations.match", obj=current, detail={"serial": current.serial, "person": person.pk})
    return current


# --- Grid watch (网格盯防) ------------------------------------------------------------------

@transaction.atomic
def record_finding(*, acting_user, person: Person | None, kind: str, evidence: str, found_on=None) -> Finding:
    """A grid worker's finding that a person of the grid left a risk undeclared. The caller
    has checked that the person is in the user's scope."""
    evidence = str(evidence or "").strip()
    errors = {}
    today = timezone.localdate()
    if person is None:
        errors["person"] = _("Choose a registered person of your area")
    if kind not in Finding.Kind.values:
        errors["kind"] = _("Choose what was left undeclared")
    if not evidence or len(evidence) > 1000:
        errors["evidence"] = _("Describe the evidence (at most 1000 characters)")
    try:
        day = parse_date(found_on) if found_on not in (None, "") else today
    except IdentityError as exc:
        errors["found_on"] = str(exc.message)
        day = None
    if day is not None and not today - dt.timedelta(days=FINDING_MAX_AGE_DAYS) <= day <= today:
        errors["found_on"] = _("A day in the last %(n)d days") % {"n": FINDING_MAX_AGE_DAYS}
    if errors:
        raise Invalid(errors)
    finding = Finding.objects.create(person=person, place_path=person.place_path, kind=kind,
                                     evidence=mask_numbers(evidence), found_on=day, recorded_at=timezone.now(),
                                     recorded_by=_user(acting_user))
    record(acting_user, "declarations.finding.record", obj=finding, detail={"person": person.pk, "kind": kind})
    return finding


def decide_finding(*, acting_user, finding: Finding, action: str, note: str = "") -> Finding:
    t = FINDING_TRANSITIONS[action]
    note = _note(note, required=action == "dismiss", missing=_("Say why the finding is dismissed"), most=500,
                 too_long=_("At most 500 characters"))
    with transaction.atomic():
        current = apply_transition(
            Finding.objects, finding, t,
            changes={"decided_at": timezone.now(), "decided_by": _user(acting_user), "decision_note": mask_numbers(note)},
            refused=gettext_lazy("Cannot “%(action)s”: the finding is “%(state)s”"),
            changed=gettext_lazy("The finding was changed by someone else; reload it"))
        entry = None
        if action == "confirm":
            entry = _entry(acting_user, person=current.person, kind=CreditEntry.Kind.UNDECLARED_RISK,
                           reason=str(current.get_kind_display()), evidence=current.evidence, day=current.found_on,
                           finding=current)
        record(acting_user, f"declarations.finding.{action}", obj=current, detail={
            "state": current.state, "credit_entry": entry.pk if entry else None})
    return current


# --- Credit record --------------------------------------------------------------------------

def _entry(acting_user, *, person, kind, reason, evidence, day, declaration=None, finding=None) -> CreditEntry:
    entry = CreditEntry.objects.create(person=person, place_path=person.place_path, kind=kind, reason=reason[:300],
                                       evidence=evidence[:1000], day=day, created_at=timezone.now(),
                                       recorded_by=_user(acting_user), declaration=declaration, finding=finding)
    record(acting_user, "credit.entry.create", obj=entry, detail={"person": person.pk, "kind": kind})
    return entry


def file_appeal(*, acting_user=None, person: Person, entry: CreditEntry, text: str) -> Appeal:
    """The person's appeal against their own entry (by their personal link). One open
    appeal per entry; a revoked entry takes none."""
    text = str(text or "").strip()
    if not text or len(text) > 1000:
        raise Invalid({"text": _("Say why the entry is wrong (at most 1000 characters)")})
    if entry.person_id != person.pk:
        raise Invalid({"entry": _("Choose one of your entries")})
    try:
        with transaction.atomic():
            current = CreditEntry.objects.select_for_update().get(pk=entry.pk)
            if current.state != CreditEntry.State.ACTIVE:
                raise Conflict(_("This entry is revoked already"))
            if Appeal.objects.filter(entry=current, state=AS.OPEN).exists():
                raise Conflict(_("Your appeal against this entry awaits the committee's decision"))
            with transaction.atomic():
                appeal = Appeal.objects.create(entry=current, place_path=current.place_path, text=mask_numbers(text),
                                               filed_at=timezone.now())
            record(acting_user, "credit.appeal.file", obj=appeal, detail={"entry": current.pk})
            transaction.on_commit(lambda: _tell_appeal(appeal))
    except IntegrityError:  # a concurrent appeal against the same entry won
        raise Conflict(_("Your appeal against this entry awaits the committee's decision")) from None
    return appeal


def _tell_appeal(appeal: Appeal) -> None:
    from django.urls import reverse

    entry = appeal.entry
    _notify(kind="credit.appeal", perms=("credit.decide_appeal",), place_path=appeal.place_path, obj=appeal,
            link=reverse("credit_detail", args=[entry.pk]), dedupe_key=f"credit.appeal:{appeal.pk}",
            title=lambda: _("Appeal against a credit-record entry"),
            body=lambda: f"{entry.person.name[:1]}** {entry.person.id_masked}: {entry.reason}")


def decide_appeal(*, acting_user, appeal: Appeal, action: str, reason: str) -> Appeal:
    """The committee's decision: uphold the entry, or revoke it (it stays, marked revoked)."""
    t = APPEAL_TRANSITIONS[action]
    reason = str(reason or "").strip()
    if not reason or len(reason) > 500:
        raise Invalid({"reason": _("Give the reason of the decision (at most 500 characters)")})
    with transaction.atomic():
        now = timezone.now()
        current = apply_transition(
            Appeal.objects, appeal, t,
            changes={"decided_at": now, "decided_by": _user(acting_user), "decision_reason": mask_numbers(reason)},
            refused=gettext_lazy("This appeal is decided already (%(state)s)"),
            changed=gettext_lazy("The appeal was changed by someone else; reload it"))
        if action == "revoke":  # a revoked entry already: the whole decision is rolled back
            apply_transition(CreditEntry.objects, CreditEntry(pk=current.entry_id), CREDIT_TRANSITIONS["revoke"],
                             changes={"revoked_at": now}, refused=gettext_lazy("This entry is revoked already"))
        record(acting_user, f"credit.appeal.{action}", obj=current, detail={"entry": current.entry_id,
                                                                            "state": current.state})
    return current
