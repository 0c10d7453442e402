"""JSON API for the registry (django-ninja). Same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from django.http import Http404
from ninja import Field, Router, Schema, Status

from fangkong.lib.apitypes import Offset
from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import api_perm, get_in_scope, places_in_scope, scope
from fangkong.web.operations import transition_ops
from fangkong.places.models import Place

from . import actions, queries
from .models import TAG_KEYS, Household, OutgoingTransfer, Person, Transfer
from .validation import validate_person

router = Router(tags=["residents"])


class PersonRef(Schema):
    """The person a record is about, as other modules' responses show it: name and masked
    ID number only (their schemas inherit it)."""

    person_id: int
    person_name: str = Field(..., alias="person.name")
    id_masked: str = Field(..., alias="person.id_masked")


class TransferOut(Schema):
    """A transfer request as either side sees it: the name and masked ID number as the
    requester gave them, never the registered person's record."""

    id: int
    state: str
    typed_name: str
    id_masked: str
    to_place_id: int
    address: str
    reason: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    decision_reason: str


class TransferDecisionIn(Schema):
    reason: str = ""


class PersonOut(Schema):
    id: int
    name: str
    id_masked: str
    phone_masked: str
    sex: str
    birth_date: dt.date
    household_id: int | None
    place_id: int
    employer_id: int | None
    tags: list[str] = Field(..., alias="tag_list")
    note: str
    version: int


class PersonIn(Schema):
    name: str
    id_number: str
    phone: str = ""
    sex: str = ""
    birth_date: str = ""
    household_id: int
    tags: list[str] = []
    note: str = ""


class PersonPatch(Schema):
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    sex: str | None = None
    birth_date: str | None = None
    household_id: int | None = None
    tags: list[str] | None = None
    note: str | None = None


class PersonPage(Schema):
    count: int
    page: int
    pages: int
    items: list[PersonOut]


class Unmasked(Schema):
    id_number: str
    phone: str


class UnmaskIn(Schema):
    reason: str = ""


class HouseholdOut(Schema):
    id: int
    address: str
    tenure: str
    place_id: int


class HouseholdIn(Schema):
    place_id: int
    address: str = Field(..., min_length=1, max_length=200)
    tenure: str = "owned"


class PlaceOut(Schema):
    id: int
    kind: str
    name: str
    code: str
    parent_id: int | None


class SearchIn(Schema):
    q: str = Field("", max_length=60, description="name (contains), or exact ID number or phone")
    place_id: int | None = None
    tag: str = ""
    page: int = 1


def _search(request, q: str, place_id: int | None, tag: str, page: int):
    place = None
    if place_id is not None:
        place = places_in_scope(request.user, "residents.view").filter(pk=place_id).first()
        if place is None:
            raise Http404
    if tag and tag not in TAG_KEYS:
        raise Invalid({"tag": f"unknown tag; one of {', '.join(TAG_KEYS)}"})
    qs = queries.search_persons(request.user, q=q, place=place, tag=tag)
    size = queries.PAGE_SIZE
    count = qs.count()
    pages = max(1, -(-count // size))
    page = min(max(page, 1), pages)
    record(request.user, "person.list", detail={"q": q, "place": place_id, "tag": tag, "page": page, "api": True})
    return {"count": count, "page": page, "pages": pages, "items": list(qs[(page - 1) * size: page * size])}


@router.get("/residents", response=PersonPage, summary="List residents in scope", auth=api_perm("residents.view"))
def list_residents(request, place_id: int | None = None, tag: str = "", page: int = 1):
    return _search(request, "", place_id, tag, page)


@router.post("/residents/search", response=PersonPage, auth=api_perm("residents.view"),
             summary="Search residents by name, exact ID or exact phone (POST: no personal data in URLs)")
def search_residents(request, payload: SearchIn):
    return _search(request, payload.q, payload.place_id, payload.tag, payload.page)


@router.get("/residents/{pk}", response=PersonOut, auth=api_perm("residents.view", obj=Person))
def get_resident(request, pk: int):
    person = get_in_scope(Person.objects.all(), request.user, "residents.view", pk=pk)
    record(request.user, "person.view", obj=person, detail={"api": True})
    return person


def _household(request, household_id, perm="residents.edit"):
    return get_in_scope(Household.objects.all(), request.user, perm, pk=household_id)


def _dup(dup: actions.DuplicatePerson):
    if dup.existing is not None:
        raise Conflict(f"ID number already registered: person {dup.existing.pk} ({dup.existing.id_masked})")
    raise Conflict("ID number already registered outside your jurisdiction")


@router.post("/residents", response={201: PersonOut, 202: TransferOut}, auth=api_perm("residents.edit"),
             summary="Register a person (202: the number is registered in another community; a transfer request was sent)")
def create_resident(request, payload: PersonIn):
    household = _household(request, payload.household_id)
    clean, errors = validate_person(payload.dict())
    if errors:
        raise Invalid(errors)
    from . import transfers

    try:
        person, transfer = transfers.register_or_request(acting_user=request.user, clean=clean, household=household)
    except actions.DuplicatePerson as dup:
        _dup(dup)
    if transfer is not None:  # registered in another community: its committee is asked
        return Status(202, transfer)
    return Status(201, person)


@router.patch("/residents/{pk}", response=PersonOut, auth=api_perm("residents.edit", obj=Person))
def update_resident(request, pk: int, payload: PersonPatch):
    person = get_in_scope(Person.objects.all(), request.user, "residents.edit", pk=pk)
    data = payload.dict(exclude_unset=True)
    household = _household(request, data.pop("household_id")) if data.get("household_id") else ...
    if ("sex" in data or "birth_date" in data) and "id_number" not in data:
        data["id_number"] = person.id_number()  # check them against the stored ID
    clean, errors = validate_person(data, partial=True)
    if errors:
        raise Invalid(errors)
    try:
        return actions.update_person(acting_user=request.user, person=person, clean=clean, household=household)
    except actions.DuplicatePerson as dup:
        _dup(dup)


@router.post("/residents/{pk}/unmask", response=Unmasked, summary="Reveal the full ID and phone (audited)", auth=api_perm("residents.unmask", obj=Person))
def unmask_resident(request, pk: int, payload: UnmaskIn):
    person = get_in_scope(Person.objects.all(), request.user, "residents.unmask", pk=pk)
    return actions.unmask_person(acting_user=request.user, person=person, reason=payload.reason)


@router.get("/households", response=list[HouseholdOut], auth=api_perm("residents.view"))
def list_households(request, place_id: int | None = None, limit: int = 100, offset: Offset = 0):
    qs = queries.households(request.user)
    if place_id is not None:
        place = get_in_scope(Place.objects.all(), request.user, "residents.view", pk=place_id)
        qs = qs.filter(place_path__under=place.path)
    record(request.user, "household.list", detail={"place": place_id, "api": True})
    return list(qs[max(offset, 0): max(offset, 0) + min(max(limit, 1), 500)])


@router.get("/households/{pk}", response=HouseholdOut, auth=api_perm("residents.view", obj=Household))
def get_household(request, pk: int):
    household = get_in_scope(Household.objects.all(), request.user, "residents.view", pk=pk)
    record(request.user, "household.view", obj=household, detail={"api": True})
    return household


@router.post("/households", response={201: HouseholdOut}, auth=api_perm("residents.edit"))
def create_household(request, payload: HouseholdIn):
    place = get_in_scope(Place.objects.exclude(kind__in=["district", "street", "checkpoint"]), request.user, "residents.edit", pk=payload.place_id)
    if payload.tenure not in Household.Tenure.values:
        raise Invalid({"tenure": f"one of {', '.join(Household.Tenure.values)}"})
    address = payload.address.strip()
    if not address:
        raise Invalid({"address": "address is required"})
    if Household.objects.filter(place=place, address=address).exists():
        raise Conflict("a household with this address already exists here")
    return Status(201, actions.create_household(acting_user=request.user, place=place, address=address, tenure=payload.tenure))


@router.get("/places", response=list[PlaceOut], summary="Places in the caller's scope", auth=api_perm("places.view"))
def list_places(request, kind: str = ""):
    qs = places_in_scope(request.user, "places.view")
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs[:5000])


# --- Transfer requests (residents.transfers) ----------------------------------------------------

@router.get("/transfers/incoming", response=list[TransferOut], auth=api_perm("residents.transfer"),
            summary="Transfer requests for persons of the caller's area waiting for a decision")
def incoming_transfers(request, limit: int = 100):
    qs = scope(Transfer.objects.filter(state=Transfer.State.REQUESTED), request.user, "residents.transfer")
    return list(qs[: min(max(limit, 1), 500)])


@router.get("/transfers/sent", response=list[TransferOut], auth=api_perm("residents.transfer_request"),
            summary="Transfer requests the caller's side sent, with their state")
def sent_transfers(request, limit: int = 100):
    qs = scope(OutgoingTransfer.objects.all(), request.user, "residents.transfer_request")
    return list(qs[: min(max(limit, 1), 500)])


def _decide(request, t, name, payload: TransferDecisionIn):
    from . import transfers

    return transfers.decide(acting_user=request.user, transfer=t, action=name, reason=payload.reason)


def _register_transfer_ops():
    from . import transfers

    transition_ops(router, transfers.TRANSITIONS, Transfer.objects.all(), path="/transfers/{pk}/", module=__name__,
                   prefix="transfer", schema=TransferDecisionIn, response=TransferOut, take=_decide)


_register_transfer_ops()


@router.post("/transfers/{pk}/withdraw", response=TransferOut, summary="Withdraw a transfer request the caller's side sent",
             auth=api_perm("residents.transfer_request", obj=OutgoingTransfer))
def withdraw_transfer(request, pk: int):
    from . import transfers

    t = get_in_scope(OutgoingTransfer.objects.all(), request.user, "residents.transfer_request", pk=pk)
    return transfers.withdraw(acting_user=request.user, transfer=t)
