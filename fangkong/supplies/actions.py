"""Supplies writes as named actions (keyword-only, acting_user, one transaction, an audit
event). Views, API, imports, the demo and other modules call only these.

The ledger is the only way stock changes: every movement posts Entry rows through
`_post`, which locks the (holder, item) Stock row, reads on hand as the sum of the ledger
and refuses (409) anything that would take it below zero, so of two concurrent issues of
the last box exactly one wins. A posted entry is never edited or deleted.

Other modules (a disinfection round, a volunteer's shift, a delivery) take stock with
`use_for_task(...)`: one call, idempotent by the caller's client key.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Conflict for callers)

from .models import Donation, Entry, Holder, Item, Package, Request, RequestLine, Stock, Threshold, Transfer

K = Entry.Kind
MAX_QUANTITY = 10_000_000
SHORTAGE_DAYS = 3  # short when on hand covers fewer days than this of the recent consumption
AVERAGE_DAYS = 7

TRANSFER_TRANSITIONS: dict[str, Transition] = {
    "receive": Transition("supplies.keep", (Transfer.State.SENT,), Transfer.State.RECEIVED, gettext_lazy("Confirm receipt")),
}
RS = Request.State
REQUEST_TRANSITIONS: dict[str, Transition] = {
    "approve": Transition("supplies.manage", (RS.OPEN,), RS.APPROVED, gettext_lazy("Approve")),
    "reject": Transition("supplies.manage", (RS.OPEN,), RS.REJECTED, gettext_lazy("Reject")),
    "withdraw": Transition("supplies.request", (RS.OPEN,), RS.WITHDRAWN, gettext_lazy("Withdraw")),
}
REFUSED = gettext_lazy("Cannot %(action)s: the request is %(state)s")


def _scope_fields(holder: Holder) -> dict:
    return {"place_path": holder.place_path, "keeper_path": holder.keeper_path,
            "organization_id_copy": holder.organization_id}


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _key(holder: Holder, client_key: str) -> str | None:
    """The stored key of a sender's entry (a device's or form's own id): hashed with the holder."""
    client_key = str(client_key or "").strip()
    return hashlib.sha256(f"{holder.pk}:{client_key}".encode()).hexdigest() if client_key else None


# --- Quantities -------------------------------------------------------------------------

def quantity_in_base(item: Item, raw, *, package=None, field: str = "quantity") -> int:
    """A typed quantity (of packages when `package` is given: a Package, its id or its
    name) in the item's base unit; Invalid naming the field otherwise."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) <= 0:
        raise Invalid({field: _("Enter a whole number greater than 0")})
    n = int(text)
    if package not in (None, ""):
        pkg = package if isinstance(package, Package) else None
        if pkg is None:
            qs = Package.objects.filter(item=item)
            pkg = (qs.filter(pk=int(package)) if str(package).isdigit() else qs.filter(name=str(package).strip())).first()
        if pkg is None or pkg.item_id != item.pk:
            raise Invalid({"package": _("This item has no such package")})
        n *= pkg.size
    if n > MAX_QUANTITY:
        raise Invalid({field: _("At most %(n)d") % {"n": MAX_QUANTITY}})
    return n


def on_hand(holder: Holder, item: Item) -> int:
    """The sum of the ledger: the only figure of stock there is."""
    return Entry.objects.filter(holder=holder, item=item).aggregate(n=Sum("quantity"))["n"] or 0


def stock_of(holder: Holder) -> dict[int, int]:
    """{item id: on hand} of every item the holder's ledger names."""
    rows = Entry.objects.filter(holder=holder).values("item_id").annotate(n=Sum("quantity")).order_by()
    return {r["item_id"]: r["n"] for r in rows}


def in_transit(*, holder: Holder | None = None) -> dict[int, int]:
    """{item id: base units sent and not yet received} (to `holder`, or anywhere)."""
    qs = Transfer.objects.filter(state=Transfer.State.SENT)
    if holder is not None:
        qs = qs.filter(target=holder)
    return {r["item_id"]: r["n"] for r in qs.values("item_id").annotate(n=Sum("quantity")).order_by()}


def _lock(holder: Holder, item: Item) -> None:
    if not Stock.objects.filter(holder=holder, item=item).exists():
        try:
            with transaction.atomic():
                Stock.objects.create(holder=holder, item=item)
        except IntegrityError:
            pass  # another transaction made it first
    Stock.objects.select_for_update().get(holder=holder, item=item)


def _post(holder: Holder, item: Item, kind: str, quantity: int, *, user, at=None, check=True, **fields) -> Entry:
    """Post one entry (inside the caller's transaction), the (holder, item) row locked."""
    if not holder.active:
        raise Conflict(_("%(holder)s no longer holds stock") % {"holder": holder.name})
    _lock(holder, item)
    before = on_hand(holder, item)
    if check and before + quantity < 0:
        raise Conflict(_("Not enough %(item)s at %(holder)s: %(n)d %(unit)s on hand") % {
            "item": item.name, "holder": holder.name, "n": before, "unit": item.unit})
    at = at or timezone.now()
    entry = Entry(holder=holder, item=item, kind=kind, quantity=quantity, balance=before + quantity, at=at,
                  day=timezone.localdate(at), created_by=_user(user), **_scope_fields(holder), **fields)
    entry.save()
    if quantity < 0:
        transaction.on_commit(lambda: check_shortage(holder=holder, item=item))
    return entry


def _existing(client_key: str | None) -> Entry | None:
    return Entry.objects.filter(client_key=client_key).first() if client_key else None


# --- Holders and catalogue --------------------------------------------------------------

@transaction.atomic
def create_holder(*, acting_user, kind: str, name: str = "", place=None, organization=None, supplier=None) -> Holder:
    if kind not in Holder.Kind.values:
        raise Invalid({"kind": _("Choose a kind")})
    if (place is None) == (organization is None):
        raise Invalid({"place": _("Choose a place or an organization (one of them)")})
    name = str(name or "").strip() or (organization.name if organization is not None else place.name)
    if len(name) > 120:
        raise Invalid({"name": _("At most 120 characters")})
    if organization is not None and Holder.objects.filter(organization=organization).exists():
        raise Invalid({"organization": _("This organization already holds stock")})
    h = Holder(kind=kind, name=name, place=place, organization=organization, supplier=supplier,
               place_path=(organization.place_path if organization is not None else place.path),
               keeper_path="" if organization is not None else place.path)
    try:
        with transaction.atomic():
            h.save()
    except IntegrityError:
        raise Invalid({"name": _("This place already has a holder of this kind and name")}) from None
    record(acting_user, "supplies.holder.create", obj=h, detail={"kind": kind})
    return h


@transaction.atomic
def set_threshold(*, acting_user, holder: Holder, item: Item, minimum) -> Threshold:
    text = str(minimum if minimum is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise Invalid({"minimum": _("Enter a whole number (0 or more)")})
    t, _created = Threshold.objects.update_or_create(holder=holder, item=item, defaults={"minimum": int(text)})
    record(acting_user, "supplies.threshold", obj=holder, detail={"item": item.code, "minimum": int(text)})
    return t


# --- Movements --------------------------------------------------------------------------

@transaction.atomic
def receive(*, acting_user, holder: Holder, item: Item, quantity, package=None, source: str = Entry.Source.PURCHASE,
            counterpart: str = "", reason: str = "", client_key: str = "", at=None) -> Entry:
    """A receipt: a purchase, or an allocation from above (donations: record_donation)."""
    key = _key(holder, client_key)
    if (found := _existing(key)) is not None:
        return found
    if source not in (Entry.Source.PURCHASE, Entry.Source.ALLOCATION):
        raise Invalid({"source": _("Choose purchase or allocation")})
    n = quantity_in_base(item, quantity, package=package)
    entry = _post(holder, item, K.RECEIPT, n, user=acting_user, at=at, source=source,
                  counterpart=str(counterpart or "")[:120], reason=str(reason or "")[:200], client_key=key)
    record(acting_user, "supplies.receive", obj=entry, detail={"item": item.code, "quantity": n, "source": source})
    return entry


@transaction.atomic
def record_donation(*, acting_user, holder: Holder, donor: str, lines, donor_kind: str = Donation.DonorKind.OTHER,
                    note: str = "", client_key: str = "", at=None, thank: bool = True) -> Donation:
    """A donation received at `holder`: lines [(item, quantity, package or None)], each a
    receipt entry; then the thank-you acknowledgement as a PDF (documents app)."""
    key = _key(holder, client_key)
    if key and (found := Donation.objects.filter(client_key=key).first()) is not None:
        return found
    donor = str(donor or "").strip()
    errors = {}
    if not donor or len(donor) > 120:
        errors["donor"] = _("Enter the donor (at most 120 characters)")
    if donor_kind not in Donation.DonorKind.values:
        errors["donor_kind"] = _("Choose a kind of donor")
    if not lines:
        errors["lines"] = _("Add at least one item")
    if errors:
        raise Invalid(errors)
    amounts = [(item, quantity_in_base(item, q, package=p, field=f"lines.{i}.quantity")) for i, (item, q, p) in enumerate(lines)]
    at = at or timezone.now()
    d = Donation.objects.create(holder=holder, donor=donor, donor_kind=donor_kind, note=str(note or "")[:200], received_at=at,
                                created_by=_user(acting_user), client_key=key, **_scope_fields(holder))
    for item, n in amounts:
        _post(holder, item, K.RECEIPT, n, user=acting_user, at=at, source=Entry.Source.DONATION, counterpart=donor[:120],
              donation=d)
    record(acting_user, "supplies.donation", obj=d, detail={"lines": [[i.code, n] for i, n in amounts]})
    if thank:
        from .notices import issue_thanks

        issue_thanks(acting_user=acting_user, donation=d)
    return d


@transaction.atomic
def send(*, acting_user, source: Holder, target: Holder, item: Item, quantity, package=None, request=None,
         client_key: str = "", at=None) -> Transfer:
    """Send items to another holder: out of the sender's stock now, in transit until the
    receiver confirms."""
    key = _key(source, client_key)
    if (found := _existing(key)) is not None:
        return found.transfer
    if source.pk == target.pk:
        raise Invalid({"target": _("Choose another holder")})
    if not target.active:
        raise Invalid({"target": _("%(holder)s no longer holds stock") % {"holder": target.name}})
    n = quantity_in_base(item, quantity, package=package)
    at = at or timezone.now()
    t = Transfer.objects.create(source=source, target=target, item=item, quantity=n, request=request, sent_at=at,
                                sent_by=_user(acting_user), **_scope_fields(target))
    _post(source, item, K.TRANSFER_OUT, -n, user=acting_user, at=at, transfer=t, counterpart=target.name[:120], client_key=key)
    record(acting_user, "supplies.send", obj=t, detail={"item": item.code, "quantity": n, "from": source.pk, "to": target.pk})
    return t


@transaction.atomic
def receive_transfer(*, acting_user, transfer: Transfer, received=None, note: str = "", at=None) -> Transfer:
    """The receiver's confirmation: what arrived (all of it when not given); a shortfall is
    recorded on the transfer (and stays in neither holder's stock)."""
    if transfer.state != Transfer.State.SENT:  # said before any field (checked again under the lock)
        raise Conflict(_("This transfer was already received"))
    if received in (None, ""):
        n = transfer.quantity
    else:
        text = str(received).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise Invalid({"received": _("Enter a whole number (0 or more)")})
        n = int(text)
        if n > transfer.quantity:
            raise Invalid({"received": _("At most the %(n)d sent") % {"n": transfer.quantity}})
    short = transfer.quantity - n
    note = str(note or "").strip()[:200]
    if short and not note:
        raise Invalid({"note": _("Say what happened to the missing part")})
    at = at or timezone.now()
    t = apply_transition(Transfer.objects.all(), transfer, TRANSFER_TRANSITIONS["receive"],
                         refused=gettext_lazy("Cannot %(action)s: the transfer is %(state)s"), lower=True,
                         changes={"received_quantity": n, "shortfall": short, "shortfall_note": note,
                                  "received_at": at, "received_by": _user(acting_user)})
    if n:
        _post(t.target, t.item, K.TRANSFER_IN, n, user=acting_user, at=at, transfer=t, counterpart=t.source.name[:120])
    record(acting_user, "supplies.transfer.receive", obj=t, detail={"received": n, "shortfall": short})
    return t


@transaction.atomic
def issue(*, acting_user, holder: Holder, item: Item, quantity, package=None, kind: str = K.ISSUE, recipient: str = "",
          task: str = "", task_id: int | None = None, client_key: str = "", at=None) -> Entry:
    """Stock out to people or tasks (issue) or used up on the spot (consume)."""
    key = _key(holder, client_key)
    if (found := _existing(key)) is not None:
        return found
    if kind not in (K.ISSUE, K.CONSUME):
        raise Invalid({"kind": _("Choose issue or consumption")})
    n = quantity_in_base(item, quantity, package=package)
    entry = _post(holder, item, kind, -n, user=acting_user, at=at, counterpart=str(recipient or "")[:120],
                  task=str(task or "")[:40], task_id=task_id, client_key=key)
    record(acting_user, f"supplies.{kind}", obj=entry, detail={"item": item.code, "quantity": n, "task": task})
    return entry


def use_for_task(*, acting_user, holder: Holder, item: Item, quantity, task: str, task_id: int | None = None,
                 client_key: str = "", consume: bool = True, recipient: str = "", at=None) -> Entry:
    """For other modules: take `quantity` base units of `item` from `holder` for a task
    (task="sanitation.round", task_id=the round's id...). Idempotent per client_key (a
    round logged twice takes its agent once); Conflict (409) when not enough is on hand."""
    return issue(acting_user=acting_user, holder=holder, item=item, quantity=quantity,
                 kind=K.CONSUME if consume else K.ISSUE, recipient=recipient, task=task, task_id=task_id,
                 client_key=client_key or (f"{task}:{task_id}" if task and task_id is not None else ""), at=at)


@transaction.atomic
def write_off(*, acting_user, holder: Holder, item: Item, quantity, reason: str, package=None, at=None) -> Entry:
    reason = str(reason or "").strip()
    if not reason or len(reason) > 200:
        raise Invalid({"reason": _("Give the reason (at most 200 characters)")})
    n = quantity_in_base(item, quantity, package=package)
    entry = _post(holder, item, K.WRITE_OFF, -n, user=acting_user, at=at, reason=reason)
    record(acting_user, "supplies.write_off", obj=entry, detail={"item": item.code, "quantity": n})
    return entry


@transaction.atomic
def count(*, acting_user, holder: Holder, item: Item, counted, note: str = "", at=None) -> Entry:
    """A stock count: the difference to the ledger is posted (0 too: the count is recorded)."""
    text = str(counted if counted is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise Invalid({"counted": _("Enter a whole number (0 or more)")})
    _lock(holder, item)
    diff = int(text) - on_hand(holder, item)
    entry = _post(holder, item, K.COUNT, diff, user=acting_user, at=at, reason=str(note or "")[:200], check=False)
    record(acting_user, "supplies.count", obj=entry, detail={"item": item.code, "counted": int(text), "difference": diff})
    return entry


# --- Requests ---------------------------------------------------------------------------

@transaction.atomic
def create_request(*, acting_user, holder: Holder, lines, note: str = "", supplier: Holder | None = None) -> Request:
    """A holder asks for items: lines [(item, quantity, package or None)]."""
    supplier = supplier or holder.supplier
    if supplier is None:
        raise Invalid({"supplier": _("This holder has no supplier to ask")})
    if not lines:
        raise Invalid({"lines": _("Add at least one item")})
    amounts = [(item, quantity_in_base(item, q, package=p, field=f"lines.{i}.quantity")) for i, (item, q, p) in enumerate(lines)]
    r = Request.objects.create(holder=holder, supplier=supplier, note=str(note or "")[:200], created_at=timezone.now(),
                               created_by=_user(acting_user), **_scope_fields(holder))
    RequestLine.objects.bulk_create([RequestLine(request=r, item=item, quantity=n) for item, n in amounts])
    record(acting_user, "supplies.request", obj=r, detail={"lines": [[i.code, n] for i, n in amounts]})
    return r


@transaction.atomic
def decide_request(*, acting_user, request: Request, action: str, approved: dict | None = None, note: str = "") -> Request:
    """approve (approved = {line id: base units}, each at most what was asked; missing
    lines fully) → approved or partly approved, and a transfer from the supplier per line;
    reject; withdraw (by the requester)."""
    t = REQUEST_TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    lines = list(request.lines.select_related("item"))
    grants: dict[int, int] = {}
    if action == "approve":
        errors = {}
        for line in lines:
            raw = (approved or {}).get(line.pk, (approved or {}).get(str(line.pk), line.quantity))
            text = str(raw).strip()
            if not (text.isascii() and text.isdigit()) or int(text) > line.quantity:
                errors[f"approved.{line.pk}"] = _("Enter 0 to %(n)d") % {"n": line.quantity}
            else:
                grants[line.pk] = int(text)
        if not errors and not any(grants.values()):
            errors["approved"] = _("Approve at least one item, or reject the request")
        if errors:
            raise Invalid(errors)
    full = all(grants.get(line.pk) == line.quantity for line in lines)
    changes = {"decided_at": timezone.now(), "decided_by": _user(acting_user), "decision_note": str(note or "")[:200]}
    if action == "approve" and not full:
        changes["state"] = RS.PARTLY
    r = apply_transition(Request.objects.all(), request, t, refused=REFUSED, lower=True, changes=changes)
    for line in lines:
        if action == "approve":
            RequestLine.objects.filter(pk=line.pk).update(approved=grants[line.pk])
            if grants[line.pk]:
                send(acting_user=acting_user, source=r.supplier, target=r.holder, item=line.item, quantity=grants[line.pk],
                     request=r)
    record(acting_user, f"supplies.request.{action}", obj=r, detail={"state": r.state, "approved": grants})
    return r


# --- Shortages --------------------------------------------------------------------------

def daily_use(holder: Holder, item: Item, *, today: dt.date | None = None) -> float:
    """The average of the last 7 days' consumption (issues, consumption) per day."""
    today = today or timezone.localdate()
    used = Entry.objects.filter(holder=holder, item=item, kind__in=[K.ISSUE, K.CONSUME],
                                day__gt=today - dt.timedelta(days=AVERAGE_DAYS), day__lte=today).aggregate(n=Sum("quantity"))["n"]
    return -(used or 0) / AVERAGE_DAYS


def shortage(holder: Holder, item: Item, *, today: dt.date | None = None) -> dict | None:
    """{"on_hand", "minimum", "days_left"} when short (below the threshold, or below 3 days
    of the recent average use), else None."""
    n = on_hand(holder, item)
    t = Threshold.objects.filter(holder=holder, item=item).first()
    use = daily_use(holder, item, today=today)
    below_min = t is not None and n < t.minimum
    below_days = use > 0 and n < SHORTAGE_DAYS * use
    if not (below_min or below_days):
        return None
    return {"on_hand": n, "minimum": t.minimum if t else None, "days_left": round(n / use, 1) if use > 0 else None}


def check_shortage(*, holder: Holder, item: Item) -> bool:
    """Alert the holder's keeper and the street's coordinator once a day per item when short."""
    short = shortage(holder, item)
    if short is None:
        return False
    text = _("%(item)s short at %(holder)s: %(n)d %(unit)s on hand") % {
        "item": item.name, "holder": holder.name, "n": short["on_hand"], "unit": item.unit}
    key = f"{item.code}:{timezone.localdate()}"
    # The keeper: by its grant on the holder's organization, or on the holder's own place.
    registry.raise_alert(registry.Alert(kind="supplies.shortage", place_path=holder.keeper_path, text=text,
                                        perms=("supplies.alerted",), obj_type="supplies.holder", obj_id=holder.pk,
                                        org_id=holder.organization_id, key=key))
    if not holder.keeper_path:  # an organization's holder: the coordinator over its place too
        registry.raise_alert(registry.Alert(kind="supplies.shortage", place_path=holder.place_path, text=text,
                                            perms=("supplies.manage",), obj_type="supplies.holder", obj_id=holder.pk,
                                            key=key + ":street"))
    return True


def shortages(holders) -> list[tuple[Holder, Item, dict]]:
    out = []
    items = {i.pk: i for i in Item.objects.all()}
    for h in holders:
        for item_id in set(stock_of(h)) | set(Threshold.objects.filter(holder=h).values_list("item_id", flat=True)):
            s = shortage(h, items[item_id])
            if s is not None:
                out.append((h, items[item_id], s))
    return out
