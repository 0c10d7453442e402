"""Clinic triage writes as named actions (M18): posts, a visit screened at a post (one
call: who, temperature, symptoms, history, route), a fever at a gate opening a visit that
waits to be routed, the routing of such a visit, the outcome of a fever patient, and the
CDC's export tokens. Views, API, the gates and the demo call only these.

The state machine of a visit (VISIT_TRANSITIONS):

    waiting ──route──▶ tracking (fever clinic, isolation ward) | done (any other route)
    tracking ──test──▶ tested
    tracking, tested ──admit──▶ admitted
    tracking, tested ──release──▶ released

A visit screened at a post starts in tracking or done directly (it is routed as it is
recorded). Policy (POLICY): a visitor with a fever goes to the fever clinic or the isolation
ward, never home or away; one sent home with observation, or released from the fever clinic
with a risky history, has a home observation started through the observation module when
the registry knows the person (a walk-in not in the registry gets a note, no person made).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import crypto, registry
from fangkong.lib.health import body_temperature
from fangkong.lib.identity import (IdentityError, birth_date_from_id, mask_id, mask_name, mask_phone, normalize_id,
                                   normalize_phone, sex_from_id)
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (for callers)
from fangkong.places.models import Organization, Place

from .models import HISTORY, SYMPTOMS, ExportToken, Post, Visit

R, S = Visit.Route, Visit.State
TRACKED_ROUTES = (R.FEVER_CLINIC, R.ISOLATION_WARD)
FEVER_ROUTES = TRACKED_ROUTES  # where a visitor with a fever may be sent
OBSERVATION_DAYS = 14

VISIT_TRANSITIONS: dict[str, Transition] = {
    "route": Transition("clinic.triage", (S.WAITING,), S.DONE, gettext_lazy("Route")),
    "test": Transition("clinic.triage", (S.TRACKING,), S.TESTED, gettext_lazy("Tested")),
    "admit": Transition("clinic.triage", (S.TRACKING, S.TESTED), S.ADMITTED, gettext_lazy("Admitted")),
    "release": Transition("clinic.triage", (S.TRACKING, S.TESTED), S.RELEASED, pgettext_lazy("clinic outcome", "Released")),
}
OUTCOMES = ("test", "admit", "release")
TEST_RESULTS = ("negative", "positive", "pending")


def is_fever(temperature) -> bool:
    return temperature is not None and temperature >= settings.FEVER_THRESHOLD


def _bool(raw):
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in ("1", "true", "yes", "on", "y", "是")


# --- Posts ------------------------------------------------------------------------------

def create_post(*, acting_user, clinic: Organization, name: str) -> Post:
    name = str(name or "").strip()[:100]
    if clinic is None or clinic.kind != Organization.Kind.CLINIC:
        raise Invalid({"clinic": _("Choose a clinic")})
    if not name:
        raise Invalid({"name": _("Name the post, e.g. main gate")})
    with transaction.atomic():
        if Post.objects.filter(clinic=clinic, name=name).exists():
            raise Invalid({"name": _("This clinic already has a post of this name")})
        post = Post.objects.create(clinic=clinic, name=name, place_path=clinic.place_path)
        record(acting_user, "clinic.post.create", obj=post, detail={"clinic": clinic.pk})
    return post


# --- Cleaning what the screener typed ---------------------------------------------------

def _clean_history(raw: dict, out: dict) -> None:
    for key, _label in HISTORY:
        out[key] = _bool(raw.get(key))
    out["history_note"] = str(raw.get("history_note") or "").strip()[:200]


def _clean_symptoms(raw, errors: dict) -> str:
    if isinstance(raw, str):
        raw = [s for s in raw.replace("，", ",").split(",") if s.strip()]
    if raw is not None and not isinstance(raw, (list, tuple)):
        errors["symptoms"] = _("Unknown symptom: %(s)s") % {"s": str(raw)[:20]}
        return ""
    raw = [str(s).strip() for s in (raw or [])]
    known = dict(SYMPTOMS)
    bad = [s for s in raw if s not in known]
    if bad:
        errors["symptoms"] = _("Unknown symptom: %(s)s") % {"s": bad[0][:20]}
    chosen = [k for k, _l in SYMPTOMS if k in raw]
    return "," + ",".join(chosen) + "," if chosen else ""


def _clean_route(raw, temperature, errors: dict, *, required: bool = True) -> str:
    route = str(raw or "")
    if route not in R.values or (required and not route):
        errors["route"] = _("Choose where the visitor was sent")
    elif is_fever(temperature) and route not in FEVER_ROUTES and route != R.CLEARED:
        errors["route"] = _("A visitor with a fever goes to the fever clinic or the isolation ward")
    return route


def clean_visitor(raw: dict, errors: dict) -> dict:
    """Who the visitor is: by ID number, or by name and phone (a walk-in)."""
    out: dict = {}
    typed_id = str(raw.get("id_number") or "").strip()
    name = str(raw.get("name") or "").strip()
    typed_phone = str(raw.get("phone") or "").strip()
    out["name"] = name[:50]
    if len(name) > 50:
        errors["name"] = _("A name has at most 50 characters")
    out["id_number"] = ""
    if typed_id:
        try:
            out["id_number"] = normalize_id(typed_id)
        except IdentityError as exc:
            errors["id_number"] = str(exc.message)
    out["phone"] = ""
    if typed_phone:
        try:
            out["phone"] = normalize_phone(typed_phone)
        except IdentityError as exc:
            errors["phone"] = str(exc.message)
    if not typed_id and not (name and typed_phone) and "id_number" not in errors and "phone" not in errors:
        errors["id_number"] = _("Enter the ID number, or the name and phone of the visitor")
    sex = str(raw.get("sex") or "").upper()[:1]
    if sex and sex not in ("M", "F"):
        errors["sex"] = _("Choose male or female")
    age = raw.get("age")
    out["age"] = None
    if age not in (None, ""):
        try:
            out["age"] = int(str(age).strip())
            if not 0 <= out["age"] <= 130:
                raise ValueError
        except (TypeError, ValueError):
            errors["age"] = _("An age is a whole number of years, 0 to 130")
    if out["id_number"]:
        sex = sex or sex_from_id(out["id_number"])
        if out["age"] is None:
            born, today = birth_date_from_id(out["id_number"]), timezone.localdate()
            out["age"] = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    out["sex"] = sex
    out["address"] = str(raw.get("address") or "").strip()[:200]
    return out


def clean_screening(raw: dict, *, route_required: bool = True, temperature_required: bool = True) -> dict:
    if not isinstance(raw, dict):
        raise Invalid({"visit": _("Not a visit")})
    errors: dict = {}
    out: dict = {}
    try:
        out["temperature"] = body_temperature(raw.get("temperature"), required=temperature_required)
    except Invalid as exc:
        errors.update(exc.errors)
        out["temperature"] = None
    out["symptoms"] = _clean_symptoms(raw.get("symptoms"), errors)
    _clean_history(raw, out)
    out["route"] = _clean_route(raw.get("route"), out["temperature"], errors, required=route_required)
    out["note"] = str(raw.get("note") or "").strip()[:300]
    return out | {"_errors": errors}


def _street_path(path: str) -> str:
    """The path of the street above `path` (its root when there is no street above)."""
    from fangkong.places.access import ancestor_paths

    above = ancestor_paths(path)
    street = Place.objects.filter(path__in=above, kind=Place.Kind.STREET).values_list("path", flat=True).first()
    return street or (above[0] if above else path)


def _identity_fields(who: dict, *, street_path: str) -> dict:
    """The visitor's stored identity: encrypted ID and phone with blind indexes and masked
    forms, like the registry; the person of the registry linked when the street (the clinic's
    street) knows this ID number. Nothing is created in any community."""
    from fangkong.residents.models import Person

    fields = {"name": who["name"], "masked": mask_name(who["name"]), "sex": who["sex"], "age": who["age"],
              "address": who["address"], "person": None}
    if who["id_number"]:
        fields.update(id_enc=crypto.encrypt(who["id_number"]), id_bidx=crypto.blind_index("id", who["id_number"]),
                      id_masked=mask_id(who["id_number"]))
        fields["person"] = next(iter(Person.objects.filter(
            id_bidx__in=crypto.blind_indexes("id", who["id_number"]), place_path__under=street_path).order_by()[:1]), None)
        if fields["person"] is not None and not fields["name"]:
            fields["name"] = fields["person"].name
            fields["masked"] = mask_name(fields["person"].name)
    if who["phone"]:
        fields.update(phone_enc=crypto.encrypt(who["phone"]), phone_bidx=crypto.blind_index("phone", who["phone"]),
                      phone_masked=mask_phone(who["phone"]))
    return fields


def _state_for(route: str) -> str:
    return S.TRACKING if route in TRACKED_ROUTES else S.DONE


def _high_risk(clean: dict) -> bool:
    return any(clean.get(k) for k, _l in HISTORY)


# --- Observation through the observation module (policy) --------------------------------

def _start_observation(acting_user, visit: Visit, why: str) -> None:
    """Start home observation of the visitor when the registry knows the person; a note
    otherwise. Runs inside the caller's transaction (a refusal leaves a note, not a failure)."""
    if visit.person_id is None:
        visit.observation_note = _("Not in the registry: the community must start the observation")[:200]
        return
    from fangkong.observation import actions as observation

    try:
        with transaction.atomic():
            obs = observation.start(acting_user=acting_user, person=visit.person, kind="home_observation",
                                    days=OBSERVATION_DAYS, reason=why[:200])
        visit.observation_id = obs.pk
        visit.observation_note = ""
    except (observation.Conflict, Invalid):
        visit.observation_note = _("Already under a control measure")


# --- Visits at a post -------------------------------------------------------------------

def record_visit(*, acting_user, post: Post, data: dict, now: dt.datetime | None = None) -> tuple[Visit, bool]:
    """Record one visitor screened at `post` (idempotent on the device's client_id).
    Returns (visit, created). Invalid naming the field on bad input, nothing stored."""
    now = now or timezone.now()
    if not isinstance(data, dict):
        raise Invalid({"visit": _("Not a visit")})
    try:
        client_id = uuid.UUID(str(data.get("client_id") or "")) if data.get("client_id") else uuid.uuid4()
    except ValueError:
        raise Invalid({"client_id": _("The device must name the visit with a UUID")}) from None
    if not post.active:
        raise Conflict(_("This post is closed"))
    clean = clean_screening(data)
    errors = clean.pop("_errors")
    who = clean_visitor(data, errors)
    if errors:
        raise Invalid(errors)
    if not hasattr(post, "_street_path"):  # read once per post object (a device sends many visits)
        post._street_path = _street_path(post.place_path)
    fields = _identity_fields(who, street_path=post._street_path)
    visit = Visit(client_id=client_id, origin=Visit.Origin.POST, post=post, clinic_id=post.clinic_id,
                  place_id=post.clinic.place_id,
                  place_path=post.place_path, fever=is_fever(clean["temperature"]), high_risk=_high_risk(clean),
                  state=_state_for(clean["route"]), occurred_at=now, routed_at=now,
                  routed_by=acting_user if getattr(acting_user, "pk", None) else None, **clean, **fields)
    try:
        with transaction.atomic():
            if visit.route == R.HOME_OBSERVATION:
                _start_observation(acting_user, visit, _("Sent home with observation from the clinic's pre-screening"))
            visit.save()
            record(acting_user, "clinic.visit", obj=visit, detail={
                "post": post.pk, "route": visit.route, "fever": visit.fever, "high_risk": visit.high_risk,
                "registered": visit.person_id is not None, "observation": visit.observation_id})
    except IntegrityError:  # a resend: this client_id is stored already (the unique index decides)
        existing = Visit.objects.filter(client_id=client_id).first()
        if existing is None:
            raise
        if existing.post_id != post.pk:
            raise Invalid({"client_id": _("This visit id was already used at another post")}) from None
        return existing, False
    if visit.fever:
        transaction.on_commit(lambda: _alert(visit, post.clinic.name))
    return visit, True


def _alert(visit: Visit, place_name: str) -> None:
    registry.raise_alert(registry.Alert(
        kind="clinic.fever" if visit.origin == Visit.Origin.POST else "gate.fever",
        place_path=visit.place_path, perms=("observation.alerted",),
        text=_("Fever %(temp)s °C at %(place)s: %(who)s") % {
            "temp": visit.temperature, "place": place_name, "who": visit.masked or _("a person without a pass")},
        obj_type="clinic.visit", obj_id=visit.pk, org_id=visit.clinic_id,
    ))


# --- Fevers at the gates ----------------------------------------------------------------

def gate_visit(entry, *, travel=None, contact=None) -> Visit:
    """The (unsaved) visit a fever at a gate opens: waiting to be routed."""
    return Visit(client_id=uuid.uuid4(), origin=Visit.Origin.GATE, gate_entry_id=entry.pk, place_id=entry.place_id,
                 place_path=entry.place_path, masked=entry.masked, pass_id=entry.pass_id, temperature=entry.temperature,
                 fever=True, source_area=travel, contact_source=contact, high_risk=bool(travel or contact),
                 state=S.WAITING, occurred_at=entry.received_at)


def open_from_gates(entries: list, place_names: dict | None = None) -> list[Visit]:
    """Open a waiting visit for each fever entry (inside the gates' transaction); the
    medics and the grid worker are alerted once it commits. Returns the visits."""
    if not entries:
        return []
    visits = [gate_visit(e, travel=getattr(e, "_answers", (None, None))[0], contact=getattr(e, "_answers", (None, None))[1])
              for e in entries]
    if len(visits) == 1:
        visits[0].save()
        made = visits
    else:
        made = Visit.objects.bulk_create(visits, batch_size=500)
    for visit, entry in zip(made, entries):
        name = (place_names or {}).get(entry.place_id) or entry.place.name
        transaction.on_commit(lambda v=visit, n=name: _alert(v, n))
    return made


def route_visit(*, acting_user, visit: Visit, data: dict) -> Visit:
    """Screen and route a visit waiting since a fever at a gate. Conflict if it has been
    routed already (two medics at once: the row lock lets one win)."""
    clean = clean_screening(data if isinstance(data, dict) else {}, temperature_required=False)
    errors = clean.pop("_errors")
    temperature = clean["temperature"] if clean["temperature"] is not None else visit.temperature
    if "route" not in errors:  # the policy, on the re-measured temperature or the gate's
        _clean_route(clean["route"], temperature, errors)
    if errors:
        raise Invalid(errors)
    now = timezone.now()
    changes = {k: v for k, v in clean.items() if k not in ("temperature", "note")}
    for key, _label in HISTORY:  # an answer left blank keeps the gate's
        if changes[key] is None:
            changes[key] = getattr(visit, key)
    changes.update(temperature=temperature, fever=is_fever(temperature) or visit.fever,
                   high_risk=any(changes[k] for k, _l in HISTORY), state=_state_for(clean["route"]),
                   routed_at=now, routed_by=acting_user if getattr(acting_user, "pk", None) else None)
    if clean["note"]:
        changes["note"] = clean["note"]
    with transaction.atomic():
        visit = apply_transition(Visit.objects, visit, VISIT_TRANSITIONS["route"], changes=changes,
                                 refused=gettext_lazy("This visit has been routed already"))
        if visit.route == R.HOME_OBSERVATION:
            _start_observation(acting_user, visit, _("Sent home with observation after a fever at a gate"))
            Visit.objects.filter(pk=visit.pk).update(observation_id=visit.observation_id,
                                                     observation_note=visit.observation_note)
        record(acting_user, "clinic.visit.route", obj=visit, detail={"route": visit.route, "origin": visit.origin})
    return visit


# --- Outcomes of fever patients ---------------------------------------------------------

def record_outcome(*, acting_user, visit: Visit, action: str, note: str = "", result: str = "") -> Visit:
    """An outcome of a routed fever patient: tested (with the result if known), admitted
    or released. Not allowed from the current state → Conflict (409)."""
    if action not in OUTCOMES:
        raise Invalid({"action": _("Choose tested, admitted or released")})
    result = str(result or "")
    if action == "test" and result not in TEST_RESULTS:
        raise Invalid({"result": _("Choose the test result (pending if not known yet)")})
    t = VISIT_TRANSITIONS[action]
    changes = {"outcome_at": timezone.now(), "outcome_by": acting_user if getattr(acting_user, "pk", None) else None,
               "outcome_note": str(note or "").strip()[:300]}
    if result:
        changes["test_result"] = result
    with transaction.atomic():
        visit = apply_transition(Visit.objects, visit, t, changes=changes, lower=True,
                                 refused=gettext_lazy("Cannot record “%(action)s”: the visit is “%(state)s”"))
        if action == "release" and visit.high_risk and visit.observation_id is None:
            _start_observation(acting_user, visit, _("Released from the fever clinic with a risky history"))
            Visit.objects.filter(pk=visit.pk).update(observation_id=visit.observation_id,
                                                     observation_note=visit.observation_note)
        record(acting_user, f"clinic.visit.{action}", obj=visit, detail={"result": result})
    return visit


# --- The CDC's export and its tokens -----------------------------------------------------

def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(*, acting_user, name: str, place: Place | None, unmasked: bool = False) -> tuple[ExportToken, str]:
    """A token for the named upstream system; returns (token, the secret shown once)."""
    name = str(name or "").strip()[:100]
    errors = {}
    if not name:
        errors["name"] = _("Name the system that will use the token")
    if place is None:
        errors["place"] = _("Choose the area whose report the system pulls")
    if errors:
        raise Invalid(errors)
    prefix = secrets.token_hex(4)
    secret = f"fkc_{prefix}_{secrets.token_urlsafe(24)}"
    with transaction.atomic():
        token = ExportToken.objects.create(name=name, place=place, place_path=place.path, prefix=prefix,
                                           secret_hash=_hash(secret), unmasked=bool(unmasked),
                                           created_by=acting_user if getattr(acting_user, "pk", None) else None)
        record(acting_user, "clinic.token.create", obj=token, detail={"name": name, "unmasked": token.unmasked})
    return token, secret


def revoke_token(*, acting_user, token: ExportToken) -> ExportToken:
    with transaction.atomic():
        if not ExportToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            raise Conflict(_("This token is revoked already"))
        token.refresh_from_db()
        record(acting_user, "clinic.token.revoke", obj=token, detail={"name": token.name})
    return token


def check_token(secret: str) -> ExportToken | None:
    """The live token whose secret this is, or None: the access module's check of the
    credential kind "clinic.report" (places.access.token_auth). A secret naming a known
    token that is revoked, or with the wrong secret, is refused and audited under the
    token's name; an unknown one is not (nothing to name)."""
    secret = str(secret or "").strip()
    if not secret.startswith("fkc_") or len(secret) > 100:
        return None
    parts = secret.split("_")
    token = ExportToken.objects.filter(prefix=parts[1] if len(parts) > 2 else "").first()
    if token is None:
        return None
    reason = ("revoked" if token.revoked_at is not None
              else "" if secrets.compare_digest(token.secret_hash, _hash(secret)) else "wrong secret")
    if reason:
        record(None, "clinic.export.pull", obj=token, outcome="denied", place_path=token.place_path,
               detail={"token": token.name, "reason": reason})
        return None
    return token


def audit_export(*, acting_user, day: dt.date, rows: int, unmasked: bool, fmt: str, token: ExportToken | None = None,
                 place_path: str = "") -> None:
    """Every export is audited: who (user or token), which day, how many rows, unmasked or not."""
    with transaction.atomic():
        if token is not None:
            ExportToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        record(acting_user, "clinic.export.pull" if token is not None else "clinic.export",
               obj=token, place_path=place_path, detail={
                   "day": day.isoformat(), "rows": rows, "unmasked": unmasked, "format": fmt,
                   "token": token.name if token is not None else ""})

