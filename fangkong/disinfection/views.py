"""Disinfection pages (phone first): the board (due / overdue / done per compound and per
worker today, completion over the week, agent used against rounds, case rounds), a
place's targets with their QR sheet, and the worker's phone page: today's rounds picked
from the list or opened by scanning a target's code, logged through a queue kept on the
device (a client id per log, sent once; the gate page's and duty page's pattern)."""
from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.actions import record
from fangkong.lib.workflow import int_or_none
from fangkong.web.offline import worker_response, worker_url
from fangkong.places.access import get_in_scope, may, public, requires, scope
from fangkong.places.models import Place
from fangkong.supplies.models import Item
from fangkong.web.forms import attempt
from fangkong.web.lists import page_of

from . import actions, sheets
from .models import Round, Target

AGENTS = ("disinfectant", "disinfectant_powder", "alcohol")
ASSETS = ["disinfection/disinfection.js"]
SW_CACHE = "fk-disinfection-v2"
S = Round.State


def agents():
    return list(Item.objects.filter(code__in=AGENTS, active=True))


def _agent(raw):
    pk = int_or_none(raw)
    if pk is None:
        return None
    item = Item.objects.filter(pk=pk, code__in=AGENTS).first()
    if item is None:
        raise actions.Invalid({"agent": _("Choose a disinfectant")})
    return item


@requires("disinfection.view")
@require_GET
def board(request):
    user = request.user
    now = timezone.now()
    today = timezone.localdate()
    rounds = scope(Round.objects.all(), user, "disinfection.view")
    todays = rounds.filter(day=today)
    per_compound = list(todays.values("compound_id_copy").annotate(
        due=Count("id"), done=Count("id", filter=Q(state=S.DONE)),
        overdue=Count("id", filter=Q(state=S.DUE, due_at__lt=now))).order_by("-overdue", "compound_id_copy"))
    names = Place.objects.in_bulk([r["compound_id_copy"] for r in per_compound if r["compound_id_copy"]])
    for r in per_compound:
        r["place"] = names.get(r["compound_id_copy"])
    workers = list(todays.filter(state=S.DONE).values("done_by__first_name", "done_by__username")
                   .annotate(n=Count("id")).order_by("-n")[:30])
    week = []
    for i in range(6, -1, -1):
        d = today - dt.timedelta(days=i)
        agg = rounds.filter(day=d).aggregate(n=Count("id"), done=Count("id", filter=Q(state=S.DONE)))
        week.append({"day": d, "n": agg["n"], "done": agg["done"],
                     "rate": round(100 * agg["done"] / agg["n"]) if agg["n"] else None})
    used = list(rounds.filter(day__gt=today - dt.timedelta(days=7), state=S.DONE).values("agent__name", "agent__unit")
                .annotate(rounds=Count("id"), amount=Sum("amount")).order_by("agent__name"))
    cases = rounds.filter(kind=Round.Kind.CASE).filter(Q(state=S.DUE) | Q(day=today)).select_related("target")[:50]
    overdue = None
    if request.GET.get("show") == "overdue":
        overdue = page_of(request, rounds.filter(state=S.DUE, due_at__lt=now, day__gte=today - dt.timedelta(days=1))
                          .select_related("target").order_by("-key_area", "due_at"))
    places = scope(Place.objects.filter(kind__in=[Place.Kind.COMPOUND]), user, "disinfection.view")[:100]
    record(user, "disinfection.board")
    return render(request, "disinfection/board.html", {
        "per_compound": per_compound, "workers": workers, "week": week, "used": used, "cases": cases,
        "overdue": overdue, "places": places, "now": now,
    })


def _place_context(request, place):
    today = timezone.localdate()
    targets = scope(Target.objects.filter(active=True, place_path__under=place.path), request.user, "disinfection.view")
    page = page_of(request, targets.order_by("place_path", "kind", "label", "id").annotate(
        today_due=Count("rounds", filter=Q(rounds__day=today)),
        today_done=Count("rounds", filter=Q(rounds__day=today, rounds__state=S.DONE))))
    return {"place": place, "page": page, "kinds": [(v, lbl) for v, lbl in Target.Kind.choices
                                                       if v not in (Target.Kind.CASE_AREA, Target.Kind.ISOLATION_WASTE)],
            "buildings": Place.objects.filter(path__under=place.path, kind__in=[Place.Kind.BUILDING, Place.Kind.COMPOUND])[:300],
            "may_manage": may(request.user, "disinfection.manage", place), "is_compound": place.kind == Place.Kind.COMPOUND,
            "total": targets.count()}


@requires("disinfection.view", obj=Place)
@require_GET
def place(request, pk):
    p = get_in_scope(Place.objects.all(), request.user, "disinfection.view", pk=pk)
    record(request.user, "disinfection.place", obj=p)
    return render(request, "disinfection/place.html", _place_context(request, p))


def _run(request, p, fn, done):
    _r, refused = attempt(fn, request=request)
    if refused:
        return render(request, "disinfection/place.html", _place_context(request, p), status=refused.status)
    messages.success(request, done)
    return redirect("disinfection_place", pk=p.pk)


@requires("disinfection.manage", obj=Place)
@require_POST
def add_target(request, pk):
    p = get_in_scope(Place.objects.all(), request.user, "disinfection.manage", pk=pk)

    def go():
        where = get_in_scope(Place.objects.all(), request.user, "disinfection.manage",
                             pk=int_or_none(request.POST.get("place")) or p.pk)
        if not where.path.startswith(p.path):
            raise actions.Invalid({"place": _("Choose a building of this place")})
        return actions.create_target(acting_user=request.user, place=where, kind=request.POST.get("kind", ""),
                                     label=request.POST.get("label", ""), every_days=request.POST.get("every_days"),
                                     times_a_day=request.POST.get("times_a_day"), key_area=bool(request.POST.get("key_area")))
    return _run(request, p, go, _("Target added."))


@requires("disinfection.manage", obj=Place)
@require_POST
def stairwells(request, pk):
    p = get_in_scope(Place.objects.all(), request.user, "disinfection.manage", pk=pk)
    return _run(request, p, lambda: actions.generate_stairwells(
        acting_user=request.user, compound=p, units=request.POST.get("units"), every_days=request.POST.get("every_days"),
        times_a_day=request.POST.get("times_a_day")), _("Stairwells added."))


@requires("disinfection.manage", obj=Place)
@require_POST
def import_targets(request, pk):
    p = get_in_scope(Place.objects.all(), request.user, "disinfection.manage", pk=pk)
    return _run(request, p, lambda: sheets.import_targets(acting_user=request.user, place=p, upload=request.FILES.get("file")),
                _("Targets imported."))


@requires("disinfection.manage", obj=Place)
@require_GET
def qr_sheet(request, pk):
    p = get_in_scope(Place.objects.all(), request.user, "disinfection.manage", pk=pk)
    targets = list(scope(Target.objects.filter(active=True, place_path__under=p.path).exclude(
        kind=Target.Kind.ISOLATION_WASTE), request.user, "disinfection.manage")[:2000])
    data = sheets.qr_sheet(acting_user=request.user, place=p, targets=targets)
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="disinfection-qr-{p.pk}.pdf"'
    return resp


def _js_strings() -> dict:
    return {"online": _("Online"), "offline": _("Offline: logs are kept on this phone"), "queued": _("on this phone, to be sent"),
            "logged": _("Logged"), "rejected": _("refused"), "signIn": _("Sign in again to send the waiting logs."),
            "notHere": _("This code is not among today's rounds on this phone.")}


def _phone(request, rounds, *, target=None, status=200):
    user = request.user
    config = {"user": user.get_username(),
              "urls": {"batch": "/api/disinfection/logs",
                       # Offline, a target's code scanned (/disinfection/t/<code>/) opens the kept list on it.
                       "sw": worker_url(reverse("disinfection_sw"), cache=SW_CACHE, page=reverse("disinfection_today"),
                                        scans=reverse("disinfection_board") + "t/", assets=ASSETS),
                       "scope": reverse("disinfection_board"), "today": reverse("disinfection_today")},
              "t": _js_strings()}
    done = scope(Round.objects.filter(day=timezone.localdate(), state=S.DONE, done_by=user), user, "disinfection.log").count()
    return render(request, "disinfection/today.html", {
        "rounds": rounds, "target": target, "agents": agents(), "config": config, "done_today": done,
        "now": timezone.now(), "client_id": uuid.uuid4().hex}, status=status)


@requires("disinfection.log")
@require_GET
def today(request):
    """Today's rounds still due (and late case and key-area rounds of yesterday), earliest first."""
    now = timezone.now()
    qs = scope(Round.objects.filter(state=S.DUE, day__gte=timezone.localdate() - dt.timedelta(days=1), day__lte=timezone.localdate()),
               request.user, "disinfection.log").select_related("target").order_by("due_at", "id")
    rounds = list(qs[:300])
    for r in rounds:
        r.late = r.due_at < now
    return _phone(request, rounds)


@requires("disinfection.log", obj=Target)
@require_GET
def scan(request, code):
    """A target's printed code, scanned with the phone's camera: the round it logs now."""
    t = get_in_scope(Target.objects.all(), request.user, "disinfection.log", code=code)
    r = actions.round_for_scan(t)
    record(request.user, "disinfection.scan", obj=t)
    rounds = [r] if r is not None else []
    for x in rounds:
        x.late = x.state == S.DUE and x.due_at < timezone.now()
    return _phone(request, rounds, target=t)


@requires("disinfection.log", obj=Round)
@require_POST
def log(request, pk):
    """Log a round without the page's script (the script sends through the API)."""
    r = get_in_scope(Round.objects.select_related("target"), request.user, "disinfection.log", pk=pk)
    post = request.POST
    _r, refused = attempt(lambda: actions.log_round(
        acting_user=request.user, round=r, client_id=post.get("client_id", ""), agent=_agent(post.get("agent")),
        amount=post.get("amount"), note=post.get("note", "")), request=request)
    if refused:
        return redirect("disinfection_today")
    messages.success(request, _("Round logged: %(target)s") % {"target": r.target.label})
    return redirect("disinfection_today")


@require_GET
@public("service worker script of the disinfection phone page: code only, no data")
def service_worker(request):
    return worker_response(reverse("disinfection_board"))
