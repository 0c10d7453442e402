"""Work resumption pages, one set per party, all phone-first:

* the liaison's portal: its enterprise, the application, problems to answer, staff list and
  the twice-daily temperatures of isolated staff;
* the committee's review queue and the street's board: one list, scoped by the access
  module, overdue first; the detail page carries the buttons the user may take now;
* the checker's phone checklist (pass / fail / not applicable, note, photos per item);
* the morning meeting's list of every open problem with its answer or measure;
* enterprises in the grid and the ledger (XLSX).
"""
from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib.workflow import int_or_none
from fangkong.web.offline import worker_response, worker_url
from fangkong.places.access import (get_in_scope, has_perm, holders, may, possible_transitions, public, requires, scope)
from fangkong.places.models import Place
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.web.lists import chosen, page_of
from fangkong.lib.db.replica import reads_from_replica

from . import actions
from .forms import AnswerForm, ApplyForm, HealthForm, RegisterForm, StaffForm, TemperatureForm
from .models import Application, CheckAnswer, Enterprise, Problem, SiteCheck, StaffRecord

S = Application.State
FILTERS = [("open", pgettext_lazy("resumption filter", "Open")), ("queue", gettext_lazy("Waiting for review")),
           ("overdue", gettext_lazy("Overdue")), ("all", gettext_lazy("All"))]


def board_queryset(user, which: str = "open"):
    qs = scope(Application.objects.select_related("enterprise__organization"), user, "resumption.view")
    now = timezone.now()
    if which == "open":
        qs = qs.exclude(state__in=[S.WITHDRAWN])
    elif which == "queue":
        qs = qs.filter(state__in=[S.SUBMITTED, S.REVIEW])
    elif which == "overdue":
        qs = qs.filter(state__in=actions.OPEN_STATES, due_at__lt=now)
    overdue = Case(When(state__in=actions.OPEN_STATES, due_at__lt=now, then=Value(0)), default=Value(1),
                   output_field=IntegerField())
    return qs.annotate(overdue_rank=overdue).order_by("overdue_rank", F("due_at").asc(nulls_last=True), "-created_at")


@requires("resumption.view")
@require_GET
def board(request):
    """The street's board and the committee's review queue: where every application stands."""
    which = chosen(request, "state", FILTERS, "open")
    page = page_of(request, board_queryset(request.user, which))
    counts = dict(scope(Application.objects.all(), request.user, "resumption.view").values_list("state").annotate(
        n=Count("id")).order_by())
    record(request.user, "resumption.list", detail={"state": which, "page": page.number})
    return render(request, "resumption/board.html", {
        "page": page, "which": which, "filters": FILTERS,
        "counts": [(label, counts.get(key, 0)) for key, label in S.choices],
        "can_apply": has_perm(request.user, "resumption.apply"),
        "can_register": has_perm(request.user, "resumption.register"),
        "can_check": has_perm(request.user, "resumption.check"),
        "can_checklist": has_perm(request.user, "resumption.checklist")})


def _app(user, pk, perm="resumption.view"):
    return get_in_scope(Application.objects.select_related("enterprise__organization", "enterprise__place"), user, perm, pk=pk)


@requires("resumption.view", obj=Application)
@require_GET
def detail(request, pk: int):
    app = _app(request.user, pk)
    record(request.user, "resumption.view", obj=app)
    return _render_detail(request, app)


def _render_detail(request, app, status=200):
    possible = possible_transitions(actions.TRANSITIONS, app, request.user)
    checkers = holders("resumption.check", place_path=app.place_path).order_by("username")
    return render(request, "resumption/detail.html", {
        "app": app, "possible": possible, "checkers": checkers, "today": timezone.localdate(),
        "events": [(e, actions.ACTION_LABELS.get(e.action, e.action)) for e in app.events.all()],
        "problems": app.problems.all(), "checks": app.checks.prefetch_related("assignees"),
        "can_answer": may(request.user, "resumption.answer", app),
        "overdue": bool(app.state in actions.OPEN_STATES and app.due_at and app.due_at < timezone.now()),
    }, status=status)


def _take(request, app, name: str):
    post = request.POST
    kwargs = {}
    if name == "return":
        kwargs["problems"] = [line for line in post.get("problems", "").splitlines() if line.strip()]
    elif name == "assign":
        ids = [int_or_none(x) for x in post.getlist("checkers")]
        from django.contrib.auth import get_user_model

        kwargs["checkers"] = list(get_user_model().objects.filter(pk__in=[i for i in ids if i is not None]))
        kwargs["check_date"] = _date(post.get("check_date"))
    elif name == "resume":
        kwargs["restart_date"] = _date(post.get("restart_date"))
    elif name == "suspend":
        kwargs["reason"] = post.get("reason", "")
    return actions.transition(acting_user=request.user, app=app, action=name, **kwargs)


def _date(raw):
    try:
        return dt.date.fromisoformat(str(raw or "").strip()) if raw else None
    except ValueError:
        return "bad"


def _done(request, app, name, t):
    messages.success(request, _("%(action)s: done.") % {"action": t.label})
    return redirect("resumption_detail", pk=app.pk)


def _refused(request, app, refusal):
    app.refresh_from_db()
    return _render_detail(request, app, status=refusal.status)


transition_views = transition_pages(actions.TRANSITIONS, Application.objects.all(), "resumption", take=_take, done=_done,
                                    refused=_refused)


# --- The liaison's portal -----------------------------------------------------------------

def _my_enterprises(user):
    return scope(Enterprise.objects.select_related("organization", "place"), user, "resumption.apply")


@requires("resumption.apply")
@require_GET
def portal(request):
    ents = list(_my_enterprises(request.user))
    rows = []
    for ent in ents:
        app = ent.applications.exclude(state=S.WITHDRAWN).first()
        rows.append({"ent": ent, "app": app,
                     "problems": ent.problems.filter(state=Problem.State.OPEN).order_by("due_date"),
                     "staff": ent.staff.filter(active=True).count(),
                     "isolated": ent.staff.filter(active=True, observation__state="active").count()})
    record(request.user, "resumption.portal")
    return render(request, "resumption/portal.html", {"rows": rows, "answer_form": AnswerForm()})


@requires("resumption.apply", obj=Enterprise)
@require_http_methods(["GET", "POST"])
def apply(request, pk: int):
    ent = get_in_scope(Enterprise.objects.select_related("organization"), request.user, "resumption.apply", pk=pk)
    form = ApplyForm(request.POST or None)
    app, status = submitted(request, form, lambda d: actions.create_application(
        acting_user=request.user, enterprise=ent, planned_date=d["planned_date"], headcount=d["headcount"],
        measures=d["measures"], submit=True))
    if app:
        messages.success(request, _("Application %(serial)s submitted.") % {"serial": app.serial})
        return redirect("resumption_detail", pk=app.pk)
    return render(request, "resumption/apply.html", {"form": form, "ent": ent}, status=status)


# --- Enterprises ------------------------------------------------------------------------------

@requires("resumption.view")
@require_GET
def enterprises(request):
    qs = scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.view")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(organization__name__icontains=q[:50])
    page = page_of(request, qs.order_by("place_path", "id"))
    return render(request, "resumption/enterprises.html", {"page": page, "q": q,
                                                            "can_register": has_perm(request.user, "resumption.register")})


def _register_places(user):
    return scope(Place.objects.filter(kind__in=actions.PLACE_KINDS), user, "resumption.register").order_by("path")


@requires("resumption.register")
@require_http_methods(["GET", "POST"])
def register(request):
    form = RegisterForm(request.POST or None, places=_register_places(request.user))
    ent, status = submitted(request, form, lambda d: actions.register_enterprise(acting_user=request.user, **d))
    if ent:
        messages.success(request, _("%(name)s registered.") % {"name": ent.name})
        return redirect("resumption_enterprise", pk=ent.pk)
    return render(request, "resumption/register.html", {"form": form}, status=status)


@requires("resumption.view", obj=Enterprise)
@require_GET
def enterprise(request, pk: int):
    ent = get_in_scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.view", pk=pk)
    record(request.user, "resumption.enterprise", obj=ent)
    app = ent.applications.exclude(state=S.WITHDRAWN).first()
    staff = ent.staff.select_related("origin", "observation").filter(active=True)
    return render(request, "resumption/enterprise.html", {
        "ent": ent, "app": app, "staff": staff, "checks": ent.checks.order_by("-due_date", "-id")[:20],
        "problems": ent.problems.exclude(state=Problem.State.CLOSED),
        "can_inspect": may(request.user, "resumption.check", ent) and app is not None
        and app.state in (S.APPROVED, S.RESUMED, S.SUSPENDED),
        "can_health": may(request.user, "resumption.health", ent), "health_form": HealthForm(),
        "can_staff": may(request.user, "resumption.staff", ent), "can_apply": may(request.user, "resumption.apply", ent),
        "interval": actions.inspection_interval(ent)})


@requires("resumption.check", obj=Enterprise)
@require_POST
def inspect(request, pk: int):
    ent = get_in_scope(Enterprise.objects.all(), request.user, "resumption.check", pk=pk)
    check, refusal = attempt(lambda: actions.start_inspection(acting_user=request.user, enterprise=ent), request=request)
    if refusal:
        return redirect("resumption_enterprise", pk=ent.pk) if refusal.status != 409 else HttpResponse(
            refusal.reason, status=409, content_type="text/plain; charset=utf-8")
    return redirect("resumption_check", pk=check.pk)


# --- Checks -----------------------------------------------------------------------------------

# The phone checklist works without network (the gate and duty pages' pattern): the pages
# under /resumption/checks/ and these assets are kept by a service worker; the answers
# (with photos) wait on the phone under a client id and are sent once when online.
ASSETS = ["resumption/check.css", "resumption/check.js"]
SW_CACHE = "fk-resumption-v2"


def _offline_config(user) -> dict:
    return {
        "user": user.get_username(),
        "urls": {"api": "/api/resumption-checks/", "scope": reverse("resumption_checks"),
                 "sw": worker_url(reverse("resumption_sw"), cache=SW_CACHE, page=reverse("resumption_checks"),
                                  items=reverse("resumption_checks"), assets=ASSETS)},
        "t": {
            "online": _("Online"), "offline": _("Offline"),
            "queued": _("Saved on this device; it will be sent when online"),
            "photosQueued": _("%(n)s photos saved on this device; they upload with the answers when online"),
            "rejected": _("rejected by the server"),
            "signIn": _("Sign in again to send the waiting entries"),
            "choose": _("%(item)s: choose pass, fail or not applicable"),
            "sayWhat": _("%(item)s: say what is wrong"),
            "quantity": _("%(item)s: give the quantity on hand"),
            "photoBad": _("%(item)s: this photo could not be read"),
        },
    }


@require_GET
@public("service worker script of the on-site checklist: code only, no data")
def service_worker(request):
    return worker_response(reverse("resumption_checks"))


@requires("resumption.check")
@require_GET
def checks(request):
    """The checker's list: the checks assigned to it, waiting first. Opened with network, it
    keeps the waiting checks' pages on the phone for the visit."""
    qs = scope(SiteCheck.objects.filter(assignees=request.user).select_related("enterprise__organization"), request.user,
               "resumption.check")
    qs = qs.annotate(waiting=Case(When(state=SiteCheck.State.ASSIGNED, then=Value(0)), default=Value(1),
                                  output_field=IntegerField())).order_by("waiting", "due_date", "id")
    return render(request, "resumption/checks.html", {"page": page_of(request, qs), "today": timezone.localdate(),
                                                      "config": _offline_config(request.user)})


def _check_context(request, check, errors=None, values=None):
    from fangkong.uploads import queries as uploads

    answers = {a.key: a for a in check.answers.all()} if check.state != SiteCheck.State.ASSIGNED else {}
    for a in answers.values():
        a.photos = list(uploads.of(a))
    items = []
    for item in check.checklist.items:
        a = answers.get(item["key"])
        items.append({**item, "answer": a, "error": (errors or {}).get(f"item_{item['key']}") or (errors or {}).get(
            f"photo_{item['key']}"), "value": (values or {}).get(item["key"], {})})
    return {"check": check, "items": items, "results": CheckAnswer.Result.choices, "client_id": uuid.uuid4(),
            "config": _offline_config(request.user),
            "assigned": check.assignees.filter(pk=request.user.pk).exists(),
            "can_fill": check.state == SiteCheck.State.ASSIGNED and may(request.user, "resumption.check", check),
            "other_errors": [m for k, m in (errors or {}).items() if not k.startswith(("item_", "photo_"))]}


@requires("resumption.view", obj=SiteCheck)
@require_GET
def check(request, pk: int):
    c = get_in_scope(SiteCheck.objects.select_related("enterprise__organization", "checklist"), request.user,
                     "resumption.view", pk=pk)
    return render(request, "resumption/check.html", _check_context(request, c))


@requires("resumption.check", obj=SiteCheck)
@require_POST
def check_finish(request, pk: int):
    c = get_in_scope(SiteCheck.objects.select_related("enterprise__organization", "checklist"), request.user,
                     "resumption.check", pk=pk)
    answers, photos = {}, {}
    for item in c.checklist.items:
        key = item["key"]
        answers[key] = {"result": request.POST.get(f"result_{key}", ""), "note": request.POST.get(f"note_{key}", ""),
                        "quantity": request.POST.get(f"quantity_{key}", "")}
        files = [f for f in request.FILES.getlist(f"photo_{key}") if f]
        if files:
            photos[key] = files
    done, refusal = attempt(lambda: actions.finish_check(acting_user=request.user, check=c, answers=answers, photos=photos,
                                                         note=request.POST.get("note", ""),
                                                         client_id=request.POST.get("client_id", "")),
                            request=request, keep_errors=True)
    if refusal:
        c.refresh_from_db()
        return render(request, "resumption/check.html", _check_context(request, c, refusal.errors, answers),
                      status=refusal.status)
    messages.success(request, _("Check recorded: %(state)s") % {"state": done.get_state_display()})
    return redirect("resumption_check", pk=done.pk)


# --- Problems: the morning meeting ----------------------------------------------------------

@requires("resumption.view")
@require_GET
def problems(request):
    """Every open problem with its answer or measure (件件有答复、事事有措施), oldest due first."""
    qs = scope(Problem.objects.select_related("enterprise__organization", "application"), request.user, "resumption.view")
    which = chosen(request, "state", [("open", ""), ("all", "")], "open")
    if which == "open":
        qs = qs.exclude(state=Problem.State.CLOSED)
    page = page_of(request, qs.order_by("due_date", "id"))
    record(request.user, "resumption.problems", detail={"state": which})
    return render(request, "resumption/problems.html", {
        "page": page, "which": which, "today": timezone.localdate(), "answer_form": AnswerForm(),
        "can_close": has_perm(request.user, "resumption.review"), "can_answer": has_perm(request.user, "resumption.answer")})


@requires("resumption.answer", obj=Problem)
@require_POST
def problem_answer(request, pk: int):
    p = get_in_scope(Problem.objects.all(), request.user, "resumption.answer", pk=pk)
    done, refusal = attempt(lambda: actions.answer_problem(acting_user=request.user, problem=p,
                                                           answer=request.POST.get("answer", "")), request=request)
    if refusal:
        return HttpResponse("; ".join(refusal.messages), status=refusal.status, content_type="text/plain; charset=utf-8")
    messages.success(request, _("Answer recorded."))
    return redirect(request.POST.get("next") == "portal" and "resumption_portal" or "resumption_problems")


@requires("resumption.review", obj=Problem)
@require_POST
def problem_close(request, pk: int):
    p = get_in_scope(Problem.objects.all(), request.user, "resumption.review", pk=pk)
    done, refusal = attempt(lambda: actions.close_problem(acting_user=request.user, problem=p), request=request)
    if refusal:
        return HttpResponse("; ".join(refusal.messages), status=refusal.status, content_type="text/plain; charset=utf-8")
    messages.success(request, _("Problem closed."))
    return redirect("resumption_problems")


# --- Staff health records -------------------------------------------------------------------

@requires("resumption.staff", obj=Enterprise)
@require_http_methods(["GET", "POST"])
def staff(request, pk: int):
    ent = get_in_scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.staff", pk=pk)
    form = StaffForm(request.POST or None)
    rec, status = submitted(request, form, lambda d: actions.add_staff(acting_user=request.user, enterprise=ent, **d))
    if rec:
        messages.success(request, _("%(name)s added to the staff list.") % {"name": rec.name})
        return redirect("resumption_staff", pk=ent.pk)
    today = timezone.localdate()
    rows = ent.staff.select_related("origin", "observation").filter(active=True)
    return render(request, "resumption/staff.html", {
        "ent": ent, "form": form, "rows": rows, "today": today, "temp_form": TemperatureForm()}, status=status)


@requires("resumption.staff", obj=Enterprise)
@require_POST
def staff_import(request, pk: int):
    """The staff list from a spreadsheet: all rows or none, each error with its row and column."""
    from . import imports

    ent = get_in_scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.staff", pk=pk)
    upload = request.FILES.get("file")
    if upload is None:
        result = {"added": 0, "errors": [(0, "", _("Choose a file"))]}
    else:
        result = imports.import_staff(acting_user=request.user, enterprise=ent, upload=upload)
        record(request.user, "resumption.import", obj=ent, detail={"kind": "staff", "added": result["added"],
                                                                   "errors": len(result["errors"])})
    if not result["errors"]:
        messages.success(request, _("%(n)d workers added to the staff list.") % {"n": result["added"]})
        return redirect("resumption_staff", pk=ent.pk)
    rows = ent.staff.select_related("origin", "observation").filter(active=True)
    return render(request, "resumption/staff.html", {"ent": ent, "form": StaffForm(), "rows": rows, "import_errors": result["errors"]},
                  status=400)


@requires("resumption.register")
@require_http_methods(["GET", "POST"])
def enterprise_import(request):
    from . import imports

    result = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        result = {"added": 0, "errors": [(0, "", _("Choose a file"))]} if upload is None else imports.import_enterprises(
            acting_user=request.user, places=_register_places(request.user), upload=upload)
        if upload is not None:
            record(request.user, "resumption.import", detail={"kind": "enterprises", "added": result["added"],
                                                              "errors": len(result["errors"])})
        if not result["errors"]:
            messages.success(request, _("%(n)d enterprises registered.") % {"n": result["added"]})
            return redirect("resumption_enterprises")
    return render(request, "resumption/import.html", {"import_errors": result["errors"] if result else []},
                  status=400 if result else 200)


@requires("resumption.staff", obj=StaffRecord)
@require_POST
def staff_report(request, pk: int):
    rec = get_in_scope(StaffRecord.objects.select_related("observation"), request.user, "resumption.staff", pk=pk)
    done, refusal = attempt(lambda: actions.report_temperature(acting_user=request.user, staff=rec,
                                                               temperature=request.POST.get("temperature", "")),
                            request=request)
    if refusal:
        return HttpResponse("; ".join(refusal.messages), status=refusal.status, content_type="text/plain; charset=utf-8")
    messages.success(request, _("Temperature of %(name)s reported.") % {"name": rec.name})
    return redirect("resumption_staff", pk=rec.enterprise_id)


@requires("resumption.health", obj=StaffRecord)
@require_POST
def staff_health(request, pk: int):
    rec = get_in_scope(StaffRecord.objects.all(), request.user, "resumption.health", pk=pk)
    done, refusal = attempt(lambda: actions.set_health(acting_user=request.user, staff=rec,
                                                       health=request.POST.get("health", "")), request=request)
    if refusal:
        return HttpResponse("; ".join(refusal.messages), status=refusal.status, content_type="text/plain; charset=utf-8")
    return redirect("resumption_enterprise", pk=rec.enterprise_id)


# --- Ledger (台账) ----------------------------------------------------------------------------

@requires("resumption.view")
@require_GET
@reads_from_replica
def ledger(request):
    from . import exports

    record(request.user, "resumption.ledger")
    return exports.ledger_response(request.user)


# --- Turnaround and the checklist ------------------------------------------------------------

@requires("resumption.view")
@require_GET
def stats(request):
    from . import queries

    record(request.user, "resumption.stats")
    return render(request, "resumption/stats.html", {"rows": queries.turnaround(request.user),
                                                      "links": [(k, label) for k, label, *_r in queries.LINKS]})


@requires("resumption.checklist")
@require_http_methods(["GET", "POST"])
def checklist(request):
    """The admin edits the checklist, one item a line: its text, and "| 数量" where a quantity
    is asked. An item kept with the same text keeps its key; saving makes a new version
    (applications keep the version they were checked with)."""
    current = actions.current_checklist()
    qty_mark = _("quantity")
    text = request.POST.get("items", "") if request.method == "POST" else "\n".join(
        i["label"] + (f" | {qty_mark}" if i.get("quantity") else "") for i in current.items)
    errors = {}
    if request.method == "POST":
        keys = {i["label"]: i["key"] for i in current.items}
        used = set(keys.values())
        items = []
        for n, line in enumerate(line for line in text.splitlines() if line.strip()):
            parts = [p.strip() for p in line.split("|")]
            label = parts[0]
            key = keys.get(label)
            if key is None:
                key = next(f"item{m}" for m in range(n + 1, 10_000) if f"item{m}" not in used)
                used.add(key)
            items.append({"key": key, "label": label,
                          "quantity": len(parts) > 1 and parts[1].lower() in ("q", "1", "数量", str(qty_mark).lower())})
        version, refusal = attempt(lambda: actions.edit_checklist(acting_user=request.user, items=items), request=request,
                                   keep_errors=True)
        if not refusal:
            messages.success(request, _("Checklist version %(n)d saved.") % {"n": version.number})
            return redirect("resumption_checklist")
        errors = refusal.errors
    return render(request, "resumption/checklist.html", {"current": current, "text": text, "errors": [str(m) for m in errors.values()]},
                  status=400 if errors else 200)
