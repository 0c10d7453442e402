"""JSON API of supplies: the same actions and access checks as the pages (devices at a
station, a disinfection round's phone, integrations)."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from fangkong.audit.actions import record
from fangkong.lib.apitypes import Offset
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, scope

from . import actions
from .models import Entry, Holder, Item, Request, Transfer

router = Router(tags=["supplies"])


class SuppliesPackageOut(Schema):
    name: str
    size: int


class SuppliesItemOut(Schema):
    id: int
    code: str
    name: str
    unit: str
    category: str
    packages: list[SuppliesPackageOut]


class SuppliesHolderOut(Schema):
    id: int
    kind: str
    name: str
    place_id: int | None
    organization_id: int | None
    supplier_id: int | None


class SuppliesStockLine(Schema):
    item_id: int
    on_hand: int
    in_transit: int


class SuppliesHolderStockOut(SuppliesHolderOut):
    stock: list[SuppliesStockLine]


class SuppliesEntryOut(Schema):
    id: int
    item_id: int
    kind: str
    source: str
    quantity: int
    balance: int
    at: dt.datetime
    counterpart: str
    reason: str
    task: str
    task_id: int | None
    transfer_id: int | None
    donation_id: int | None


class SuppliesTransferOut(Schema):
    id: int
    source_id: int
    target_id: int
    item_id: int
    quantity: int
    received_quantity: int | None
    shortfall: int
    state: str
    request_id: int | None


# Every body field has a default, so that the access check runs before the body's checks
# (a wrong holder is 404 whatever was sent); missing fields are then refused by name (422).
class SuppliesLineIn(Schema):
    item_id: int | None = None
    quantity: int | str | None = None
    package: str | None = None


class SuppliesRequestLineOut(Schema):
    id: int
    item_id: int
    quantity: int
    approved: int | None


class SuppliesRequestOut(Schema):
    id: int
    holder_id: int
    supplier_id: int
    state: str
    note: str
    lines: list[SuppliesRequestLineOut]

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.all())


def _item(item_id: int | None, field: str = "item_id") -> Item:
    item = Item.objects.filter(pk=item_id, active=True).first() if item_id is not None else None
    if item is None:
        raise Invalid({field: "unknown item"})
    return item


def _holder(request, pk, perm) -> Holder:
    return get_in_scope(Holder.objects.all(), request.user, perm, pk=pk)


@router.get("/supplies/items", response=list[SuppliesItemOut], summary="The catalogue", auth=api_perm("supplies.view"))
def items(request):
    return [{"id": i.pk, "code": i.code, "name": i.name, "unit": i.unit, "category": i.category,
             "packages": [{"name": p.name, "size": p.size} for p in i.packages.all()]}
            for i in Item.objects.filter(active=True).prefetch_related("packages")]


@router.get("/supplies/holders", response=list[SuppliesHolderOut], summary="Holders in scope", auth=api_perm("supplies.view"))
def holders(request, limit: int = 100, offset: Offset = 0):
    limit = min(max(limit, 1), 500)
    qs = scope(Holder.objects.filter(active=True), request.user, "supplies.view")
    return list(qs[max(offset, 0): max(offset, 0) + limit])


@router.get("/supplies/holders/{pk}", response=SuppliesHolderStockOut, summary="A holder and its stock (the sum of its ledger)",
            auth=api_perm("supplies.view", obj=Holder))
def holder(request, pk: int):
    h = _holder(request, pk, "supplies.view")
    stock, transit = actions.stock_of(h), actions.in_transit(holder=h)
    h.stock = [{"item_id": k, "on_hand": stock.get(k, 0), "in_transit": transit.get(k, 0)} for k in sorted(set(stock) | set(transit))]
    record(request.user, "supplies.holder.view", obj=h, detail={"api": True})
    return h


@router.get("/supplies/holders/{pk}/ledger", response=list[SuppliesEntryOut], summary="A holder's ledger, newest first",
            auth=api_perm("supplies.view", obj=Holder))
def ledger(request, pk: int, limit: int = 100, offset: Offset = 0):
    h = _holder(request, pk, "supplies.view")
    limit = min(max(limit, 1), 500)
    return list(Entry.objects.filter(holder=h)[max(offset, 0): max(offset, 0) + limit])


class SuppliesReceiptIn(SuppliesLineIn):
    source: str = Entry.Source.PURCHASE
    counterpart: str = ""
    client_key: str = ""


@router.post("/supplies/holders/{pk}/receipts", response={201: SuppliesEntryOut}, summary="A purchase or an allocation received",
             auth=api_perm("supplies.keep", obj=Holder))
def receipt(request, pk: int, payload: SuppliesReceiptIn):
    h = _holder(request, pk, "supplies.keep")
    e = actions.receive(acting_user=request.user, holder=h, item=_item(payload.item_id), quantity=payload.quantity,
                        package=payload.package, source=payload.source, counterpart=payload.counterpart,
                        client_key=payload.client_key)
    return Status(201, e)


class SuppliesDonationIn(Schema):
    donor: str = ""
    donor_kind: str = "other"
    lines: list[SuppliesLineIn] = []
    note: str = ""
    client_key: str = ""


class SuppliesDonationOut(Schema):
    id: int
    donor: str
    entries: list[SuppliesEntryOut]
    thanks_serial: str | None = None


@router.post("/supplies/holders/{pk}/donations", response={201: SuppliesDonationOut}, summary="A donation (with its letter of thanks)",
             auth=api_perm("supplies.keep", obj=Holder))
def donation(request, pk: int, payload: SuppliesDonationIn):
    from fangkong.documents.actions import valid_document
    from fangkong.documents.models import Document

    h = _holder(request, pk, "supplies.keep")
    lines = [(_item(line.item_id, f"lines.{i}.item_id"), line.quantity, line.package) for i, line in enumerate(payload.lines)]
    d = actions.record_donation(acting_user=request.user, holder=h, donor=payload.donor, donor_kind=payload.donor_kind,
                                lines=lines, note=payload.note, client_key=payload.client_key)
    doc = valid_document(Document.Kind.DONATION_THANKS, d)
    return Status(201, {"id": d.pk, "donor": d.donor, "entries": list(d.entries.all()), "thanks_serial": doc.serial if doc else None})


class SuppliesIssueIn(SuppliesLineIn):
    kind: str = "issue"
    recipient: str = ""
    task: str = ""
    task_id: int | None = None
    client_key: str = ""


@router.post("/supplies/holders/{pk}/issues", response={201: SuppliesEntryOut}, summary="Issued to a person or task, or consumed",
             auth=api_perm("supplies.keep", obj=Holder))
def issue(request, pk: int, payload: SuppliesIssueIn):
    h = _holder(request, pk, "supplies.keep")
    e = actions.issue(acting_user=request.user, holder=h, item=_item(payload.item_id), quantity=payload.quantity,
                      package=payload.package, kind=payload.kind, recipient=payload.recipient, task=payload.task,
                      task_id=payload.task_id, client_key=payload.client_key)
    return Status(201, e)


class SuppliesWriteOffIn(SuppliesLineIn):
    reason: str = ""


@router.post("/supplies/holders/{pk}/write-offs", response={201: SuppliesEntryOut}, summary="Written off, with the reason",
             auth=api_perm("supplies.keep", obj=Holder))
def write_off(request, pk: int, payload: SuppliesWriteOffIn):
    h = _holder(request, pk, "supplies.keep")
    e = actions.write_off(acting_user=request.user, holder=h, item=_item(payload.item_id), quantity=payload.quantity,
                          package=payload.package, reason=payload.reason)
    return Status(201, e)


class SuppliesCountIn(Schema):
    item_id: int | None = None
    counted: int | str | None = None
    note: str = ""


@router.post("/supplies/holders/{pk}/counts", response={201: SuppliesEntryOut}, summary="A stock count: the difference is posted",
             auth=api_perm("supplies.keep", obj=Holder))
def count(request, pk: int, payload: SuppliesCountIn):
    h = _holder(request, pk, "supplies.keep")
    e = actions.count(acting_user=request.user, holder=h, item=_item(payload.item_id), counted=payload.counted, note=payload.note)
    return Status(201, e)


class SuppliesSendIn(SuppliesLineIn):
    target_id: int | None = None
    client_key: str = ""


@router.post("/supplies/holders/{pk}/transfers", response={201: SuppliesTransferOut}, summary="Send items to another holder",
             auth=api_perm("supplies.keep", obj=Holder))
def send(request, pk: int, payload: SuppliesSendIn):
    h = _holder(request, pk, "supplies.keep")
    target = Holder.objects.filter(pk=payload.target_id, active=True).first() if payload.target_id is not None else None
    if target is None:
        raise Invalid({"target_id": "unknown holder"})
    t = actions.send(acting_user=request.user, source=h, target=target, item=_item(payload.item_id),
                     quantity=payload.quantity, package=payload.package, client_key=payload.client_key)
    return Status(201, t)


class SuppliesReceiveIn(Schema):
    received: int | str | None = None
    note: str = ""


@router.post("/supplies/transfers/{pk}/receive", response=SuppliesTransferOut, summary="The receiver confirms (with any shortfall)",
             auth=api_perm("supplies.keep", obj=Transfer))
def receive_transfer(request, pk: int, payload: SuppliesReceiveIn):
    t = get_in_scope(Transfer.objects.all(), request.user, "supplies.keep", pk=pk)
    return actions.receive_transfer(acting_user=request.user, transfer=t, received=payload.received, note=payload.note)


class SuppliesRequestIn(Schema):
    lines: list[SuppliesLineIn] = []
    note: str = ""


@router.post("/supplies/holders/{pk}/requests", response={201: SuppliesRequestOut}, summary="Ask the supplier for items",
             auth=api_perm("supplies.request", obj=Holder))
def create_request(request, pk: int, payload: SuppliesRequestIn):
    h = _holder(request, pk, "supplies.request")
    lines = [(_item(line.item_id, f"lines.{i}.item_id"), line.quantity, line.package) for i, line in enumerate(payload.lines)]
    return Status(201, actions.create_request(acting_user=request.user, holder=h, lines=lines, note=payload.note))


@router.get("/supplies/requests", response=list[SuppliesRequestOut], summary="Requests in scope", auth=api_perm("supplies.view"))
def list_requests(request, state: str = "open", limit: int = 100, offset: Offset = 0):
    qs = scope(Request.objects.prefetch_related("lines"), request.user, "supplies.view")
    if state != "all":
        if state not in Request.State.values:
            raise Invalid({"state": "one of " + ", ".join(Request.State.values) + ", all"})
        qs = qs.filter(state=state)
    limit = min(max(limit, 1), 500)
    return list(qs[max(offset, 0): max(offset, 0) + limit])


class SuppliesDecideIn(Schema):
    action: str = ""  # approve / reject
    approved: dict[str, int] = {}  # {line id: base units}; missing lines in full
    note: str = ""


@router.post("/supplies/requests/{pk}/decide", response=SuppliesRequestOut, summary="Approve (fully or partly) or reject",
             auth=api_perm("supplies.manage", obj=Request))
def decide(request, pk: int, payload: SuppliesDecideIn):
    r = get_in_scope(Request.objects.all(), request.user, "supplies.manage", pk=pk)
    if payload.action not in ("approve", "reject"):
        raise Invalid({"action": "approve or reject"})
    return actions.decide_request(acting_user=request.user, request=r, action=payload.action, approved=payload.approved,
                                  note=payload.note)
