"""Clinic triage pages: the clinics' posts with today's figures, the post's fast screening
page (keyboard-first, one screen per visitor, fits a phone), the medics' queue (fevers from
the gates to route, fever patients to follow to an outcome), a visit's page, the CDC's daily
export and the admin's export tokens."""
from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.lib import exports
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import get_in_scope, has_perm, may, places_in_scope, requires, scope
from fangkong.places.models import Organization
from fangkong.web.forms import attempt
from fangkong.lib.db.replica import reads_from_replica

from . import actions, queries
from .models import HISTORY, SYMPTOMS, ExportToken, Post, Visit

ROUTE_CHOICES = [(v, label) for v, label in Visit.Route.choices if v]
POST_ROUTES = [(v, label) for v, label in ROUTE_CHOICES if v != Visit.Route.CLEARED]


def _day(request) -> dt.date:
    return parse_date(request.GET.get("day") or "") or timezone.localdate()


@require_GET
@requires("clinic.view")
def home(request):
    day = _day(request)
    clinics = []
    if has_perm(request.user, "clinic.manage"):
        clinics = list(scope(Organization.objects.filter(kind=Organization.Kind.CLINIC), request.user, "clinic.manage"))
    return render(request, "clinic/home.html", {
        "day": day, "figures": queries.post_figures(request.user, day), "clinics": clinics,
        "can_screen": has_perm(request.user, "clinic.screen"), "can_export": has_perm(request.user, "clinic.export"),
        "can_triage": has_perm(request.user, "clinic.triage"), "can_tokens": has_perm(request.user, "clinic.tokens")})


@require_POST
@requires("clinic.manage")
def post_add(request):
    clinic_id = int_or_none(request.POST.get("clinic"))
    clinic = scope(Organization.objects.filter(kind=Organization.Kind.CLINIC), request.user, "clinic.manage").filter(
        pk=clinic_id).first() if clinic_id is not None else None
    post, refused = attempt(lambda: actions.create_post(acting_user=request.user, clinic=clinic,
                                                        name=request.POST.get("name", "")), request=request)
    if refused:
        return HttpResponseBadRequest("; ".join(refused.messages))
    messages.success(request, _("Post created"))
    return redirect("clinic_home")


def _screen_context(request, post, *, values=None, errors=None):
    today = timezone.localdate()
    mine = queries.of_day(Visit.objects.filter(post=post), today)
    values = values or {}
    return {"post": post, "values": values, "errors": errors or {}, "client_id": uuid.uuid4(),
            "symptoms": SYMPTOMS, "routes": POST_ROUTES, "fever_threshold": str(settings.FEVER_THRESHOLD),
            "history": [(k, label, actions._bool(values.get(k))) for k, label in HISTORY],
            "today_n": mine.count(), "today_fevers": mine.filter(fever=True).count(),
            "recent": list(mine.order_by("-occurred_at", "-id")[:5])}


@never_cache
@require_http_methods(["GET", "POST"])
@requires("clinic.screen", obj=Post)
def screen(request, pk):
    post = get_in_scope(Post.objects.select_related("clinic"), request.user, "clinic.screen", pk=pk)
    if request.method == "POST":
        data = {k: request.POST.get(k, "") for k in ("client_id", "id_number", "name", "phone", "sex", "age", "address",
                                                     "temperature", "route", "note", "history_note")}
        data["symptoms"] = request.POST.getlist("symptoms")
        for key, _label in HISTORY:
            data[key] = request.POST.get(key, "")
        result, refused = attempt(lambda: actions.record_visit(acting_user=request.user, post=post, data=data),
                                  request=request, keep_errors=True)
        if refused:
            values = {**data, "client_id": ""}
            ctx = _screen_context(request, post, values=values, errors=refused.errors)
            ctx["client_id"] = data["client_id"] or ctx["client_id"]
            return render(request, "clinic/screen.html", ctx, status=refused.status)
        visit, _created = result
        messages.success(request, _("Recorded: %(who)s → %(route)s") % {
            "who": visit.masked or visit.id_masked or "—", "route": visit.get_route_display()})
        return redirect("clinic_screen", pk=post.pk)
    return render(request, "clinic/screen.html", _screen_context(request, post))


@never_cache
@require_GET
@requires("clinic.triage")
def queue(request):
    waiting, tracked = queries.queue(request.user)
    return render(request, "clinic/queue.html", {"waiting": waiting[:200], "tracked": tracked[:200]})


def _visit_page(request, visit, status=200, errors=None, values=None):
    possible = [name for name in actions.OUTCOMES
                if visit.state in actions.VISIT_TRANSITIONS[name].sources] if may(request.user, "clinic.triage", visit) else []
    return render(request, "clinic/visit.html", {
        "v": visit, "possible": possible, "routes": ROUTE_CHOICES, "symptoms": SYMPTOMS, "history": HISTORY,
        "errors": errors or {}, "values": values or {}, "results": actions.TEST_RESULTS,
        "can_route": visit.state == Visit.State.WAITING and may(request.user, "clinic.triage", visit)}, status=status)


@never_cache
@require_GET
@requires("clinic.view", obj=Visit)
def visit_detail(request, pk):
    visit = get_in_scope(Visit.objects.select_related("post", "clinic", "place"), request.user, "clinic.view", pk=pk)
    return _visit_page(request, visit)


@require_POST
@requires("clinic.triage", obj=Visit)
def visit_route(request, pk):
    visit = get_in_scope(Visit.objects.select_related("post", "clinic", "place"), request.user, "clinic.triage", pk=pk)
    data = {k: request.POST.get(k, "") for k in ("temperature", "route", "note", "history_note")}
    data["symptoms"] = request.POST.getlist("symptoms")
    for key, _label in HISTORY:
        data[key] = request.POST.get(key, "")
    _done, refused = attempt(lambda: actions.route_visit(acting_user=request.user, visit=visit, data=data),
                             request=request, keep_errors=True)
    if refused:
        visit.refresh_from_db()
        return _visit_page(request, visit, status=refused.status, errors=refused.errors, values=data)
    messages.success(request, _("Routed"))
    return redirect("clinic_queue")


@require_POST
@requires("clinic.triage", obj=Visit)
def visit_outcome(request, pk):
    visit = get_in_scope(Visit.objects.select_related("post", "clinic", "place"), request.user, "clinic.triage", pk=pk)
    _done, refused = attempt(lambda: actions.record_outcome(
        acting_user=request.user, visit=visit, action=request.POST.get("action", ""), note=request.POST.get("note", ""),
        result=request.POST.get("result", "")), request=request, keep_errors=True)
    if refused:
        visit.refresh_from_db()
        return _visit_page(request, visit, status=refused.status, errors=refused.errors)
    messages.success(request, _("Outcome recorded"))
    return redirect("clinic_visit", pk=visit.pk)


# --- The CDC's daily report -------------------------------------------------------------

@never_cache
@require_GET
@requires("clinic.export")
@reads_from_replica
def export(request):
    if "format" not in request.GET:
        return render(request, "clinic/export.html", {"day": _day(request),
                                                     "can_unmask": has_perm(request.user, "clinic.unmask")})
    day = parse_date(request.GET.get("day") or "")
    fmt = request.GET.get("format")
    errors = {}
    if day is None:
        errors["day"] = _("Choose the day of the report")
    if fmt not in ("xlsx", "csv"):
        errors["format"] = _("Choose XLSX or CSV")
    if errors:
        return render(request, "clinic/export.html", {"day": timezone.localdate(), "errors": errors,
                                                     "can_unmask": has_perm(request.user, "clinic.unmask")}, status=400)
    unmasked = request.GET.get("unmask") == "1" and has_perm(request.user, "clinic.unmask")
    qs = queries.report_visits(queries.visits(request.user, "clinic.unmask" if unmasked else "clinic.export"), day)
    actions.audit_export(acting_user=request.user, day=day, rows=qs.count(), unmasked=unmasked, fmt=fmt)
    name = f"预检分诊日报-{day.isoformat()}.{fmt}"
    rows = queries.report_rows(qs, unmasked=unmasked)
    if fmt == "csv":
        return exports.csv_response(rows, name)
    return exports.xlsx_response(rows, name, sheet_title="预检分诊")


# --- Export tokens (admin) --------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
@requires("clinic.tokens")
def tokens(request):
    secret, errors, status = "", {}, 200
    if request.method == "POST":
        place_id = int_or_none(request.POST.get("place"))
        place = places_in_scope(request.user, "clinic.tokens").filter(pk=place_id).first() if place_id is not None else None
        result, refused = attempt(lambda: actions.create_token(
            acting_user=request.user, name=request.POST.get("name", ""), place=place,
            unmasked=request.POST.get("unmasked") == "1"), request=request, keep_errors=True)
        if refused:
            errors, status = refused.errors, refused.status
        else:
            secret = result[1]
    places = places_in_scope(request.user, "clinic.tokens").filter(kind__in=["district", "street", "community"])
    return render(request, "clinic/tokens.html", {
        "tokens": scope(ExportToken.objects.all(), request.user, "clinic.tokens"), "places": places, "secret": secret,
        "errors": errors}, status=status)


@require_POST
@requires("clinic.tokens", obj=ExportToken)
def token_revoke(request, pk):
    token = get_in_scope(ExportToken, request.user, "clinic.tokens", pk=pk)
    _done, refused = attempt(lambda: actions.revoke_token(acting_user=request.user, token=token), request=request)
    if refused:
        return redirect("clinic_tokens") if refused.status != 409 else render(
            request, "clinic/tokens.html", {"tokens": scope(ExportToken.objects.all(), request.user, "clinic.tokens"),
                                            "places": [], "secret": "", "errors": {}}, status=409)
    messages.success(request, _("Token revoked"))
    return redirect("clinic_tokens")
