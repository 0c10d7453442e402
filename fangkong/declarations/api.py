"""JSON API of self-declaration and the credit record: the same actions and access checks
as the pages. The public submit names the community's entry point by its code in the body
(no place id); the resident's own entries and appeals use the personal link's token in
the X-Resident-Token header."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib import throttle
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, link_auth, public_api
from fangkong.residents.models import Person

from . import actions, queries
from .models import Appeal, CreditEntry, Declaration, Finding

router = Router(tags=["declarations"])


class DeclareIn(Schema):
    code: str = ""
    name: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    temperature: str | float | None = None
    symptoms: list[str] = []
    travel: list[dict[str, str]] = []  # [{"place": ..., "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}]
    risk_area: str | bool | None = None
    contact_case: str | bool | None = None
    contact_risk_area: str | bool | None = None
    note: str = ""
    pledge: bool = False
    client_key: str = ""


class ReceiptOut(Schema):
    serial: str
    name_masked: str
    id_masked: str
    phone_masked: str
    submitted_at: dt.datetime
    risk: bool


@router.post("/declarations/public", response={201: ReceiptOut, 200: ReceiptOut},
             summary="A resident's self-declaration through a community's entry point (its QR code's code); "
                     "the receipt shows only masked numbers", **public_api("public self-declaration (QR code)"))
def submit(request, payload: DeclareIn):
    refused = throttle.per_address(request, "public-form", settings.PUBLIC_FORM_RATE)
    if refused is not None:
        return refused
    point = actions.point_for_code(payload.code)
    if point is None:
        raise Invalid({"code": _("Unknown declaration code: scan the QR code of your community again")})
    data = payload.dict()
    try:
        decl = actions.submit(acting_user=None, point=point, data=data, client_key=payload.client_key,
                              client_ip=request.META.get("REMOTE_ADDR", ""))
    except actions.RateLimited:
        raise HttpError(429, _("Too many declarations from this network just now. Please try again in a few minutes.")) from None
    return Status(201 if decl.created else 200, decl)


class DeclarationOut(Schema):
    id: int
    serial: str
    person_id: int | None
    name: str
    id_masked: str
    phone_masked: str
    address: str
    temperature: float | None
    symptoms: list[str] = Field(..., alias="symptom_list")
    travel: list[dict]
    risk_area: bool
    contact_case: bool
    contact_risk_area: bool
    risk: bool
    state: str
    submitted_at: dt.datetime
    checked_at: dt.datetime | None
    check_note: str


@router.get("/declarations", response=list[DeclarationOut],
            summary="Declarations to verify in the user's scope (state=open|verified|found_false), risky first",
            auth=api_perm("declarations.view"))
def queue(request, state: str = "open", unmatched: bool = False):
    record(request.user, "declarations.list", detail={"state": state, "api": True})
    return list(queries.queue(request.user, state, unmatched)[:200])


@router.get("/declarations/{pk}", response=DeclarationOut, auth=api_perm("declarations.view", obj=Declaration))
def get_declaration(request, pk: int):
    decl = get_in_scope(queries.declarations(request.user), request.user, "declarations.view", pk=pk)
    record(request.user, "declarations.view", obj=decl, detail={"serial": decl.serial})
    return decl


class DeclarationCheckIn(Schema):
    action: str = ""  # verify | follow_up | find_false
    note: str = ""


@router.post("/declarations/{pk}/check", response=DeclarationOut,
             summary="Verify a declaration: verify (true) | follow_up | find_false (evidence in note; opens a credit entry)",
             auth=api_perm("declarations.verify", obj=Declaration))
def check(request, pk: int, payload: DeclarationCheckIn):
    decl = _chosen(request, Declaration, pk, payload.action, actions.DECLARATION_TRANSITIONS,
                   _("Choose verify, follow_up or find_false"))
    return actions.check(acting_user=request.user, declaration=decl, action=payload.action, note=payload.note)


def _chosen(request, model, pk: int, action: str, table: dict, choose: str):
    """The object the pk names (404 outside the user's scope for the table's permission),
    for a transition of `table` named in the body (else 422 on "action": `choose`)."""
    t = table.get(action) or next(iter(table.values()))  # the transition's own permission decides the scope
    obj = get_in_scope(model.objects.all(), request.user, t.perm, pk=pk)
    if action not in table:
        raise Invalid({"action": choose})
    return obj


@router.post("/declarations/{pk}/match", response=DeclarationOut,
             summary="Match an unmatched declaration to the registered person with its ID number",
             auth=api_perm("declarations.verify", obj=Declaration))
def match(request, pk: int):
    decl = get_in_scope(Declaration.objects.all(), request.user, "declarations.verify", pk=pk)
    return actions.match(acting_user=request.user, declaration=decl)


# --- Grid watch ----------------------------------------------------------------------------

class FindingIn(Schema):
    person_id: int | None = None
    id_number: str = ""
    kind: str = ""
    evidence: str = ""
    found_on: str = ""


class FindingOut(Schema):
    id: int
    person_id: int
    kind: str
    evidence: str
    found_on: dt.date
    state: str
    recorded_at: dt.datetime


@router.get("/findings", response=list[FindingOut], summary="Grid-watch findings in scope",
            auth=api_perm("declarations.view"))
def list_findings(request, state: str = ""):
    return list(queries.findings(request.user, state if state in Finding.State.values else "")[:200])


@router.post("/findings", response={201: FindingOut},
             summary="Record a grid-watch finding: a person of the grid (by id or ID number) left a risk undeclared",
             auth=api_perm("declarations.watch"))
def record_finding(request, payload: FindingIn):
    from fangkong.residents.queries import find_person

    person = None
    if payload.person_id:
        person = get_in_scope(Person.objects.all(), request.user, "declarations.watch", pk=payload.person_id)
    elif payload.id_number:
        person = find_person(request.user, "declarations.watch", payload.id_number)
    return Status(201, actions.record_finding(acting_user=request.user, person=person, kind=payload.kind,
                                              evidence=payload.evidence, found_on=payload.found_on))


class FindingDecideIn(Schema):
    action: str = ""
    note: str = ""


@router.post("/findings/{pk}/decide", response=FindingOut,
             summary="Confirm (opens a credit entry) or dismiss (with a note) a grid-watch finding",
             auth=api_perm("declarations.confirm", obj=Finding))
def decide_finding(request, pk: int, payload: FindingDecideIn):
    finding = _chosen(request, Finding, pk, payload.action, actions.FINDING_TRANSITIONS, _("Choose confirm or dismiss"))
    return actions.decide_finding(acting_user=request.user, finding=finding, action=payload.action, note=payload.note)


# --- Credit record ---------------------------------------------------------------------------

class AppealOut(Schema):
    id: int
    entry_id: int
    text: str
    state: str
    filed_at: dt.datetime
    decided_at: dt.datetime | None
    decision_reason: str


class CreditEntryOut(Schema):
    id: int
    person_id: int
    kind: str
    reason: str
    evidence: str
    day: dt.date
    state: str
    appeals: list[AppealOut]


@router.get("/credit/entries", response=list[CreditEntryOut], summary="Credit-record entries in scope",
            auth=api_perm("credit.view"))
def list_entries(request, state: str = ""):
    record(request.user, "credit.list", detail={"state": state, "api": True})
    return list(queries.entries(request.user, state if state in CreditEntry.State.values else "")
                .prefetch_related("appeals")[:200])


class AppealDecisionIn(Schema):
    action: str = ""  # uphold | revoke
    reason: str = ""


@router.post("/credit/appeals/{pk}/decide", response=AppealOut,
             summary="The committee's decision on an appeal: uphold the entry or revoke it (with the reason)",
             auth=api_perm("credit.decide_appeal", obj=Appeal))
def decide_appeal(request, pk: int, payload: AppealDecisionIn):
    appeal = _chosen(request, Appeal, pk, payload.action, actions.APPEAL_TRANSITIONS, _("Choose uphold or revoke"))
    return actions.decide_appeal(acting_user=request.user, appeal=appeal, action=payload.action,
                                 reason=payload.reason)


# --- The resident's own entries (personal link) --------------------------------------------

@router.get("/resident/credit", response=list[CreditEntryOut],
            summary="The resident's own credit-record entries with their appeals (X-Resident-Token)", auth=link_auth())
def resident_entries(request):
    return list(queries.own_entries(request.resident))


class ResidentAppealIn(Schema):
    entry_id: int | None = None
    text: str = ""


@router.post("/resident/credit/appeals", response={201: AppealOut},
             summary="The resident's appeal against one of their own entries (one open appeal per entry)",
             auth=link_auth())
def resident_appeal(request, payload: ResidentAppealIn):
    entry = CreditEntry.objects.filter(person=request.resident, pk=payload.entry_id or 0).first()
    if entry is None:
        raise Invalid({"entry_id": _("Choose one of your entries")})
    return Status(201, actions.file_appeal(acting_user=None, person=request.resident, entry=entry,
                                           text=payload.text))
