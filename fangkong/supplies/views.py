"""Supplies pages (phone first): the holders in scope with their shortages, a holder's
stock and ledger with the keeper's moves (receive, donation, issue, consume, write off,
count, send), incoming transfers to confirm, requests and their decisions, imports and
exports. Every write goes through actions.py; every object through the access module."""
from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.documents.actions import valid_document
from fangkong.documents.models import Document
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import get_in_scope, has_perm, may, requires, scope
from fangkong.places.models import Organization, Place
from fangkong.web.forms import attempt
from fangkong.web.lists import page_of
from fangkong.lib.db.replica import reads_from_replica

from . import actions, exports
from .models import Donation, Entry, Holder, Item, Package, Request, Transfer

K = Entry.Kind


def _items():
    return list(Item.objects.filter(active=True).prefetch_related("packages"))


def _item(request, field="item"):
    pk = int_or_none(request.POST.get(field))
    item = Item.objects.filter(pk=pk, active=True).first() if pk is not None else None
    if item is None:
        raise actions.Invalid({field: _("Choose an item")})
    return item


def _package(request):
    return request.POST.get("package") or None


def _holder(request, pk, perm):
    return get_in_scope(Holder.objects.select_related("supplier", "organization", "place"), request.user, perm, pk=pk)


@requires("supplies.view")
@require_GET
def holders(request):
    qs = scope(Holder.objects.filter(active=True).select_related("supplier"), request.user, "supplies.view")
    page = page_of(request, qs)
    short = {}
    for h, item, s in actions.shortages(page.object_list):
        short.setdefault(h.pk, []).append((item, s))
    transit = actions.in_transit()
    items = {i.pk: i for i in Item.objects.all()}
    record(request.user, "supplies.list", detail={"page": page.number})
    return render(request, "supplies/holders.html", {
        "page": page, "rows": [(h, short.get(h.pk, [])) for h in page.object_list],
        "transit": [(items[k], v) for k, v in transit.items()] if has_perm(request.user, "supplies.manage") else [],
        "can_manage": has_perm(request.user, "supplies.manage"),
        "open_requests": scope(Request.objects.filter(state=Request.State.OPEN), request.user, "supplies.view").count(),
    })


def _detail_context(request, h):
    items = {i.pk: i for i in _items()}
    stock = actions.stock_of(h)
    transit = actions.in_transit(holder=h)
    rows = []
    for item_id in sorted(set(stock) | set(transit), key=lambda k: (items[k].order, k) if k in items else (999, k)):
        if item_id not in items:
            continue
        item = items[item_id]
        rows.append({"item": item, "on_hand": stock.get(item_id, 0), "transit": transit.get(item_id, 0),
                     "short": actions.shortage(h, item)})
    ledger = Entry.objects.filter(holder=h).select_related("item")[:30]
    incoming = Transfer.objects.filter(target=h, state=Transfer.State.SENT).select_related("item", "source")
    others = Holder.objects.filter(active=True).exclude(pk=h.pk)  # where to send: any holder (names only)
    return {
        "h": h, "rows": rows, "ledger": ledger, "incoming": incoming, "items": list(items.values()),
        "targets": others[:200], "donations": h.donations.all()[:10], "requests": h.requests.all()[:10],
        "may_keep": may(request.user, "supplies.keep", h), "may_request": may(request.user, "supplies.request", h),
        "may_manage": may(request.user, "supplies.manage", h),
        "receipt_sources": [(Entry.Source.PURCHASE, Entry.Source.PURCHASE.label), (Entry.Source.ALLOCATION, Entry.Source.ALLOCATION.label)],
        "donor_kinds": Donation.DonorKind.choices,
        "client_key": uuid.uuid4().hex,  # one per page shown: a double tap posts the same entry once
    }


@requires("supplies.view", obj=Holder)
@require_GET
def holder(request, pk):
    h = _holder(request, pk, "supplies.view")
    record(request.user, "supplies.holder.view", obj=h)
    return render(request, "supplies/holder.html", _detail_context(request, h))


def _run(request, h, fn, done):
    """Run the action; back to the holder's page with the outcome (the page itself, with
    the refusal's status, on a refusal)."""
    result, refused = attempt(fn, request=request)
    if refused:
        return render(request, "supplies/holder.html", _detail_context(request, h), status=refused.status)
    messages.success(request, done)
    return redirect("supplies_holder", pk=h.pk)


@requires("supplies.keep", obj=Holder)
@require_POST
def receive(request, pk):
    h = _holder(request, pk, "supplies.keep")
    return _run(request, h, lambda: actions.receive(
        acting_user=request.user, holder=h, item=_item(request), quantity=request.POST.get("quantity"),
        package=_package(request), source=request.POST.get("source", Entry.Source.PURCHASE),
        counterpart=request.POST.get("counterpart", ""), client_key=request.POST.get("client_key", "")), _("Received."))


@requires("supplies.keep", obj=Holder)
@require_POST
def donation(request, pk):
    h = _holder(request, pk, "supplies.keep")
    return _run(request, h, lambda: actions.record_donation(
        acting_user=request.user, holder=h, donor=request.POST.get("donor", ""),
        donor_kind=request.POST.get("donor_kind", Donation.DonorKind.OTHER),
        lines=[(_item(request), request.POST.get("quantity"), _package(request))], note=request.POST.get("note", ""),
        client_key=request.POST.get("client_key", "")), _("Donation recorded; the letter of thanks is ready."))


@requires("supplies.keep", obj=Holder)
@require_POST
def take(request, pk):
    """Issue to a person or task, or consumption on the spot."""
    h = _holder(request, pk, "supplies.keep")
    return _run(request, h, lambda: actions.issue(
        acting_user=request.user, holder=h, item=_item(request), quantity=request.POST.get("quantity"),
        package=_package(request), kind=request.POST.get("kind", K.ISSUE), recipient=request.POST.get("recipient", ""),
        task=request.POST.get("task", ""), client_key=request.POST.get("client_key", "")), _("Taken out of stock."))


@requires("supplies.keep", obj=Holder)
@require_POST
def write_off(request, pk):
    h = _holder(request, pk, "supplies.keep")
    return _run(request, h, lambda: actions.write_off(
        acting_user=request.user, holder=h, item=_item(request), quantity=request.POST.get("quantity"),
        package=_package(request), reason=request.POST.get("reason", "")), _("Written off."))


@requires("supplies.keep", obj=Holder)
@require_POST
def count(request, pk):
    h = _holder(request, pk, "supplies.keep")
    return _run(request, h, lambda: actions.count(
        acting_user=request.user, holder=h, item=_item(request), counted=request.POST.get("counted"),
        note=request.POST.get("note", "")), _("Count recorded."))


@requires("supplies.keep", obj=Holder)
@require_POST
def send(request, pk):
    h = _holder(request, pk, "supplies.keep")

    def go():
        target_pk = int_or_none(request.POST.get("target"))
        target = Holder.objects.filter(pk=target_pk, active=True).first() if target_pk is not None else None
        if target is None:
            raise actions.Invalid({"target": _("Choose where to send it")})
        return actions.send(acting_user=request.user, source=h, target=target, item=_item(request),
                            quantity=request.POST.get("quantity"), package=_package(request),
                            client_key=request.POST.get("client_key", ""))
    return _run(request, h, go, _("Sent: in transit until the receiver confirms."))


@requires("supplies.request", obj=Holder)
@require_POST
def ask(request, pk):
    h = _holder(request, pk, "supplies.request")
    return _run(request, h, lambda: actions.create_request(
        acting_user=request.user, holder=h, lines=[(_item(request), request.POST.get("quantity"), _package(request))],
        note=request.POST.get("note", "")), _("Request sent."))


@requires("supplies.manage", obj=Holder)
@require_POST
def threshold(request, pk):
    h = _holder(request, pk, "supplies.manage")
    return _run(request, h, lambda: actions.set_threshold(acting_user=request.user, holder=h, item=_item(request),
                                                          minimum=request.POST.get("minimum")), _("Threshold set."))


@requires("supplies.keep", obj=Transfer)
@require_POST
def receive_transfer(request, pk):
    t = get_in_scope(Transfer.objects.select_related("target", "item"), request.user, "supplies.keep", pk=pk)
    _r, refused = attempt(lambda: actions.receive_transfer(acting_user=request.user, transfer=t,
                                                           received=request.POST.get("received"),
                                                           note=request.POST.get("note", "")), request=request)
    if refused:
        return render(request, "supplies/holder.html", _detail_context(request, t.target), status=refused.status)
    messages.success(request, _("Receipt confirmed."))
    return redirect("supplies_holder", pk=t.target_id)


# --- Requests ---------------------------------------------------------------------------

@requires("supplies.view")
@require_GET
def requests(request):
    qs = scope(Request.objects.select_related("holder", "supplier").prefetch_related("lines__item"), request.user,
               "supplies.view")
    which = request.GET.get("state", "open")
    if which == "open":
        qs = qs.filter(state=Request.State.OPEN)
    page = page_of(request, qs)
    record(request.user, "supplies.requests", detail={"state": which})
    return render(request, "supplies/requests.html", {"page": page, "which": which})


@requires("supplies.view", obj=Request)
@require_GET
def request_detail(request, pk):
    r = get_in_scope(Request.objects.select_related("holder", "supplier"), request.user, "supplies.view", pk=pk)
    return render(request, "supplies/request.html", _request_context(request, r))


def _request_context(request, r):
    lines = list(r.lines.select_related("item"))
    available = actions.stock_of(r.supplier)
    return {"r": r, "lines": [(line, available.get(line.item_id, 0)) for line in lines],
            "may_decide": r.state == Request.State.OPEN and may(request.user, "supplies.manage", r),
            "may_withdraw": r.state == Request.State.OPEN and may(request.user, "supplies.request", r),
            "transfers": r.transfers.select_related("item")}


@requires("supplies.manage", obj=Request)
@require_POST
def decide(request, pk):
    r = get_in_scope(Request.objects.select_related("holder", "supplier"), request.user, "supplies.manage", pk=pk)
    action = request.POST.get("action", "")
    if action not in ("approve", "reject"):
        action = "approve" if request.POST.get("approve") else "invalid"
    approved = {k.removeprefix("approved_"): v for k, v in request.POST.items() if k.startswith("approved_")}
    _r, refused = attempt(lambda: actions.decide_request(acting_user=request.user, request=r, action=action,
                                                         approved=approved, note=request.POST.get("note", "")),
                          request=request)
    if refused:
        r.refresh_from_db()
        return render(request, "supplies/request.html", _request_context(request, r), status=refused.status)
    messages.success(request, _("Approval recorded."))
    return redirect("supplies_request", pk=r.pk)


@requires("supplies.request", obj=Request)
@require_POST
def withdraw(request, pk):
    r = get_in_scope(Request.objects.all(), request.user, "supplies.request", pk=pk)
    _r, refused = attempt(lambda: actions.decide_request(acting_user=request.user, request=r, action="withdraw"),
                          request=request)
    if refused:
        return render(request, "supplies/request.html", _request_context(request, r), status=refused.status)
    return redirect("supplies_request", pk=r.pk)


# --- Donations, exports, imports -----------------------------------------------------------

@requires("supplies.view", obj=Donation)
@require_GET
def thanks(request, pk):
    d = get_in_scope(Donation.objects.all(), request.user, "supplies.view", pk=pk)
    doc = valid_document(Document.Kind.DONATION_THANKS, d)
    if doc is None:
        return HttpResponse(_("No letter of thanks for this donation."), status=404, content_type="text/plain; charset=utf-8")
    from fangkong.documents.pdf import FontMissing, cached_pdf

    try:
        data = cached_pdf(doc)
    except FontMissing as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    record(request.user, "supplies.thanks.download", obj=d, detail={"serial": doc.serial})
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="{doc.serial}.pdf"'
    return resp


@requires("supplies.view", obj=Holder)
@require_GET
@reads_from_replica
def export_ledger(request, pk):
    h = _holder(request, pk, "supplies.view")
    record(request.user, "supplies.export.ledger", obj=h)
    return exports.ledger_xlsx(h)


@requires("supplies.view", obj=Holder)
@require_GET
@reads_from_replica
def export_stock(request, pk):
    h = _holder(request, pk, "supplies.view")
    record(request.user, "supplies.export.stock", obj=h)
    return exports.stock_xlsx(h)


@requires("supplies.keep", obj=Holder)
@require_http_methods(["GET", "POST"])
def import_sheet(request, pk):
    """A donation list or an inventory count from XLSX (small sheets, read in the request)."""
    from . import imports

    h = _holder(request, pk, "supplies.keep")
    result = None
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind", "donations")
        result, refused = attempt(lambda: imports.run(acting_user=request.user, holder=h, upload=upload, kind=kind),
                                  request=request)
        if refused:
            status = refused.status
        elif not result["errors"]:
            messages.success(request, _("%(n)d rows imported.") % {"n": result["rows"]})
            return redirect("supplies_holder", pk=h.pk)
        else:
            status = 400
    return render(request, "supplies/import.html", {"h": h, "result": result}, status=status)


@requires("supplies.manage")
@require_http_methods(["GET", "POST"])
def new_holder(request):
    places = scope(Place.objects.filter(kind__in=["street", "community", "compound"]), request.user, "supplies.manage")[:500]
    orgs = scope(Organization.objects.filter(kind__in=["station", "site", "enterprise"]), request.user, "supplies.manage")[:500]
    status = 200
    if request.method == "POST":
        def go():
            place = org = None
            if request.POST.get("organization"):
                org = get_in_scope(Organization.objects.all(), request.user, "supplies.manage",
                                   pk=int_or_none(request.POST.get("organization")) or 0)
            elif request.POST.get("place"):
                place = get_in_scope(Place.objects.all(), request.user, "supplies.manage",
                                     pk=int_or_none(request.POST.get("place")) or 0)
            sup_pk = int_or_none(request.POST.get("supplier"))
            supplier = scope(Holder.objects.all(), request.user, "supplies.manage").filter(pk=sup_pk).first() if sup_pk else None
            return actions.create_holder(acting_user=request.user, kind=request.POST.get("kind", ""),
                                         name=request.POST.get("name", ""), place=place, organization=org, supplier=supplier)
        h, refused = attempt(go, request=request)
        if not refused:
            return redirect("supplies_holder", pk=h.pk)
        status = refused.status
    return render(request, "supplies/new_holder.html", {
        "places": places, "orgs": orgs, "kinds": Holder.Kind.choices,
        "suppliers": scope(Holder.objects.filter(active=True), request.user, "supplies.manage")[:200]}, status=status)
