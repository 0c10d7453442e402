"""Writes of resident services, hardship assistance and the hotline, as named actions with
audit events. Views, API, the demo and tasks call only these.

State machines (fangkong.lib.workflow): a transition locks the row and updates it on
(state, version), so of two concurrent calls exactly one wins — two volunteers accepting
one request, two officers answering one ring (the ring is answered once: a one-to-one
call), two hand-overs of one household at a point (one row per round and household).
"""
from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import crypto, registry
from fangkong.lib.identity import mask_phone, normalize_phone
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401
from fangkong.places.access import has_perm, path_in_scope
from fangkong.places.models import Place

from .models import (AidGrant, Call, DistributionPoint, GroupOrder, Handover, HardshipCase, OrderLine, Reference, Revisit,
                     Ring, Round, ServiceRequest)

S = ServiceRequest.State
C = Call.State
PRIORITY_TAGS = ("elderly_alone", "disabled", "hardship")
PRIORITY_HOURS, NORMAL_HOURS = 4, 24
REFUSED = gettext_lazy("Cannot %(action)s: the request is %(state)s")
CHANGED = gettext_lazy("Someone else changed this request first; reload it")

TRANSITIONS: dict[str, Transition] = {
    "accept": Transition("services.deliver", (S.REQUESTED,), S.ACCEPTED, gettext_lazy("Accept")),
    "bought": Transition("services.deliver", (S.ACCEPTED,), S.BOUGHT, gettext_lazy("Bought")),
    "deliver": Transition("services.deliver", (S.ACCEPTED, S.BOUGHT), S.DELIVERED, gettext_lazy("Delivered")),
    "settle": Transition("services.deliver", (S.DELIVERED,), S.SETTLED, gettext_lazy("Settle")),
    "assign": Transition("services.manage", (S.REQUESTED, S.ACCEPTED), S.ACCEPTED, gettext_lazy("Assign")),
    "waive": Transition("services.manage", (S.DELIVERED,), S.SETTLED, gettext_lazy("Waive the payment")),
    "cancel": Transition("services.manage", (S.REQUESTED, S.ACCEPTED, S.BOUGHT), S.CANCELLED, gettext_lazy("Cancel")),
}
# Taken by the task's assignee only (anyone with services.deliver may accept an open one).
ASSIGNEE_ONLY = ("bought", "deliver", "settle")


def _user(u):
    return u if u is not None and getattr(u, "is_authenticated", False) else None


def _money(raw, field: str, *, required: bool) -> Decimal | None:
    text = str(raw if raw is not None else "").strip()
    if not text:
        if required:
            raise Invalid({field: _("Enter the amount")})
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Invalid({field: _("Enter an amount such as 35.50")}) from None
    if not value.is_finite() or value < 0 or value > Decimal("99999"):
        raise Invalid({field: _("Enter an amount from 0 to 99999")})
    return value.quantize(Decimal("0.01"))


def priority_of(person) -> str:
    """Why a person's requests go first ("" when they do not): the registry's tags, or a
    control measure running now."""
    tags = [t for t in PRIORITY_TAGS if t in person.tag_list]
    from fangkong.observation.models import Observation

    if Observation.objects.filter(person=person, state__in=["active", "hospital"]).exists():
        tags.insert(0, "observation")
    return ",".join(tags)


# --- Service requests ---------------------------------------------------------------------

def create_request(*, acting_user, person, kind: str, text: str, source: str, call=None, due_at=None, at=None,
                   client_key: str = "") -> ServiceRequest:
    """A request for `person` (the resident's link, staff on their behalf, or a hotline call)."""
    errors = {}
    if kind not in ServiceRequest.Kind.values:
        errors["kind"] = _("Choose what is needed")
    text = str(text or "").strip()
    if not text:
        errors["text"] = _("Say what is needed")
    elif len(text) > 300:
        errors["text"] = _("At most 300 characters")
    if source not in ServiceRequest.Source.values:
        errors["source"] = _("Unknown source")
    if errors:
        raise Invalid(errors)
    if client_key:
        existing = ServiceRequest.objects.filter(client_key=client_key[:64], person=person).first()
        if existing is not None:
            return existing
    at = at or timezone.now()
    reason = priority_of(person)
    household = person.household
    try:
        with transaction.atomic():
            req = ServiceRequest.objects.create(
                person=person, place_path=person.place_path, address=household.address if household else "",
                kind=kind, text=text, source=source, priority=bool(reason), priority_reason=reason,
                due_at=due_at or at + dt.timedelta(hours=PRIORITY_HOURS if reason else NORMAL_HOURS),
                code=f"{secrets.randbelow(10**4):04d}", call=call, created_at=at, created_by=_user(acting_user),
                client_key=client_key[:64] or None)
            record(acting_user, "services.request", obj=req, detail={"kind": kind, "source": source, "priority": reason,
                                                                    "call": call.pk if call else None})
    except IntegrityError:
        existing = ServiceRequest.objects.filter(client_key=client_key[:64], person=person).first()
        if existing is None:
            raise
        return existing
    return req


def _check_assignee(user, name):
    def check(current):
        if name in ASSIGNEE_ONLY and current.assignee_id != getattr(user, "pk", None):
            raise Conflict(_("Only the volunteer who took this task can do that"))
    return check


@transaction.atomic
def transition(*, acting_user, request: ServiceRequest, action: str, assignee=None, amount=None, code: str = "",
               note: str = "", receipt=None, at=None) -> ServiceRequest:
    """Take `action` of TRANSITIONS on the request. accept: the acting user takes it (one of
    two at once wins); assign: the committee gives it to `assignee`; bought: amount spent and
    optionally the receipt's photo (type and size checked, stored privately; a bad file
    refuses the whole step); deliver: the code the resident gives; settle: the amount paid;
    waive / cancel: a note."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    at = at or timezone.now()
    changes: dict = {}
    if action == "accept":
        changes = {"assignee": acting_user, "accepted_at": at}
    elif action == "assign":
        if assignee is None:
            raise Invalid({"assignee": _("Choose the account that carries it out")})
        changes = {"assignee": assignee, "accepted_at": at}
    elif action == "bought":
        changes = {"spent": _money(amount, "amount", required=False), "bought_at": at}
    elif action == "deliver":
        if str(code or "").strip() != request.code:
            raise Invalid({"code": _("The code does not match the one the resident was given")})
        changes = {"delivered_at": at}
    elif action == "settle":
        changes = {"paid": _money(amount, "amount", required=True), "settled_at": at}
    elif action == "waive":
        changes = {"waived": True, "settled_at": at, "note": str(note)[:300]}
    elif action == "cancel":
        changes = {"note": str(note)[:300]}
    req = apply_transition(ServiceRequest.objects.all(), request, t, refused=REFUSED, changed=CHANGED, lower=True,
                           check=_check_assignee(acting_user, action), changes=changes)
    record(acting_user, f"services.{action}", obj=req, detail={
        "assignee": req.assignee_id, "amount": str(changes.get("spent") or changes.get("paid") or "") or None})
    if action == "bought" and receipt is not None:
        attach_receipt(acting_user=acting_user, request=req, file=receipt)
    return req


RECEIPT_STATES = (S.ACCEPTED, S.BOUGHT, S.DELIVERED)


def receipt_editable(req: ServiceRequest) -> bool:
    """A receipt may be added or removed until the request is settled or cancelled."""
    return req.state in RECEIPT_STATES


def attach_receipt(*, acting_user, request: ServiceRequest, file):
    """The receipt's photo of a purchase, by the task's volunteer while it is open (before it
    is settled): a private upload (type and size checked), seen by the committee on the
    request's page. Invalid({"receipt": reason}) for a bad file, nothing stored."""
    from fangkong.uploads import actions as uploads

    if request.assignee_id != getattr(acting_user, "pk", None):
        raise Conflict(_("Only the volunteer who took this task can do that"))
    if not receipt_editable(request):
        raise Conflict(REFUSED % {"action": _("add a receipt"), "state": request.get_state_display()})
    try:
        att = uploads.attach(acting_user=acting_user, owner=request, file=file)
    except Invalid as exc:
        raise Invalid({"receipt": exc.errors.get("file", next(iter(exc.errors.values())))}) from None
    record(acting_user, "services.receipt", obj=request, detail={"attachment": att.pk})
    return att


@transaction.atomic
def confirm_by_resident(*, person, request: ServiceRequest, at=None) -> ServiceRequest:
    """The resident confirms the delivery from their link (instead of giving the code)."""
    if request.person_id != person.pk:
        raise Conflict(_("This is not your request"))
    req = apply_transition(ServiceRequest.objects.all(), request, TRANSITIONS["deliver"], refused=REFUSED, changed=CHANGED,
                           lower=True, changes={"delivered_at": at or timezone.now()})
    record(None, "services.confirm", obj=req, detail={"by": "resident"})
    return req


@transaction.atomic
def cancel_by_resident(*, person, request: ServiceRequest) -> ServiceRequest:
    if request.person_id != person.pk:
        raise Conflict(_("This is not your request"))
    req = apply_transition(ServiceRequest.objects.all(), request, Transition("services.manage", (S.REQUESTED,), S.CANCELLED,
                                                                             gettext_lazy("Cancel")),
                           refused=REFUSED, changed=CHANGED, lower=True, changes={"note": _("Cancelled by the resident")})
    record(None, "services.cancel", obj=req, detail={"by": "resident"})
    return req


def reveal_phone(*, acting_user, request: ServiceRequest) -> str:
    """The resident's full phone number for the task's assignee while the task is open: audited."""
    if request.assignee_id != acting_user.pk or request.state not in (S.ACCEPTED, S.BOUGHT):
        raise Conflict(_("The number is shown only to the volunteer of an open task"))
    record(acting_user, "services.phone.reveal", obj=request)
    return request.person.phone() if request.person.phone_enc else ""


# --- Group orders (接龙) ---------------------------------------------------------------------

def _items(raw) -> list[str]:
    if isinstance(raw, str):
        raw = raw.replace("，", ",").replace("\n", ",").split(",")
    out = []
    for item in raw or []:
        item = str(item).strip()[:60]
        if item and item not in out:
            out.append(item)
    return out


def open_order(*, acting_user, place: Place, title: str, items, closes_at: dt.datetime, at=None) -> GroupOrder:
    at = at or timezone.now()
    errors = {}
    if place is None or place.kind not in ("compound", "building", "grid"):
        errors["place"] = _("Choose a compound or a building")
    title = str(title or "").strip()[:100]
    if not title:
        errors["title"] = _("Give the order a title")
    items = _items(items)
    if not items:
        errors["items"] = _("List at least one item")
    elif len(items) > 40:
        errors["items"] = _("At most 40 items")
    if closes_at is None or closes_at <= at:
        errors["closes_at"] = _("The closing time must be in the future")
    if errors:
        raise Invalid(errors)
    order = GroupOrder.objects.create(place=place, place_path=place.path, title=title, items=items, closes_at=closes_at,
                                      created_at=at, created_by=_user(acting_user))
    record(acting_user, "services.order.open", obj=order, detail={"items": len(items)})
    return order


@transaction.atomic
def set_quantity(*, acting_user, order: GroupOrder, household, item: str, quantity, at=None) -> OrderLine | None:
    """A household's quantity of one item (0 removes it); refused once the order is closed."""
    at = at or timezone.now()
    try:
        quantity = int(str(quantity).strip())
    except (TypeError, ValueError):
        raise Invalid({"quantity": _("Enter a whole number")}) from None
    if not 0 <= quantity <= 999:
        raise Invalid({"quantity": _("Enter a number from 0 to 999")})
    current = GroupOrder.objects.select_for_update().get(pk=order.pk)
    if item not in current.items:
        raise Invalid({"item": _("Not an item of this order")})
    if not current.is_open(at):
        raise Conflict(_("This order closed at %(t)s; no more changes") % {
            "t": timezone.localtime(current.closes_at).strftime("%m-%d %H:%M")})
    if household is None or not household.place_path.startswith(current.place_path):
        raise Invalid({"household": _("This household is not in the order's buildings")})
    line = None
    if quantity == 0:
        OrderLine.objects.filter(order=current, household=household, item=item).delete()
    else:
        line, _created = OrderLine.objects.update_or_create(
            order=current, household=household, item=item,
            defaults={"quantity": quantity, "updated_at": at, "building_path": household.place_path})
    record(acting_user, "services.order.line", obj=current, detail={"household": household.pk, "item": item,
                                                                    "quantity": quantity})
    return line


@transaction.atomic
def close_order(*, acting_user, order: GroupOrder, at=None) -> GroupOrder:
    current = GroupOrder.objects.select_for_update().get(pk=order.pk)
    if current.state == GroupOrder.State.CLOSED:
        raise Conflict(_("This order is already closed"))
    current.state, current.closed_at = GroupOrder.State.CLOSED, at or timezone.now()
    current.version += 1
    current.save(update_fields=["state", "closed_at", "version"])
    record(acting_user, "services.order.close", obj=current, detail={"lines": current.lines.count()})
    return current


def order_totals(order: GroupOrder) -> dict:
    """{"items": {item: total}, "buildings": {building path: {item: total}}, "households": n}."""
    items = {i: 0 for i in order.items}
    buildings: dict = {}
    households = set()
    for line in order.lines.all():
        items[line.item] = items.get(line.item, 0) + line.quantity
        b = buildings.setdefault(line.building_path, {})
        b[line.item] = b.get(line.item, 0) + line.quantity
        households.add(line.household_id)
    return {"items": items, "buildings": buildings, "households": len(households)}


def order_delivery_by_point(order: GroupOrder) -> list[dict]:
    """The delivery sheet per distribution point: [{"point", "rows": [{"building", "address",
    "items": {item: quantity}}]}], one per point of the order's community whose buildings hold
    households of the order (sorted by building and address), then the households under no
    point (point None). A household is served by the first point (by name) whose buildings
    hold it."""
    from fangkong.places.access import ancestor_paths

    households: dict = {}
    for line in order.lines.select_related("household"):
        entry = households.setdefault(line.household_id, {"household": line.household, "items": {}})
        entry["items"][line.item] = line.quantity
    points = list(DistributionPoint.objects.filter(place_path__in=ancestor_paths(order.place_path)).order_by(
        "name", "pk").prefetch_related("buildings"))
    names = dict(Place.objects.filter(path__in={e["household"].place_path for e in households.values()}).values_list(
        "path", "name"))
    sheets = [{"point": p, "rows": [], "buildings": [(b.path, b.name) for b in p.buildings.all()]} for p in points]
    rest = {"point": None, "rows": []}
    for entry in households.values():
        hh = entry["household"]
        target, building = rest, names.get(hh.place_path, "")
        for sheet in sheets:
            match = next((name for path, name in sheet["buildings"] if hh.place_path.startswith(path)), None)
            if match is not None:
                target, building = sheet, match
                break
        target["rows"].append({"building": building, "address": hh.address, "items": entry["items"]})
    out = [s for s in sheets if s["rows"]] + ([rest] if rest["rows"] else [])
    for sheet in out:
        sheet["rows"].sort(key=lambda r: (r["building"], r["address"]))
        sheet.pop("buildings", None)
    return out


# --- Distribution points and rounds ------------------------------------------------------------

def create_point(*, acting_user, community: Place, name: str, buildings=(), staff=()) -> DistributionPoint:
    name = str(name or "").strip()[:100]
    if not name:
        raise Invalid({"name": _("Name the point")})
    if community is None or community.kind != "community":
        raise Invalid({"place": _("Choose a community")})
    outside = [b for b in buildings if not b.path.startswith(community.path)]
    if outside:
        raise Invalid({"buildings": _("Buildings of the point's community only")})
    point = DistributionPoint.objects.create(name=name, place=community, place_path=community.path)
    point.buildings.set(buildings)
    point.staff.set(staff)
    record(acting_user, "services.point.create", obj=point, detail={"buildings": len(buildings), "staff": len(staff)})
    return point


def point_households(point: DistributionPoint):
    """The households the point serves: those under its buildings."""
    from django.db.models import Q

    from fangkong.residents.models import Household

    q = Q(pk__in=[])
    for path in point.buildings.values_list("path", flat=True):
        q |= Q(place_path__startswith=path)
    return Household.objects.filter(q)


def plan_points(community: Place) -> list[dict]:
    """Each point of the community with its buildings' household count (the plan's figures)."""
    out = []
    for point in DistributionPoint.objects.filter(place=community).prefetch_related("buildings", "staff"):
        out.append({"point": point, "households": point_households(point).count(), "staff": point.staff.count(),
                    "buildings": point.buildings.count()})
    return out


def open_round(*, acting_user, point: DistributionPoint, day: dt.date, what: str, item=None, quantity_each=None) -> Round:
    """A round at the point. With `item` (of the supplies catalogue) and `quantity_each`,
    every hand-over issues that much from the point's supplies holder (the point needs one)."""
    what = str(what or "").strip()[:100]
    errors = {}
    if not what:
        errors["what"] = _("Say what is handed out")
    each = 0
    if item is not None:
        if point.holder_id is None:
            errors["item"] = _("This point has no supplies holder to issue from")
        try:
            each = int(str(quantity_each or "").strip())
        except ValueError:
            each = 0
        if not 1 <= each <= 999:
            errors["quantity_each"] = _("Enter a number from 1 to 999")
    if errors:
        raise Invalid(errors)
    rnd = Round.objects.create(point=point, place_path=point.place_path, day=day, what=what,
                               expected=point_households(point).count(), item=item, quantity_each=each)
    record(acting_user, "services.round.open", obj=rnd, detail={"expected": rnd.expected,
                                                                "item": item.code if item else None, "each": each})
    return rnd


def holders_for(place_path: str):
    """Supplies holders that may serve a place: active ones in its community (or under the
    place itself when it lies above a community) and those above it (the street's warehouse)."""
    from django.db.models import Q

    from fangkong.places.access import ancestor_paths
    from fangkong.supplies.models import Holder

    community = Place.objects.filter(path__in=ancestor_paths(place_path), kind="community").values_list(
        "path", flat=True).first() or place_path
    return Holder.objects.filter(Q(place_path__startswith=community) | Q(place_path__in=ancestor_paths(place_path)),
                                 active=True).order_by("place_path", "name")


def set_point_holder(*, acting_user, point: DistributionPoint, holder) -> DistributionPoint:
    """The supplies holder whose stock the point hands out (None: no ledger entries)."""
    if holder is not None and not holders_for(point.place_path).filter(pk=holder.pk).exists():
        raise Invalid({"holder": _("Choose a supplies holder of the point's community")})
    point.holder = holder
    point.save(update_fields=["holder"])
    record(acting_user, "services.point.holder", obj=point, detail={"holder": holder.pk if holder else None})
    return point


def _issue_for_handover(acting_user, rnd: Round, handover: Handover, point: DistributionPoint):
    if not (point.holder_id and rnd.item_id and rnd.quantity_each):
        return None
    from fangkong.supplies.actions import use_for_task

    return use_for_task(acting_user=acting_user, holder=point.holder, item=rnd.item, quantity=rnd.quantity_each,
                        task="services.handover", task_id=handover.pk, consume=False, recipient=point.name)


def find_household(rnd: Round, *, room: str = "", household_id=None):
    """The household of the round's point named by its code (id) or its room number (the end of
    its address, "1号楼101室" or "101"), or Invalid naming the field."""
    households = point_households(rnd.point)
    if household_id not in (None, ""):
        try:
            hh = households.filter(pk=int(str(household_id))).first()
        except ValueError:
            hh = None
        if hh is None:
            raise Invalid({"household": _("No household with this code at this point")})
        return hh
    room = str(room or "").strip()
    if not room:
        raise Invalid({"room": _("Enter the room number")})
    found = list(households.filter(address__endswith=room)[:2]) or list(households.filter(address__endswith=room + "室")[:2])
    if len(found) != 1:
        raise Invalid({"room": _("No household with this room number at this point") if not found
                       else _("More than one household ends with this room number; enter the building too")})
    return found[0]


def _resent(rnd: Round, household, client_id: str) -> Handover | None:
    """The hand-over this device already sent under `client_id` (a resend: the same mark),
    or None; a client id reused for another household or round is refused."""
    if not client_id:
        return None
    seen = Handover.objects.filter(client_id=client_id).first()
    if seen is None:
        return None
    if seen.round_id != rnd.pk or seen.household_id != household.pk:
        raise Conflict(_("This entry was already recorded for another household"))
    seen.already = True
    return seen


def hand_over(*, acting_user, rnd: Round, household, door: bool = False, at=None, client_id: str = "") -> Handover:
    """Mark the household's collection; a second mark is refused (counted once), and so is
    a mark after the round was closed (except a door delivery of one left out). A phone's
    queued mark carries its `client_id`: sent again, it is answered with the first (its
    `already` is True), never a second mark. When the round hands out an item of the
    supplies ledger and the point has a holder, the hand-over issues it (Conflict when the
    holder has too little on hand: nothing is marked)."""
    at = at or timezone.now()
    client_id = str(client_id or "").strip()[:64]
    if (seen := _resent(rnd, household, client_id)) is not None:
        return seen
    try:
        with transaction.atomic():
            current = Round.objects.select_for_update(of=("self",)).select_related("point__holder", "item").get(pk=rnd.pk)
            if current.state == Round.State.CLOSED and not door:
                raise Conflict(_("This round is closed; what is left is brought to the door"))
            h = Handover.objects.create(round=current, household=household, at=at, by=_user(acting_user), door=door,
                                        client_id=client_id or None)
            entry = _issue_for_handover(acting_user, current, h, current.point)
            record(acting_user, "services.handover", obj=current, detail={
                "household": household.pk, "door": door, "ledger": entry.pk if entry else None})
    except IntegrityError:
        if (seen := _resent(rnd, household, client_id)) is not None:
            return seen
        first = Handover.objects.filter(round=rnd, household=household).first()
        raise Conflict(_("Already handed over at %(t)s; counted once") % {
            "t": timezone.localtime(first.at).strftime("%H:%M") if first else ""}) from None
    h.already = False
    return h


@transaction.atomic
def close_round(*, acting_user, rnd: Round, at=None) -> Round:
    current = Round.objects.select_for_update().get(pk=rnd.pk)
    if current.state == Round.State.CLOSED:
        raise Conflict(_("This round is already closed"))
    current.state, current.closed_at = Round.State.CLOSED, at or timezone.now()
    current.version += 1
    current.save(update_fields=["state", "closed_at", "version"])
    record(acting_user, "services.round.close", obj=current, detail={"handed": current.handovers.count()})
    return current


def not_collected(rnd: Round):
    """Households of the round's point that have not collected: for door delivery."""
    return point_households(rnd.point).exclude(pk__in=rnd.handovers.values("household_id"))


# --- Hardship assistance -----------------------------------------------------------------------

def register_case(*, acting_user, person, category: str, cause: str, degree, health: str = "", revisit_days: int = 14,
                  at=None) -> HardshipCase:
    errors = {}
    if category not in HardshipCase.Category.values:
        errors["category"] = _("Choose a category")
    cause = str(cause or "").strip()[:200]
    if not cause:
        errors["cause"] = _("Say what causes the hardship")
    try:
        degree = int(degree)
    except (TypeError, ValueError):
        degree = 0
    if degree not in HardshipCase.Degree.values:
        errors["degree"] = _("Choose a degree")
    if not isinstance(revisit_days, int) or not 1 <= revisit_days <= 90:
        errors["revisit_days"] = _("Revisit every 1 to 90 days")
    if errors:
        raise Invalid(errors)
    at = at or timezone.now()
    try:
        with transaction.atomic():
            case = HardshipCase.objects.create(
                person=person, place_path=person.place_path, category=category, cause=cause, degree=degree,
                health=str(health or "")[:200], revisit_days=revisit_days, next_due=timezone.localdate(at),
                created_at=at, created_by=_user(acting_user))
            record(acting_user, "services.hardship.register", obj=case, detail={"category": category, "degree": degree})
    except IntegrityError:
        raise Conflict(_("This person is already in the hardship register")) from None
    return case


@transaction.atomic
def pair(*, acting_user, case: HardshipCase, partner, start: dt.date | None = None) -> HardshipCase:
    """One-to-one pairing: `partner` (any active account) takes the case from `start`; the
    previous partner's pairing ends the day before."""
    if partner is None or not partner.is_active:
        raise Invalid({"partner": _("Choose an active account")})
    current = HardshipCase.objects.select_for_update().get(pk=case.pk)
    if current.state != HardshipCase.State.ACTIVE:
        raise Conflict(_("This case is closed"))
    start = start or timezone.localdate()
    previous = current.partner_id
    current.partner, current.partner_from, current.partner_to = partner, start, None
    current.save(update_fields=["partner", "partner_from", "partner_to"])
    record(acting_user, "services.hardship.pair", obj=current, detail={"partner": partner.pk, "previous": previous})
    return current


def may_revisit(user, case: HardshipCase) -> bool:
    return (case.partner_id == getattr(user, "pk", None)) or (
        has_perm(user, "services.hardship") and path_in_scope(user, "services.hardship", case.place_path))


def set_case_holder(*, acting_user, case: HardshipCase, holder) -> HardshipCase:
    """The supplies holder that the case's revisits issue goods from (None: no ledger entries)."""
    if holder is not None and not holders_for(case.place_path).filter(pk=holder.pk).exists():
        raise Invalid({"holder": _("Choose a supplies holder of the case's community")})
    case.holder = holder
    case.save(update_fields=["holder"])
    record(acting_user, "services.hardship.holder", obj=case, detail={"holder": holder.pk if holder else None})
    return case


@transaction.atomic
def revisit(*, acting_user, case: HardshipCase, day: dt.date | None = None, given: str = "", notes: str = "",
            next_due: dt.date | None = None, item=None, quantity=None) -> Revisit:
    """A revisit by the pairing partner (or the committee): what was brought, and when next.
    With `item` (of the supplies catalogue) and `quantity`, the goods are issued from the
    case's supplies holder (idempotent per revisit; Conflict when too little is on hand:
    nothing is recorded)."""
    if not may_revisit(acting_user, case):
        raise Invalid({"case": _("Not one of your cases")})
    current = HardshipCase.objects.select_for_update().get(pk=case.pk)
    if current.state != HardshipCase.State.ACTIVE:
        raise Conflict(_("This case is closed"))
    day = day or timezone.localdate()
    if day > timezone.localdate():
        raise Invalid({"day": _("A revisit cannot be in the future")})
    next_due = next_due or day + dt.timedelta(days=current.revisit_days)
    if next_due <= day:
        raise Invalid({"next_due": _("The next revisit comes after this one")})
    n = 0
    if item is not None:
        if current.holder_id is None:
            raise Invalid({"item": _("This case has no supplies holder to issue from")})
        try:
            n = int(str(quantity or "").strip())
        except ValueError:
            n = 0
        if not 1 <= n <= 999:
            raise Invalid({"quantity": _("Enter a number from 1 to 999")})
    visit = Revisit.objects.create(case=current, day=day, given=str(given or "")[:200], notes=str(notes or "")[:500],
                                   next_due=next_due, by=_user(acting_user), item=item, quantity=n)
    entry = None
    if item is not None:
        from fangkong.supplies.actions import use_for_task

        entry = use_for_task(acting_user=acting_user, holder=current.holder, item=item, quantity=n,
                             task="services.revisit", task_id=visit.pk, consume=False)
    current.next_due = next_due
    current.save(update_fields=["next_due"])
    record(acting_user, "services.hardship.revisit", obj=current, detail={"day": day.isoformat(),
                                                                          "ledger": entry.pk if entry else None})
    return visit


def apply_aid(*, acting_user, case: HardshipCase, kind: str, amount, source: str, year: int | None = None) -> AidGrant:
    kind, source = str(kind or "").strip()[:60], str(source or "").strip()[:60]
    errors = {}
    if not kind:
        errors["kind"] = _("Say what aid")
    if not source:
        errors["source"] = _("Say where the aid comes from")
    try:
        value = _money(amount, "amount", required=True)
    except Invalid as exc:
        errors.update(exc.errors)
        value = None
    if errors:
        raise Invalid(errors)
    grant = AidGrant.objects.create(case=case, kind=kind, amount=value, source=source,
                                    year=year or timezone.localdate().year)
    record(acting_user, "services.hardship.aid", obj=case, detail={"grant": grant.pk, "amount": str(value)})
    return grant


@transaction.atomic
def approve_aid(*, acting_user, grant: AidGrant) -> AidGrant:
    current = AidGrant.objects.select_for_update().get(pk=grant.pk)
    if current.state != AidGrant.State.APPLIED:
        raise Conflict(_("This aid is already approved"))
    current.state, current.approved_by, current.approved_at = AidGrant.State.APPROVED, _user(acting_user), timezone.now()
    current.save(update_fields=["state", "approved_by", "approved_at"])
    record(acting_user, "services.hardship.approve", obj=current.case, detail={"grant": current.pk})
    return current


def close_case(*, acting_user, case: HardshipCase, note: str = "") -> HardshipCase:
    n = HardshipCase.objects.filter(pk=case.pk, state=HardshipCase.State.ACTIVE).update(
        state=HardshipCase.State.CLOSED, partner_to=timezone.localdate())
    if not n:
        raise Conflict(_("This case is closed"))
    record(acting_user, "services.hardship.close", obj=case, detail={"note": str(note)[:100]})
    case.refresh_from_db()
    return case


# --- Hotline -------------------------------------------------------------------------------------

def _phone(raw) -> tuple[bytes | None, str]:
    text = str(raw or "").strip()
    if not text:
        return None, ""
    phone = normalize_phone(text)
    if not phone:
        raise Invalid({"phone": _("Enter a phone number")})
    return crypto.encrypt(phone), mask_phone(phone)


def _street_path(user) -> str:
    """Where a duty officer's call lies: the officer's top place for the hotline."""
    from fangkong.places.access import top_paths

    paths = top_paths(user, "services.hotline")
    if paths is None:
        root = Place.objects.filter(parent__isnull=True).order_by("path").first()
        return root.path if root else ""
    if not paths:
        raise Conflict(_("Only a duty officer records hotline calls"))
    return paths[0]


def ring(*, acting_user, phone: str = "", caller_name: str = "", place_path: str = "", at=None) -> Ring:
    """A call waiting to be answered (a missed call to return, or put through)."""
    enc, masked = _phone(phone)
    r = Ring.objects.create(place_path=place_path or _street_path(acting_user), at=at or timezone.now(), phone_enc=enc,
                            phone_masked=masked, caller_name=str(caller_name or "")[:50])
    record(acting_user, "services.ring", obj=r)
    return r


def _clean_call(topic, question):
    from .models import TOPICS

    errors = {}
    if topic not in dict(TOPICS):
        errors["topic"] = _("Choose the topic")
    question = str(question or "").strip()
    if not question:
        errors["question"] = _("Write down the question")
    if errors:
        raise Invalid(errors)
    return question[:500]


def new_call(*, acting_user, topic: str, question: str, answer: str = "", caller_name: str = "", phone: str = "",
             person=None, follow_up_due=None, ring_: Ring | None = None, at=None) -> Call:
    """The officer who answers records the call and owns it (首问责任制). Answering a waiting
    ring: of two officers answering it at once, one wins; the other is told who owns it."""
    question = _clean_call(topic, question)
    at = at or timezone.now()
    enc, masked = _phone(phone)
    if ring_ is not None and not enc:
        enc, masked = ring_.phone_enc, ring_.phone_masked
    place_path = person.place_path if person is not None else (ring_.place_path if ring_ else _street_path(acting_user))
    try:
        with transaction.atomic():
            if ring_ is not None:
                Ring.objects.select_for_update().get(pk=ring_.pk)
                taken = Call.objects.filter(ring=ring_).select_related("owner").first()
                if taken is not None:
                    raise Conflict(_("%(name)s answered this call first and owns it") % {
                        "name": taken.owner.get_full_name() or taken.owner.get_username()})
            call = Call.objects.create(
                ring=ring_, place_path=place_path, received_at=ring_.at if ring_ else at,
                caller_name=str(caller_name or (ring_.caller_name if ring_ else ""))[:50], phone_enc=enc,
                phone_masked=masked, person=person, topic=topic, question=question, answer=str(answer or "")[:500],
                owner=acting_user, follow_up_due=follow_up_due)
            record(acting_user, "services.call.answer", obj=call, detail={"topic": topic, "ring": ring_.pk if ring_ else None})
    except IntegrityError:
        taken = Call.objects.filter(ring=ring_).select_related("owner").first()
        raise Conflict(_("%(name)s answered this call first and owns it") % {
            "name": (taken.owner.get_full_name() or taken.owner.get_username()) if taken else "?"}) from None
    return call


def _owned(call: Call, user, *, states=(C.OPEN,)) -> Call:
    current = Call.objects.select_for_update().get(pk=call.pk)
    if current.owner_id != user.pk:
        raise Conflict(_("Only the officer who owns this call can do that"))
    if current.state not in states:
        raise Conflict(_("The call is %(state)s") % {"state": current.get_state_display()})
    return current


@transaction.atomic
def update_call(*, acting_user, call: Call, answer: str | None = None, follow_up_due=None) -> Call:
    current = _owned(call, acting_user)
    if answer is not None:
        current.answer = str(answer)[:500]
    current.follow_up_due = follow_up_due
    current.version += 1
    current.save(update_fields=["answer", "follow_up_due", "version"])
    record(acting_user, "services.call.update", obj=current)
    return current


@transaction.atomic
def close_call(*, acting_user, call: Call, outcome: str, at=None) -> Call:
    outcome = str(outcome or "").strip()[:500]
    if not outcome:
        raise Invalid({"outcome": _("Closing a call needs its outcome")})
    current = _owned(call, acting_user)
    current.state, current.outcome, current.closed_at = C.CLOSED, outcome, at or timezone.now()
    current.version += 1
    current.save(update_fields=["state", "outcome", "closed_at", "version"])
    record(acting_user, "services.call.close", obj=current)
    return current


@transaction.atomic
def offer_call(*, acting_user, call: Call, to) -> Call:
    """Hand-over, first step: the owner offers the call to another duty officer; it stays
    the owner's until that officer accepts."""
    if to is None or to.pk == acting_user.pk or not has_perm(to, "services.hotline") or not path_in_scope(
            to, "services.hotline", call.place_path):
        raise Invalid({"to": _("Choose another duty officer of this call's area")})
    current = _owned(call, acting_user)
    current.state, current.handover_to = C.HANDOVER, to
    current.version += 1
    current.save(update_fields=["state", "handover_to", "version"])
    record(acting_user, "services.call.offer", obj=current, detail={"to": to.pk})
    return current


@transaction.atomic
def take_call(*, acting_user, call: Call, accept: bool = True) -> Call:
    """Hand-over, second step: the officer offered the call accepts (and owns it) or declines;
    the owner may also withdraw the offer (accept=False)."""
    current = Call.objects.select_for_update().get(pk=call.pk)
    if current.state != C.HANDOVER:
        raise Conflict(_("The call is %(state)s") % {"state": current.get_state_display()})
    if accept and current.handover_to_id != acting_user.pk:
        raise Conflict(_("Only the officer the call is offered to can accept it"))
    if not accept and acting_user.pk not in (current.handover_to_id, current.owner_id):
        raise Conflict(_("Only the officer the call is offered to can accept it"))
    previous = current.owner_id
    if accept:
        current.owner = acting_user
    current.state, current.handover_to = C.OPEN, None
    current.version += 1
    current.save(update_fields=["state", "owner", "handover_to", "version"])
    record(acting_user, "services.call.take" if accept else "services.call.decline", obj=current,
           detail={"previous": previous})
    return current


def call_request(*, acting_user, call: Call, kind: str, text: str) -> ServiceRequest:
    """The owner turns the call into a service request for the caller (a registry person)."""
    with transaction.atomic():
        current = _owned(call, acting_user)
    if current.person_id is None:
        raise Invalid({"person": _("Link the caller to a registered person first")})
    return create_request(acting_user=acting_user, person=current.person, kind=kind, text=text,
                          source=ServiceRequest.Source.HOTLINE, call=current)


def call_alert(*, acting_user, call: Call, text: str) -> None:
    """The owner raises an alert from the call (told to the call's place's staff)."""
    with transaction.atomic():
        current = _owned(call, acting_user)
    text = str(text or "").strip()[:200]
    if not text:
        raise Invalid({"text": _("Say what the alert is about")})
    registry.raise_alert(registry.Alert(kind="services.call", place_path=current.place_path, text=text,
                                        perms=("services.view",), obj_type="services.call", obj_id=current.pk))
    record(acting_user, "services.call.alert", obj=current)


def call_inflow_note(*, acting_user, call: Call, text: str) -> None:
    """The owner proposes to the committee of the call's place that an inflow application be
    filed (the committees file them): a note to the holders of inflow.apply there."""
    with transaction.atomic():
        current = _owned(call, acting_user)
    text = str(text or "").strip()[:200]
    if not text:
        raise Invalid({"text": _("Say who returns from where and when")})
    registry.raise_alert(registry.Alert(kind="services.inflow_note", place_path=current.place_path, text=text,
                                        perms=("inflow.apply",), obj_type="services.call", obj_id=current.pk))
    record(acting_user, "services.call.inflow_note", obj=current)


def link_person(*, acting_user, call: Call, person) -> Call:
    with transaction.atomic():
        current = _owned(call, acting_user)
        current.person, current.place_path = person, person.place_path
        current.save(update_fields=["person", "place_path"])
    record(acting_user, "services.call.person", obj=current)
    return current


def save_reference(*, acting_user, place_path: str, title: str, body: str, address: str = "", hours: str = "",
                   keywords: str = "", reference: Reference | None = None) -> Reference:
    errors = {}
    title, body = str(title or "").strip()[:100], str(body or "").strip()[:1000]
    if not title:
        errors["title"] = _("Give the answer a title")
    if not body:
        errors["body"] = _("Write the answer")
    if errors:
        raise Invalid(errors)
    ref = reference or Reference(place_path=place_path)
    ref.title, ref.body, ref.address, ref.hours = title, body, str(address)[:200], str(hours)[:100]
    ref.keywords, ref.updated_at = str(keywords)[:200], timezone.now()
    ref.save()
    record(acting_user, "services.reference.save", obj=ref)
    return ref


def search_references(qs, text: str):
    from django.db.models import Q

    text = str(text or "").strip()
    if not text:
        return qs.filter(active=True)
    q = Q()
    for word in text.split()[:5]:
        q &= Q(title__icontains=word) | Q(body__icontains=word) | Q(keywords__icontains=word) | Q(address__icontains=word)
    return qs.filter(q, active=True)
