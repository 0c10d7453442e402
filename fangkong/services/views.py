"""Pages of resident services, hardship assistance and the hotline: the committee's boards,
the volunteer's task list on a phone, the organiser's order and round pages, the hardship
register, the pairing partner's cases, the hotline console, and the resident's link page."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib.workflow import Invalid, int_or_none
from fangkong.web.offline import worker_response, worker_url
from fangkong.places.access import (authenticated, get_in_scope, has_perm, may, personal_link, possible_transitions,
                                    public, requires, scope)
from fangkong.places.models import Place
from fangkong.residents.models import Household, Person
from fangkong.web.forms import attempt
from fangkong.web.lists import chosen, page_of
from fangkong.lib.db.replica import reads_from_replica

from . import actions, queries
from .models import (TOPICS, AidGrant, Call, DistributionPoint, GroupOrder, HardshipCase, Reference, Ring, Round,
                     ServiceRequest)

S = ServiceRequest.State
BOARD_FILTERS = [("open", gettext_lazy("Open")), ("overdue", gettext_lazy("Overdue")), ("done", gettext_lazy("Done"))]


def _fail(request, template, ctx, refused):
    ctx["errors"] = list(refused.errors.items())
    return render(request, template, ctx, status=refused.status)


def _local_dt(raw):
    value = parse_datetime(str(raw or "").strip().replace(" ", "T")) if raw else None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


# --- Services board (committee, grid worker, duty officer) ----------------------------------

@requires("services.view")
@require_GET
def board(request):
    which = chosen(request, "state", BOARD_FILTERS, "open")
    page = page_of(request, queries.board(request.user, which))
    record(request.user, "services.list", detail={"state": which})
    return render(request, "services/board.html", {"page": page, "which": which, "filters": BOARD_FILTERS,
                                                   "now": timezone.now(), "per_community": _overdue_per_community(request.user)})


def _overdue_per_community(user) -> list[tuple[str, int, int]]:
    """(community, open, overdue) for the communities in the user's area: the overdue board."""
    from django.db.models import Count, Q

    overdue = queries.board(user, "open")
    communities = list(scope(Place.objects.filter(kind="community"), user, "services.view").values_list("name", "path")[:50])
    rows = dict(overdue.values_list("place_path").annotate(n=Count("pk")).order_by().values_list("place_path", "n"))
    late = dict(overdue.filter(due_at__lt=timezone.now()).values_list("place_path").annotate(
        n=Count("pk")).order_by().values_list("place_path", "n"))
    out = []
    for name, path in communities:
        n_open = sum(n for p, n in rows.items() if p.startswith(path))
        n_late = sum(n for p, n in late.items() if p.startswith(path))
        if n_open:
            out.append((name, n_open, n_late))
    return out


@requires("services.request", obj=Person)
@require_http_methods(["GET", "POST"])
def new_request(request, pk: int):
    person = get_in_scope(Person.objects.select_related("household"), request.user, "services.request", pk=pk)
    ctx = {"person": person, "kinds": ServiceRequest.Kind.choices, "data": request.POST}
    if request.method == "POST":
        req, refused = attempt(lambda: actions.create_request(
            acting_user=request.user, person=person, kind=request.POST.get("kind", ""), text=request.POST.get("text", ""),
            source=ServiceRequest.Source.STAFF))
        if refused:
            return _fail(request, "services/new_request.html", ctx, refused)
        messages.success(request, _("Request recorded."))
        return redirect("services_detail", pk=req.pk)
    return render(request, "services/new_request.html", ctx)


def _manage_ctx(request, req):
    possible = [(n, t) for n, t in possible_transitions(actions.TRANSITIONS, req, request.user) if t.perm == "services.manage"]
    return {"req": req, "possible": possible,
            "accounts": _deliverers_on_duty_first(req) if any(n == "assign" for n, _t in possible) else []}


def _deliverers_on_duty_first(req) -> list:
    """The accounts a request may be assigned to, those on duty now at the sites serving it
    first (people on duty: checked in, or on a shift running now), each marked `on_duty`."""
    from django.db.models import BooleanField, Case, Value, When

    from fangkong.duty.queries import on_duty

    on = on_duty(sites=_sites_serving(req), planned=True).values("pk")
    return list(_deliverers(req).annotate(on_duty=Case(When(pk__in=on, then=Value(True)), default=Value(False),
                                                       output_field=BooleanField())).order_by("-on_duty", "username")[:200])


def _sites_serving(req):
    """Sites of the request's community (its nearest community above, else its own place) and
    of the places above it (a street's site serves the whole street), never a sibling's."""
    from django.db.models import Q

    from fangkong.places.access import ancestor_paths
    from fangkong.places.models import Organization, Place

    area = Place.objects.filter(path__in=ancestor_paths(req.place_path), kind="community").values_list(
        "path", flat=True).first() or req.place_path
    return Organization.objects.filter(Q(place_path__under=area) | Q(place_path__in=ancestor_paths(area)), kind="site")


def _deliverers(req):
    """Accounts the committee may assign a request to: those holding services.deliver over its place."""
    from fangkong.places.access import holders

    # Volunteers granted over a site (an organization) of the request's area; the page offers
    # those on duty now there first (_deliverers_on_duty_first).
    qs = holders("services.deliver", place_path=req.place_path)
    for org_id in _sites_serving(req).values_list("pk", flat=True)[:50]:
        qs = qs | holders("services.deliver", org_id=org_id)
    return qs.distinct().order_by("username")


@requires("services.view", obj=ServiceRequest)
@require_GET
def detail(request, pk: int):
    req = get_in_scope(ServiceRequest.objects.select_related("person", "assignee"), request.user, "services.view", pk=pk)
    record(request.user, "services.view", obj=req)
    return render(request, "services/detail.html", _manage_ctx(request, req))


def _manage_view(name):
    t = actions.TRANSITIONS[name]

    def view(request, pk: int):
        req = get_in_scope(ServiceRequest.objects.all(), request.user, t.perm, pk=pk)
        assignee = None
        if name == "assign":
            uid = int_or_none(request.POST.get("assignee"))
            assignee = _deliverers(req).filter(pk=uid).first() if uid else None
        _r, refused = attempt(lambda: actions.transition(acting_user=request.user, request=req, action=name, assignee=assignee,
                                                         note=request.POST.get("note", "")), request=request)
        if refused:
            req.refresh_from_db()
            return render(request, "services/detail.html", _manage_ctx(request, req), status=refused.status)
        return redirect("services_detail", pk=pk)

    view.__name__ = f"services_{name}"
    return requires(t.perm, obj=ServiceRequest)(require_POST(view))


manage_views = {n: _manage_view(n) for n in ("assign", "waive", "cancel")}


# --- The volunteer's phone pages --------------------------------------------------------------

@requires("services.deliver")
@require_GET
@never_cache
def tasks(request):
    mine = list(queries.my_tasks(request.user)[:100])
    open_pool = list(queries.pool(request.user)[:50])
    record(request.user, "services.tasks", detail={"mine": len(mine), "pool": len(open_pool)})
    return render(request, "services/tasks.html", {"mine": mine, "pool": open_pool, "now": timezone.now()})


def _task_ctx(request, req, **extra):
    from fangkong.uploads.queries import of

    own = queries.is_own_task(request.user, req)
    return {"req": req, "own": own, "now": timezone.now(), "receipts": of(req).count() if own else 0,
            "can_receipt": own and actions.receipt_editable(req), **extra}


@requires("services.deliver", obj=ServiceRequest)
@require_GET
@never_cache
def task(request, pk: int):
    req = queries.task_for(request.user, pk)
    record(request.user, "services.task.view", obj=req)
    return render(request, "services/task.html", _task_ctx(request, req))


def _task_action(name):
    t = actions.TRANSITIONS[name]

    def view(request, pk: int):
        req = queries.task_for(request.user, pk)
        _r, refused = attempt(lambda: actions.transition(
            acting_user=request.user, request=req, action=name, amount=request.POST.get("amount"),
            code=request.POST.get("code", ""), receipt=request.FILES.get("receipt") if name == "bought" else None),
            request=request, keep_errors=True)
        if refused:
            req.refresh_from_db()
            return render(request, "services/task.html", _task_ctx(request, req, errors=list(refused.errors.items())), status=refused.status)
        return redirect("services_task", pk=pk)

    view.__name__ = f"services_task_{name}"
    return requires(t.perm, obj=ServiceRequest)(require_POST(never_cache(view)))


task_views = {n: _task_action(n) for n in ("accept", "bought", "deliver", "settle")}


@requires("services.deliver", obj=ServiceRequest)
@require_POST
@never_cache
def task_receipt(request, pk: int):
    """The receipt's photo of the volunteer's own task (private upload, seen by the committee)."""
    req = queries.task_for(request.user, pk)

    def add():
        upload = request.FILES.get("receipt")
        if upload is None:
            raise Invalid({"receipt": _("Choose a photo of the receipt")})
        return actions.attach_receipt(acting_user=request.user, request=req, file=upload)

    _a, refused = attempt(add, request=request, keep_errors=True)
    if refused:
        return render(request, "services/task.html", _task_ctx(request, req, errors=list(refused.errors.items())),
                      status=refused.status)
    messages.success(request, _("Receipt photo saved."))
    return redirect("services_task", pk=pk)


@requires("services.deliver", obj=ServiceRequest)
@require_POST
@never_cache
def task_phone(request, pk: int):
    req = queries.task_for(request.user, pk)
    phone, refused = attempt(lambda: actions.reveal_phone(acting_user=request.user, request=req), request=request)
    return render(request, "services/task.html", _task_ctx(request, req, phone=phone),
                  status=refused.status if refused else 200)


# --- Group orders -----------------------------------------------------------------------------

@requires("services.orders")
@require_http_methods(["GET", "POST"])
def orders(request):
    places = scope(Place.objects.filter(kind__in=["compound", "building"]), request.user, "services.orders").order_by("path")[:300]
    ctx = {"orders": scope(GroupOrder.objects.select_related("place"), request.user, "services.orders")[:100],
           "places": places, "data": request.POST}
    if request.method == "POST":
        place = places.model.objects.filter(pk=int_or_none(request.POST.get("place")), pk__in=[p.pk for p in places]).first()
        order, refused = attempt(lambda: actions.open_order(
            acting_user=request.user, place=place, title=request.POST.get("title", ""), items=request.POST.get("items", ""),
            closes_at=_local_dt(request.POST.get("closes_at"))))
        if refused:
            return _fail(request, "services/orders.html", ctx, refused)
        return redirect("services_order", pk=order.pk)
    return render(request, "services/orders.html", ctx)


def _order_ctx(request, order, **extra):
    totals = actions.order_totals(order)
    names = dict(Place.objects.filter(path__in=list(totals["buildings"])).values_list("path", "name"))
    buildings = [(names.get(p, p), [b.get(i, 0) for i in order.items]) for p, b in sorted(totals["buildings"].items())]
    from fangkong.places.access import ancestor_paths

    points = DistributionPoint.objects.filter(place_path__in=ancestor_paths(order.place_path)).order_by("name", "pk")
    return {"order": order, "totals": [(i, totals["items"].get(i, 0)) for i in order.items], "buildings": buildings,
            "households": totals["households"], "open": order.is_open(timezone.now()), "points": points[:20],
            "can_close": may(request.user, "services.orders", order), **extra}


@requires("services.order_add", obj=GroupOrder)
@require_http_methods(["GET", "POST"])
def order(request, pk: int):
    order = get_in_scope(GroupOrder.objects.select_related("place"), request.user, "services.order_add", pk=pk)
    if request.method == "POST":
        hh = scope(Household.objects.all(), request.user, "services.order_add").filter(
            address=request.POST.get("address", "").strip()).first()

        def add():
            if hh is None:
                raise Invalid({"address": _("No household with this address in your area")})
            return actions.set_quantity(acting_user=request.user, order=order, household=hh,
                                        item=request.POST.get("item", ""), quantity=request.POST.get("quantity", ""))

        _l, refused = attempt(add, request=request, keep_errors=True)
        if refused:
            order.refresh_from_db()
            return render(request, "services/order.html", _order_ctx(request, order, errors=list(refused.errors.items())),
                          status=refused.status)
        messages.success(request, _("Quantity saved."))
        return redirect("services_order", pk=pk)
    return render(request, "services/order.html", _order_ctx(request, order))


@requires("services.orders", obj=GroupOrder)
@require_POST
def order_close(request, pk: int):
    order = get_in_scope(GroupOrder.objects.all(), request.user, "services.orders", pk=pk)
    _o, refused = attempt(lambda: actions.close_order(acting_user=request.user, order=order), request=request)
    return redirect("services_order", pk=pk) if not refused else render(
        request, "services/order.html", _order_ctx(request, order), status=refused.status)


@requires("services.order_add", obj=GroupOrder)
@require_http_methods(["GET", "POST"])
def order_import(request, pk: int):
    """The owners' 接龙 list of a group order from a spreadsheet: a household a row, a column per item."""
    from . import imports

    order = get_in_scope(GroupOrder.objects.select_related("place"), request.user, "services.order_add", pk=pk)
    ctx = {"title": _("Import the quantities of %(order)s") % {"order": order.title},
           "columns": [_("Address"), _("Room number"), *order.items], "back": ("services_order", order.pk)}
    if request.method == "POST":
        result, refused = attempt(lambda: imports.order_lines(
            acting_user=request.user, order=order, upload=request.FILES.get("file"),
            households=scope(Household.objects.all(), request.user, "services.order_add")), request=request)
        if refused:
            return render(request, "services/list_import.html", ctx, status=refused.status)
        record(request.user, "services.order.import", obj=order, detail={"rows": result["rows"], "errors": len(result["errors"])})
        ctx["result"] = result
        ctx["summary"] = _("%(rows)d households, %(lines)d quantities saved.") % result
    return render(request, "services/list_import.html", ctx)


@requires("services.orders")
@require_http_methods(["GET", "POST"])
def points_import(request):
    """The distribution points' plan from a spreadsheet: a building a row with its point and staff."""
    from . import imports

    ctx = {"title": _("Import the distribution points"), "columns": list(imports.POINT_COLUMNS.labels.values()),
           "back": ("services_points", None)}
    if request.method == "POST":
        result, refused = attempt(lambda: imports.points_plan(
            acting_user=request.user, upload=request.FILES.get("file"),
            buildings=scope(Place.objects.filter(kind="building"), request.user, "services.orders")), request=request)
        if refused:
            return render(request, "services/list_import.html", ctx, status=refused.status)
        ctx["result"] = result
        ctx["summary"] = (_("%(points)d points, %(buildings)d buildings saved.") % result if not result["errors"]
                          else _("Nothing was saved: correct the rows below and import the file again."))
    return render(request, "services/list_import.html", ctx)


@requires("services.orders", obj=GroupOrder)
@require_GET
@reads_from_replica
def order_sheet(request, pk: int):
    """The purchase sheet (totals per item) and the delivery sheet (per building and household), XLSX."""
    from io import BytesIO

    from openpyxl import Workbook

    from fangkong.lib.exports import safe_cell

    order = get_in_scope(GroupOrder.objects.all(), request.user, "services.orders", pk=pk)
    sheets = actions.order_delivery_by_point(order)
    only = int_or_none(request.GET.get("point"))
    if only is not None:
        sheets = [s for s in sheets if s["point"] is not None and s["point"].pk == only]
        if not sheets:
            raise Http404
    totals = actions.order_totals(order)
    wb = Workbook()
    ws = wb.active
    if only is None:
        ws.title = _("Purchase")
        ws.append([_("Item"), _("Total")])
        for item in order.items:
            ws.append([safe_cell(item), totals["items"].get(item, 0)])
    else:
        wb.remove(ws)
    used = set()
    for sheet in sheets:
        name = str(sheet["point"].name if sheet["point"] else _("No distribution point"))
        title = "".join(ch for ch in name if ch not in "[]:*?/\\")[:28] or "-"
        while title in used:
            title = title[:26] + "_" + str(len(used))
        used.add(title)
        ds = wb.create_sheet(title)
        ds.append([safe_cell(name), safe_cell(order.title)])
        ds.append([_("Building"), _("Address"), *[safe_cell(i) for i in order.items]])
        for row in sheet["rows"]:
            ds.append([safe_cell(row["building"]), safe_cell(row["address"]), *[row["items"].get(i, 0) for i in order.items]])
        ds.append([_("Total"), _("%(n)d households") % {"n": len(sheet["rows"])},
                   *[sum(r["items"].get(i, 0) for r in sheet["rows"]) for i in order.items]])
    out = BytesIO()
    wb.save(out)
    record(request.user, "services.order.sheet", obj=order, detail={"point": only})
    resp = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    suffix = f"-point-{only}" if only is not None else ""
    resp["Content-Disposition"] = f'attachment; filename="order-{order.pk}{suffix}.xlsx"'
    return resp


# --- Distribution points and rounds ----------------------------------------------------------------

@requires("services.orders")
@require_http_methods(["GET", "POST"])
def points(request):
    from fangkong.supplies.models import Item

    pts = scope(DistributionPoint.objects.select_related("holder").prefetch_related("buildings", "staff"), request.user,
                "services.orders")
    items = Item.objects.filter(active=True)
    if request.method == "POST":
        point = pts.filter(pk=int_or_none(request.POST.get("point"))).first()
        do = request.POST.get("do", "round")

        def act():
            if point is None:
                raise Invalid({"point": _("Choose a point")})
            if do == "holder":
                raw = int_or_none(request.POST.get("holder"))
                holder = actions.holders_for(point.place_path).filter(pk=raw).first() if raw else None
                if raw and holder is None:
                    raise Invalid({"holder": _("Choose a supplies holder of the point's community")})
                return actions.set_point_holder(acting_user=request.user, point=point, holder=holder)
            day = parse_date(request.POST.get("day", "") or "") or timezone.localdate()
            raw = int_or_none(request.POST.get("item"))
            item = items.filter(pk=raw).first() if raw else None
            if raw and item is None:
                raise Invalid({"item": _("Choose an item of the catalogue")})
            return actions.open_round(acting_user=request.user, point=point, day=day, what=request.POST.get("what", ""),
                                      item=item, quantity_each=request.POST.get("quantity_each"))

        done, refused = attempt(act, request=request, keep_errors=True)
        if not refused:
            return redirect("services_round", pk=done.pk) if do != "holder" else redirect("services_points")
    else:
        refused = None
    rows = [{"point": p, "households": actions.point_households(p).count(),
             "holders": actions.holders_for(p.place_path)[:50]} for p in pts[:50]]
    rounds = scope(Round.objects.select_related("point"), request.user, "services.orders")[:30]
    return render(request, "services/points.html", {
        "rows": rows, "rounds": rounds, "items": items, "total": sum(r["households"] for r in rows),
        "errors": list(refused.errors.items()) if refused else []}, status=refused.status if refused else 200)


HANDOVER_ASSETS = ["services/handover.js"]
ROUND_SW_CACHE = "fk-handover-v3"


def _handover_strings() -> dict:
    return {
        "online": _("Online"), "offline": _("Offline"), "sending": _("sending"),
        "queued": _("Saved on this device; it will be sent when online"),
        "recorded": _("handed over"), "already": _("already recorded"),
        "signIn": _("Sign in again to send the waiting entries"),
    }


def _round_ctx(request, rnd, **extra):
    from django.urls import reverse

    left = actions.not_collected(rnd)
    scope_url = _rounds_scope()
    config = {"user": request.user.get_username(), "round": rnd.pk, "t": _handover_strings(),
              "urls": {"batch": "/api/services/handovers/batch", "scope": scope_url,
                       "sw": worker_url(reverse("services_round_sw"), cache=ROUND_SW_CACHE, items=scope_url,
                                        assets=HANDOVER_ASSETS)}}
    return {"rnd": rnd, "handed": rnd.handovers.count(), "left": left.count(), "left_list": left[:200],
            "can_close": may(request.user, "services.orders", rnd), "config": config, **extra}


@require_GET
@public("service worker script of the distribution round pages: code only, no data")
def round_sw(request):
    """The shared worker script (fangkong/sw.js) for the round pages /services/rounds/<pk>/."""
    return worker_response(_rounds_scope())


def _rounds_scope() -> str:
    """/services/rounds/: where the round pages live (the service worker's scope)."""
    from django.urls import reverse

    return reverse("services_round_sw").rsplit("/", 1)[0] + "/"


@requires("services.handover", obj=Round)
@require_http_methods(["GET", "POST"])
@never_cache
def round_page(request, pk: int):
    rnd = get_in_scope(Round.objects.select_related("point", "item"), request.user, "services.handover", pk=pk)
    if request.method == "POST":
        def mark():
            hh = actions.find_household(rnd, room=request.POST.get("room", ""), household_id=request.POST.get("household"))
            return actions.hand_over(acting_user=request.user, rnd=rnd, household=hh, door=rnd.state == Round.State.CLOSED,
                                     client_id=request.POST.get("client_id", ""))

        h, refused = attempt(mark, request=request, keep_errors=True)
        if refused:
            rnd.refresh_from_db()
            return render(request, "services/round.html", _round_ctx(request, rnd, errors=list(refused.errors.items())), status=refused.status)
        if h.already:  # the same mark sent again (its client id): not a second one
            messages.info(request, f"{h.household.address} · {_('already recorded')}")
        else:
            messages.success(request, _("Handed over: %(a)s") % {"a": h.household.address})
        return redirect("services_round", pk=pk)
    return render(request, "services/round.html", _round_ctx(request, rnd))


@requires("services.orders", obj=Round)
@require_POST
def round_close(request, pk: int):
    rnd = get_in_scope(Round.objects.all(), request.user, "services.orders", pk=pk)
    attempt(lambda: actions.close_round(acting_user=request.user, rnd=rnd), request=request)
    return redirect("services_round", pk=pk)


# --- Hardship register -------------------------------------------------------------------------------

HARDSHIP_FILTERS = [("active", gettext_lazy("Being helped")), ("overdue", gettext_lazy("Revisit overdue")),
                    ("closed", gettext_lazy("Closed"))]


@requires("services.hardship")
@require_GET
def hardship(request):
    which = chosen(request, "state", HARDSHIP_FILTERS, "active")
    page = page_of(request, queries.hardship_register(request.user, which))
    record(request.user, "services.hardship.list", detail={"state": which})
    return render(request, "services/hardship.html", {"page": page, "which": which, "filters": HARDSHIP_FILTERS,
                                                      "today": timezone.localdate()})


@requires("services.hardship")
@require_http_methods(["GET", "POST"])
def hardship_import(request):
    """The hardship register from a spreadsheet; the rows in error listed with their row and column."""
    from . import imports

    result = None
    if request.method == "POST":
        def run():
            upload = request.FILES.get("file")
            if upload is None:
                raise Invalid({"file": _("Choose a CSV or XLSX file")})
            return imports.run(acting_user=request.user, upload=upload)

        result, refused = attempt(run, request=request)
        if refused:
            return render(request, "services/hardship_import.html", {"columns": imports.COLUMNS.labels.values()},
                          status=refused.status)
        record(request.user, "services.hardship.import", detail={"created": result["created"], "errors": len(result["errors"])})
    return render(request, "services/hardship_import.html", {"result": result, "columns": imports.COLUMNS.labels.values()})


@requires("services.hardship", obj=Person)
@require_http_methods(["GET", "POST"])
def hardship_new(request, pk: int):
    person = get_in_scope(Person.objects.all(), request.user, "services.hardship", pk=pk)
    ctx = {"person": person, "categories": HardshipCase.Category.choices, "degrees": HardshipCase.Degree.choices,
           "data": request.POST}
    if request.method == "POST":
        case, refused = attempt(lambda: actions.register_case(
            acting_user=request.user, person=person, category=request.POST.get("category", ""),
            cause=request.POST.get("cause", ""), degree=request.POST.get("degree"), health=request.POST.get("health", ""),
            revisit_days=int_or_none(request.POST.get("revisit_days")) or 14))
        if refused:
            return _fail(request, "services/hardship_new.html", ctx, refused)
        return redirect("services_case", pk=case.pk)
    return render(request, "services/hardship_new.html", ctx)


def _case_ctx(request, case, **extra):
    return {"case": case, "revisits": case.revisits.select_related("by", "item")[:50], "grants": case.grants.all(),
            "today": timezone.localdate(), "holders": actions.holders_for(case.place_path)[:50],
            "items": _ledger_items() if case.holder_id else [], **extra}


@requires("services.hardship", obj=HardshipCase)
@require_http_methods(["GET", "POST"])
def case(request, pk: int):
    case = get_in_scope(HardshipCase.objects.select_related("person", "partner"), request.user, "services.hardship", pk=pk)
    if request.method == "POST":
        do = request.POST.get("do", "")
        users = get_user_model().objects.filter(is_active=True)

        def act():
            if do == "pair":
                partner = users.filter(username=request.POST.get("partner", "").strip()).first()
                return actions.pair(acting_user=request.user, case=case, partner=partner,
                                    start=parse_date(request.POST.get("start", "") or ""))
            if do == "revisit":
                return _revisit(request, case)
            if do == "aid":
                return actions.apply_aid(acting_user=request.user, case=case, kind=request.POST.get("kind", ""),
                                         amount=request.POST.get("amount"), source=request.POST.get("source", ""))
            if do == "approve":
                grant = case.grants.filter(pk=int_or_none(request.POST.get("grant"))).first()
                if grant is None:
                    raise Invalid({"grant": _("Choose an aid of this case")})
                return actions.approve_aid(acting_user=request.user, grant=grant)
            if do == "close":
                return actions.close_case(acting_user=request.user, case=case, note=request.POST.get("note", ""))
            if do == "holder":
                raw = int_or_none(request.POST.get("holder"))
                holder = actions.holders_for(case.place_path).filter(pk=raw).first() if raw else None
                if raw and holder is None:
                    raise Invalid({"holder": _("Choose a supplies holder of the case's community")})
                return actions.set_case_holder(acting_user=request.user, case=case, holder=holder)
            raise Invalid({"do": _("Unknown action")})

        _r, refused = attempt(act, request=request, keep_errors=True)
        if refused:
            case.refresh_from_db()
            return render(request, "services/case.html", _case_ctx(request, case, errors=list(refused.errors.items())), status=refused.status)
        return redirect("services_case", pk=pk)
    record(request.user, "services.hardship.view", obj=case)
    return render(request, "services/case.html", _case_ctx(request, case))


def _revisit(request, case):
    from fangkong.supplies.models import Item

    day = request.POST.get("day", "")
    next_due = request.POST.get("next_due", "")
    raw = int_or_none(request.POST.get("item"))
    item = Item.objects.filter(pk=raw, active=True).first() if raw else None
    if raw and item is None:
        raise Invalid({"item": _("Choose an item of the catalogue")})
    return actions.revisit(acting_user=request.user, case=case, day=parse_date(day) if day else None,
                           given=request.POST.get("given", ""), notes=request.POST.get("notes", ""),
                           next_due=parse_date(next_due) if next_due else None, item=item,
                           quantity=request.POST.get("quantity"))


def _ledger_items():
    from fangkong.supplies.models import Item

    return Item.objects.filter(active=True)


@authenticated
@require_http_methods(["GET", "POST"])
def pairing(request):
    """The pairing partner's own cases (any account), with the revisit form."""
    mine = queries.my_pairings(request.user).select_related("holder")
    if request.method == "POST":
        case = mine.filter(pk=int_or_none(request.POST.get("case"))).first()

        def act():
            if case is None:
                raise Invalid({"case": _("Not one of your cases")})
            return _revisit(request, case)

        _r, refused = attempt(act, request=request)
        if not refused:
            messages.success(request, _("Revisit recorded."))
            return redirect("services_pairing")
        return render(request, "services/pairing.html", {"cases": mine, "today": timezone.localdate(), "items": _ledger_items(),
                                                         "errors": list(refused.errors.items())}, status=refused.status)
    return render(request, "services/pairing.html", {"cases": mine, "today": timezone.localdate(), "items": _ledger_items()})


# --- Hotline ---------------------------------------------------------------------------------------

def _console_ctx(request, **extra):
    q = request.GET.get("q", "")
    refs = actions.search_references(scope(Reference.objects.all(), request.user, "services.hotline", ancestors=True), q)
    rings = scope(Ring.objects.filter(call__isnull=True), request.user, "services.hotline")[:20]
    from fangkong.places.access import top_paths

    paths = top_paths(request.user, "services.hotline") or [""]
    return {"calls": queries.my_calls(request.user)[:50], "rings": rings, **_rota_now(paths[0]), "refs": refs[:20], "q": q,
            "topics": TOPICS, "notices": _notices_in_force(request.user, q), "now": timezone.now(), "data": request.POST,
            **extra}


def _rota_now(path: str) -> dict:
    """Who is on the hotline now (checked in, or assigned to the running shift and not yet
    checked in) and who comes next, from the duty module's shifts of the post "hotline"."""
    planned = list(queries.officers_on_duty(path).order_by("first_name", "username"))
    checked_in = set(queries.officers_on_duty(path, planned=False).values_list("pk", flat=True))
    next_at, next_users = queries.officers_next(path)
    return {"on_duty": [{"user": u, "checked_in": u.pk in checked_in} for u in planned],
            "next_at": next_at, "next_on_duty": list(next_users.order_by("first_name", "username"))}


def _notices_in_force(user, q: str = "") -> list:
    """The command module's notices in force that concern the officer (its own query), those
    matching the search words first-hand: every word in the title or the text."""
    from fangkong.command.views import notices_in_force

    words = str(q or "").split()[:5]
    out = []
    for n in notices_in_force(user)[:200]:
        if all(w in n.title or w in n.body for w in words):
            out.append(n)
        if len(out) >= 20:
            break
    return out


@requires("services.hotline")
@require_http_methods(["GET", "POST"])
@never_cache
def console(request):
    """The hotline console (desktop, keyboard-first): new call, waiting calls, my cases, reference search."""
    if request.method == "POST":
        call, refused = attempt(lambda: actions.new_call(
            acting_user=request.user, topic=request.POST.get("topic", ""), question=request.POST.get("question", ""),
            answer=request.POST.get("answer", ""), caller_name=request.POST.get("caller_name", ""),
            phone=request.POST.get("phone", ""), follow_up_due=_local_dt(request.POST.get("follow_up_due"))))
        if refused:
            return _fail(request, "services/console.html", _console_ctx(request), refused)
        messages.success(request, _("Call recorded; it is yours until closed."))
        return redirect("services_call", pk=call.pk)
    return render(request, "services/console.html", _console_ctx(request))


@requires("services.hotline", obj=Ring)
@require_POST
def ring_answer(request, pk: int):
    ring = get_in_scope(Ring.objects.all(), request.user, "services.hotline", pk=pk)
    call, refused = attempt(lambda: actions.new_call(
        acting_user=request.user, topic=request.POST.get("topic", ""), question=request.POST.get("question", ""),
        answer=request.POST.get("answer", ""), ring_=ring), request=request, keep_errors=True)
    if refused:
        return _fail(request, "services/console.html", _console_ctx(request), refused)
    return redirect("services_call", pk=call.pk)


def _call_ctx(request, call, **extra):
    officers = []
    if call.owner_id == request.user.pk and call.state == Call.State.OPEN:
        from fangkong.places.access import holders

        officers = holders("services.hotline", place_path=call.place_path).exclude(pk=request.user.pk).order_by("username")[:50]
    return {"call": call, "own": call.owner_id == request.user.pk, "offered": call.handover_to_id == request.user.pk,
            "officers": officers, "kinds": ServiceRequest.Kind.choices, "requests": call.service_requests.all(), **extra}


@requires("services.hotline", obj=Call)
@require_http_methods(["GET", "POST"])
@never_cache
def call(request, pk: int):
    call = get_in_scope(Call.objects.select_related("owner", "person", "handover_to"), request.user, "services.hotline", pk=pk)
    if request.method == "POST":
        do = request.POST.get("do", "")

        def act():
            if do == "update":
                return actions.update_call(acting_user=request.user, call=call, answer=request.POST.get("answer"),
                                           follow_up_due=_local_dt(request.POST.get("follow_up_due")))
            if do == "close":
                return actions.close_call(acting_user=request.user, call=call, outcome=request.POST.get("outcome", ""))
            if do == "offer":
                to = get_user_model().objects.filter(pk=int_or_none(request.POST.get("to"))).first()
                return actions.offer_call(acting_user=request.user, call=call, to=to)
            if do in ("take", "decline"):
                return actions.take_call(acting_user=request.user, call=call, accept=do == "take")
            if do == "request":
                return actions.call_request(acting_user=request.user, call=call, kind=request.POST.get("kind", ""),
                                            text=request.POST.get("text", ""))
            if do == "person":
                from fangkong.residents.queries import find_person

                person = find_person(request.user, "services.hotline", request.POST.get("id_number", ""))
                return actions.link_person(acting_user=request.user, call=call, person=person)
            if do == "inflow":
                return actions.call_inflow_note(acting_user=request.user, call=call, text=request.POST.get("text", ""))
            if do == "alert":
                return actions.call_alert(acting_user=request.user, call=call, text=request.POST.get("text", ""))
            raise Invalid({"do": _("Unknown action")})

        _r, refused = attempt(act, request=request, keep_errors=True)
        if refused:
            call.refresh_from_db()
            return render(request, "services/call.html", _call_ctx(request, call, errors=list(refused.errors.items())), status=refused.status)
        return redirect("services_call", pk=pk)
    record(request.user, "services.call.view", obj=call)
    return render(request, "services/call.html", _call_ctx(request, call))


@requires("services.hotline_view")
@require_GET
def calls(request):
    """Every call in scope, with the open cases per owner and today's calls per topic."""
    from django.db.models import Count

    qs = scope(Call.objects.select_related("owner"), request.user, "services.hotline_view")
    page = page_of(request, qs)
    owners = qs.exclude(state=Call.State.CLOSED).values("owner__username").annotate(n=Count("pk")).order_by("-n")[:50]
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))
    labels = dict(TOPICS)
    topics = [(labels.get(t, t), n) for t, n in qs.filter(received_at__gte=start).values_list("topic").annotate(
        n=Count("pk")).order_by("-n")]
    record(request.user, "services.call.list")
    return render(request, "services/calls.html", {"page": page, "owners": owners, "topics": topics})


@requires("services.hotline_view")
@require_GET
def rota(request):
    """The 24-hour duty rota: the duty module's shifts of the post "hotline" under the street
    (planned, assigned and checked in there, on the hotline site's page), from yesterday to
    the day after tomorrow, with who is on duty now and next."""
    from fangkong.duty.queries import person_state
    from fangkong.places.access import top_paths

    paths = top_paths(request.user, "services.hotline_view")
    path = paths[0] if paths else Place.objects.filter(parent__isnull=True).values_list("path", flat=True).first() or ""
    now = timezone.now()
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate() - dt.timedelta(days=1), dt.time.min))
    rows = []
    for shift in queries.hotline_shifts(request.user, "services.hotline_view", start=start, end=start + dt.timedelta(days=4))[:200]:
        people = [{"name": a.user.get_full_name() or a.user.get_username(), "state": person_state(a, now), "a": a}
                  for a in shift.assignments.all() if a.state != "removed"]
        rows.append({"shift": shift, "people": people, "now": shift.starts_at <= now < shift.ends_at,
                     "free": shift.slots - len(people)})
    sites = [{"site": s, "link": may(request.user, "duty.view", s)} for s in queries.hotline_sites(request.user, "services.hotline_view")]
    return render(request, "services/rota.html", {"rows": rows, "sites": sites, "now": now, **_rota_now(path)})


@requires("services.reference")
@require_http_methods(["GET", "POST"])
def references(request):
    from fangkong.places.access import top_paths

    refs = scope(Reference.objects.all(), request.user, "services.reference", ancestors=True)
    if request.method == "POST":
        paths = top_paths(request.user, "services.reference")
        path = paths[0] if paths else Place.objects.filter(parent__isnull=True).values_list("path", flat=True).first() or ""
        ref = scope(Reference.objects.all(), request.user, "services.reference").filter(
            pk=int_or_none(request.POST.get("ref"))).first()
        _r, refused = attempt(lambda: actions.save_reference(
            acting_user=request.user, place_path=ref.place_path if ref else path, reference=ref,
            title=request.POST.get("title", ""), body=request.POST.get("body", ""), address=request.POST.get("address", ""),
            hours=request.POST.get("hours", ""), keywords=request.POST.get("keywords", "")))
        if refused:
            return _fail(request, "services/references.html", {"refs": refs, "data": request.POST}, refused)
        return redirect("services_references")
    return render(request, "services/references.html", {"refs": refs})


# --- The resident's link page -------------------------------------------------------------------------

def _resident_ctx(request, **extra):
    person = request.resident
    reqs = ServiceRequest.objects.filter(person=person).order_by("-created_at")[:20]
    orders_ = []
    if person.household_id:
        hh = person.household
        now = timezone.now()
        from fangkong.places.access import ancestor_paths

        for o in GroupOrder.objects.filter(state=GroupOrder.State.OPEN, closes_at__gt=now,
                                           place_path__in=ancestor_paths(hh.place_path)):
            if hh.place_path.startswith(o.place_path):
                mine = dict(o.lines.filter(household=hh).values_list("item", "quantity"))
                orders_.append((o, [(i, mine.get(i, 0)) for i in o.items]))
    return {"person": person, "reqs": reqs, "orders": orders_, "kinds": ServiceRequest.Kind.choices, **extra}


@personal_link
@require_http_methods(["GET", "POST"])
@never_cache
def resident(request):
    """The resident's services: ask for something, see its state and the hand-over code,
    confirm the delivery, join the building's group order."""
    person = request.resident
    if request.method == "POST":
        do = request.POST.get("do", "")

        def act():
            if do == "request":
                return actions.create_request(acting_user=None, person=person, kind=request.POST.get("kind", ""),
                                              text=request.POST.get("text", ""), source=ServiceRequest.Source.LINK,
                                              client_key=request.POST.get("client_key", ""))
            if do in ("confirm", "cancel"):
                req = ServiceRequest.objects.filter(person=person, pk=int_or_none(request.POST.get("request"))).first()
                if req is None:
                    raise Invalid({"request": _("Not one of your requests")})
                fn = actions.confirm_by_resident if do == "confirm" else actions.cancel_by_resident
                return fn(person=person, request=req)
            if do == "order":
                order = GroupOrder.objects.filter(pk=int_or_none(request.POST.get("order"))).first()
                if order is None or person.household_id is None or not person.household.place_path.startswith(order.place_path):
                    raise Invalid({"order": _("Not an order of your building")})
                return actions.set_quantity(acting_user=None, order=order, household=person.household,
                                            item=request.POST.get("item", ""), quantity=request.POST.get("quantity", ""))
            raise Invalid({"do": _("Choose what to do")})

        _r, refused = attempt(act, request=request)
        if refused:
            return render(request, "services/resident.html", _resident_ctx(request), status=refused.status)
        messages.success(request, _("Saved."))
        return redirect("services_resident", token=request.resident_token)
    return render(request, "services/resident.html", _resident_ctx(request))
