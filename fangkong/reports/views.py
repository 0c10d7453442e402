"""Daily report pages: the report of a day and a place (with its exports), the units' entry
page, confirm/reopen/correct, the late list, closing a day, and the figure definitions."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.web.forms import attempt, transition_pages
from fangkong.places.access import covers_whole_tree, get_in_scope, has_perm, places_in_scope, requires, scope
from fangkong.places.models import Organization
from fangkong.lib.db.replica import reads_from_replica

from . import actions, exports, queries
from .models import FigureDefinition, Submission


def _day(request, default_yesterday: bool = False):
    raw = request.GET.get("day") or request.POST.get("day")
    if not raw:
        today = timezone.localdate()
        return (today - dt.timedelta(days=1)) if default_yesterday else today, None
    day, refused = attempt(lambda: actions.parse_day(raw))
    return (timezone.localdate(), refused.errors["day"]) if refused else (day, None)


def _report_or_400(request):
    day, error = _day(request)
    place = queries.place_for(request.user, request.GET.get("place"))
    return day, place, error


@requires("reports.view")
@require_GET
@never_cache
@reads_from_replica
def report_page(request):
    day, place, error = _report_or_400(request)
    if place is None:
        return render(request, "reports/report.html", {"rep": None, "day": day, "error": error})
    rep = queries.report(request.user, day, place)
    ancestors = [p for p in place.ancestors()[:-1] if places_in_scope(request.user, "reports.view").filter(pk=p.pk).exists()]
    return render(request, "reports/report.html", {
        "rep": rep, "error": error, "ancestors": ancestors, "can_manage": covers_whole_tree(request.user, "reports.manage"),
        "can_late": has_perm(request.user, "reports.late"), "deadline": actions.deadline(day),
        "close_time": actions.close_time(day),
    }, status=400 if error else 200)


def _export(request, fmt: str):
    day, place, error = _report_or_400(request)
    if place is None or error:
        return render(request, "reports/report.html", {
            "rep": queries.report(request.user, day, place) if place else None, "day": day, "error": error},
            status=400 if error else 200)
    rep = queries.report(request.user, day, place)
    record(request.user, "reports.export", obj=place, detail={"day": day.isoformat(), "format": fmt})
    name = f"daily-report-{place.code}-{day.isoformat()}.{fmt}"
    return exports.xlsx_export(rep, name) if fmt == "xlsx" else exports.csv_export(rep, name)


@requires("reports.view")
@require_GET
@reads_from_replica
def report_xlsx(request):
    return _export(request, "xlsx")


@requires("reports.view")
@require_GET
@reads_from_replica
def report_csv(request):
    return _export(request, "csv")


# --- Entered figures ----------------------------------------------------------------------

def _entry_page(request, day, status=200, errors=None, org_id=None, posted=None):
    orgs = list(queries.entry_orgs(request.user))
    subs = {s.organization_id: s for s in Submission.objects.filter(day=day, organization__in=[o.pk for o in orgs])}
    units = []
    for o in orgs:
        sub = subs.get(o.pk)
        defs = actions.definitions_for(o)
        mine = org_id == o.pk
        units.append({
            "org": o, "submission": sub,
            "fields": [{"d": d, "name": f"f_{d.key}",
                        "value": (posted or {}).get(d.key, "") if mine and posted is not None else
                        (sub.values.get(d.key, "") if sub else ""),
                        "error": (errors or {}).get(f"values.{d.key}") if mine else None} for d in defs],
            "editable": sub is None or sub.state in actions.EDITABLE,
        })
    return render(request, "reports/entry.html", {
        "day": day, "units": units, "errors": errors or {}, "deadline": actions.deadline(day),
        "closed": actions.is_closed(day),
    }, status=status)


@requires("reports.enter")
@require_http_methods(["GET", "POST"])
@never_cache
def entry(request):
    day, error = _day(request)
    if request.method == "GET":
        return _entry_page(request, day, 400 if error else 200, {"day": error} if error else None)
    raw_org = request.POST.get("organization", "")
    if error:
        return _entry_page(request, day, 400, {"day": error})
    if not raw_org:
        return _entry_page(request, day, 400, {"organization": _("Choose the station or unit")})
    org = get_in_scope(Organization.objects.all(), request.user, "reports.enter", pk=raw_org)
    posted = {k[2:]: v for k, v in request.POST.items() if k.startswith("f_")}

    def save():  # the figures stay saved when confirming them is refused
        sub = actions.enter_values(acting_user=request.user, organization=org, day=day, values=posted)
        if request.POST.get("confirm"):
            actions.transition(acting_user=request.user, submission=sub, action="confirm")

    _saved, refused = attempt(save, request=request, keep_errors=True)
    if refused:  # a conflict (its reason a page message) shows the stored figures
        return _entry_page(request, day, refused.status, *((refused.errors, org.pk, posted) if refused.errors else ()))
    if request.POST.get("confirm"):
        messages.success(request, _("%(org)s: figures confirmed.") % {"org": org.name})
    else:
        messages.success(request, _("%(org)s: figures saved. Confirm them when complete.") % {"org": org.name})
    return redirect(f"{request.path}?day={day.isoformat()}")


def _taken(request, sub, action: str, t):
    messages.success(request, _("%(org)s: %(state)s") % {"org": sub.organization.name,
                                                           "state": Submission.State(t.target).label})
    return _after(request, sub, request.POST.get("next") or "")


def _transition_refused(request, sub, refused):
    if refused.errors:  # Invalid's messages as one (a conflict's reason is on the page already)
        messages.error(request, " ".join(refused.messages))
    return _after(request, sub, request.POST.get("next") or "", refused.status)


def _refused(request, fn):
    """Run the action; its refusal, if any, as one page message."""
    _result, refused = attempt(fn)
    if refused:
        messages.error(request, " ".join(refused.messages))
    return refused


def _after(request, sub, back, status=None):
    if status is None:
        if back.startswith("/reports/") and not back.startswith("//"):
            return redirect(back)
        return redirect(f"/reports/entry/?day={sub.day.isoformat()}" if has_perm(request.user, "reports.enter")
                        else f"/reports/late/?day={sub.day.isoformat()}")
    if has_perm(request.user, "reports.enter"):
        return _entry_page(request, sub.day, status)
    return _late_page(request, sub.day, status)


transition_views = transition_pages(
    actions.TRANSITIONS, Submission.objects.select_related("organization"), "submission", done=_taken,
    take=lambda request, sub, action: actions.transition(acting_user=request.user, submission=sub, action=action),
    refused=_transition_refused, keep_errors=True)


@requires("reports.manage", obj=Submission)
@require_POST
def submission_correct(request, pk: int):
    sub = get_in_scope(Submission.objects.select_related("organization"), request.user, "reports.manage", pk=pk)
    refused = _refused(request, lambda: actions.correct(
        acting_user=request.user, submission=sub, figure=request.POST.get("figure", ""), value=request.POST.get("value", ""),
        reason=request.POST.get("reason", "")))
    if refused:
        return _late_page(request, sub.day, refused.status)
    messages.success(request, _("Correction recorded."))
    return redirect(f"/reports/late/?day={sub.day.isoformat()}")


# --- Late list, closing ---------------------------------------------------------------------

def _late_page(request, day, status=200):
    orgs = scope(Organization.objects.all(), request.user, "reports.late")
    rows = actions.late(day, orgs)
    subs = list(scope(Submission.objects.filter(day=day), request.user, "reports.late").select_related("organization"))
    definitions = list(FigureDefinition.objects.all())
    names = {d.key: d.label for d in definitions}
    for s in subs:  # figures by their names, not their keys
        s.named_values = [(names.get(k, k), v) for k, v in s.values.items()]
    return render(request, "reports/late.html", {
        "definitions": definitions,
        "day": day, "rows": rows, "deadline": actions.deadline(day), "before_deadline": timezone.now() < actions.deadline(day),
        "submissions": subs, "closed": actions.is_closed(day), "can_manage": has_perm(request.user, "reports.manage"),
        "can_close": covers_whole_tree(request.user, "reports.manage"),
        "required": actions.required_orgs(orgs).count(),
    }, status=status)


@requires("reports.late")
@require_GET
@never_cache
def late(request):
    day, error = _day(request)
    if error:
        messages.error(request, error)
    return _late_page(request, day, 400 if error else 200)


@requires("reports.manage", whole_tree=True)
@require_POST
def close(request):
    day, refused = attempt(lambda: actions.parse_day(request.POST.get("day", "")), request=request)
    refused = refused or _refused(request, lambda: actions.close_day(acting_user=request.user, day=day))
    if refused:
        return _late_page(request, day or timezone.localdate(), refused.status)
    messages.success(request, _("The day %(day)s is closed; its report is kept as it is now.") % {"day": day.isoformat()})
    return redirect(f"/reports/?day={day.isoformat()}")


# --- Figure definitions ---------------------------------------------------------------------

@requires("reports.manage", whole_tree=True)
@require_http_methods(["GET", "POST"])
def definitions(request):
    errors, posted, status = {}, {}, 200
    if request.method == "POST":
        posted = {k: request.POST.get(k, "") for k in ("key", "label", "unit", "order")}
        posted["org_kinds"] = request.POST.getlist("org_kinds")
        order = posted["order"].strip()
        _d, refused = attempt(lambda: actions.create_definition(
            acting_user=request.user, key=posted["key"], label=posted["label"], unit=posted["unit"],
            org_kinds=posted["org_kinds"],
            order=int(order) if order.isascii() and order.isdigit() and len(order) < 6 else (None if not order else -1)),
            request=request, keep_errors=True)
        if not refused:
            messages.success(request, _("Figure added."))
            return redirect("reports_definitions")
        errors, status = refused.errors, refused.status
    return render(request, "reports/definitions.html", {
        "definitions": FigureDefinition.objects.all(), "errors": errors, "posted": posted,
        "kinds": Organization.Kind.choices,
    }, status=status)
