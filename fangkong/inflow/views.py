"""Inflow pages: the liaison's portal and the committee's queue and the coordination board
are one list, scoped by the access module and sorted overdue first; the detail page
carries the buttons of the links the user may take now."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.places.access import get_in_scope, has_perm, in_scope, personal_link, possible_transitions, requires, scope, scope_orgs, scope_paths
from fangkong.places.models import Place
from fangkong.web.lists import chosen, page_of

from . import actions, queries
from .forms import (ApplyForm, ArrivalForm, DecisionForm, MeasurePolicyForm, OriginForm, OriginRiskForm, ResidentApplyForm,
                    StatsForm, TravelForm)
from .models import Application, MeasurePolicy, Origin

S = Application.State
STATE_FILTERS = [("open", pgettext_lazy("inflow filter", "Open")), ("queue", gettext_lazy("Waiting for review")), ("overdue", gettext_lazy("Overdue")),
                 ("all", gettext_lazy("All"))]


def board_queryset(user, which: str = "open"):
    qs = scope(Application.objects.select_related("person", "origin", "place", "employer"), user, "inflow.view")
    now = timezone.now()
    if which == "open":
        qs = qs.exclude(state__in=[S.REJECTED, S.ARRIVED])
    elif which == "queue":
        qs = qs.filter(state=S.FORWARDED)
    elif which == "overdue":  # past the deadline of whichever link it waits for
        qs = qs.filter(due_at__lt=now)
    overdue = Case(When(due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.annotate(overdue_rank=overdue).order_by("overdue_rank", F("due_at").asc(nulls_last=True), "-submitted_at")


@requires("inflow.view")
@require_GET
def board(request):
    which = chosen(request, "state", STATE_FILTERS, "open")
    page = page_of(request, board_queryset(request.user, which))
    record(request.user, "inflow.list", detail={"state": which, "page": page.number})
    return render(request, "inflow/board.html", {
        "page": page, "which": which, "filters": STATE_FILTERS, "now": timezone.now(),
        "can_apply": has_perm(request.user, "inflow.apply"), "can_stats": True,
        "can_policy": has_perm(request.user, "inflow.policy"),
        # The review queue: one click (or Enter on the focused button) approves the top one.
        "can_review": has_perm(request.user, "inflow.review"),
    })


def _apply_places(user):
    """Where the user may send a person: anywhere for a unit liaison (its staff live all
    over the street), inside its own subtree for a committee."""
    kinds = ["grid", "compound", "building"]
    if scope_paths(user, "inflow.apply") is None or scope_orgs(user, "inflow.apply"):
        return Place.objects.filter(kind__in=kinds).order_by("path")
    return scope(Place.objects.filter(kind__in=kinds), user, "inflow.apply").order_by("path")


def _employer_of(user):
    from fangkong.places.models import Organization

    return Organization.objects.filter(pk__in=scope_orgs(user, "inflow.apply")).order_by("pk").first()


@requires("inflow.apply")
@require_http_methods(["GET", "POST"])
def apply(request):
    places = _apply_places(request.user)
    form = ApplyForm(request.POST or None, places=places)
    app, status = submitted(request, form, lambda d: actions.apply(
        acting_user=request.user, employer=_employer_of(request.user), place=d["place"], address=d["address"],
        origin=d["origin"], purpose=d["purpose"], transport=d["transport"], client_key=d["client_key"],
        person_fields={"name": d["name"], "id_number": d["id_number"], "phone": d["phone"]}))
    if app:
        messages.success(request, _("Application %(serial)s submitted.") % {"serial": app.serial})
        return redirect("inflow_detail", pk=app.pk)
    return render(request, "inflow/apply.html", {"form": form}, status=status)


@requires("inflow.view", obj=Application)
@require_GET
def detail(request, pk: int):
    app = get_in_scope(Application.objects.select_related("person", "origin", "place", "employer"), request.user, "inflow.view", pk=pk)
    record(request.user, "inflow.view", obj=app)
    return _render_detail(request, app)


def _render_detail(request, app, status=200):
    possible = possible_transitions(actions.TRANSITIONS, app, request.user)
    return render(request, "inflow/detail.html", {
        "app": app, "events": [(e, actions.ACTION_LABELS.get(e.action, e.action)) for e in app.events.all()], "possible": possible,
        "decision_form": DecisionForm(), "travel_form": TravelForm(), "arrival_form": ArrivalForm(),
        "overdue": bool(app.due_at and app.due_at < timezone.now()),
    }, status=status)


def _take(request, app, action: str):
    """Links 2–6 from the detail page's forms."""
    kwargs = {}
    if action in ("approve", "reject", "request_info"):
        form = DecisionForm(request.POST)
        form.is_valid()
        kwargs["reason"] = form.cleaned_data.get("reason", "")
    elif action == "travel":
        form = TravelForm(request.POST)
        kwargs["planned_arrival"] = form.cleaned_data["planned_arrival"] if form.is_valid() else None
    elif action == "arrive":
        form = ArrivalForm(request.POST)
        form.is_valid()
        kwargs["temperature"] = request.POST.get("temperature", "")
        kwargs["healthy"] = form.cleaned_data.get("healthy") if "healthy" in form.cleaned_data else None
    return actions.transition(acting_user=request.user, app=app, action=action, **kwargs)


def _taken(request, app, action: str, t):
    messages.success(request, _("%(serial)s: %(state)s") % {"serial": app.serial, "state": app.get_state_display()})
    if action in ("approve", "reject", "request_info") and request.POST.get("next") == "queue":
        return redirect(f"{_url('inflow_board')}?state=queue")
    return redirect("inflow_detail", pk=app.pk)


def _url(name, **kwargs):
    from django.urls import reverse

    return reverse(name, kwargs=kwargs or None)


def _back(request, app, status):
    """The detail page again (with the message), answered with the error status; for a
    user who may not view the application, just the status."""
    if not in_scope(app, request.user, "inflow.view"):
        from django.http import HttpResponse

        return HttpResponse(status=status)
    app = Application.objects.select_related("person", "origin", "place", "employer").get(pk=app.pk)
    return _render_detail(request, app, status=status)


transition_views = transition_pages(actions.TRANSITIONS, Application.objects.all(), "inflow", take=_take, done=_taken,
                                    refused=lambda request, app, refused: _back(request, app, refused.status))


# --- Turnaround statistics ------------------------------------------------------------------

@requires("inflow.view")
@require_GET
def stats(request):
    form = StatsForm(request.GET or None)
    date_from, date_to = queries.default_range()
    status = 200
    if form.is_bound:
        if form.is_valid():
            date_from = form.cleaned_data["date_from"] or date_from
            date_to = form.cleaned_data["date_to"] or date_to
            if date_from > date_to:
                date_from = date_to
        else:
            status = 400
    if not form.is_bound:
        form = StatsForm(initial={"date_from": date_from, "date_to": date_to})
    data = queries.turnaround(request.user, date_from, date_to)
    record(request.user, "inflow.stats", detail={"from": date_from.isoformat(), "to": date_to.isoformat()})
    return render(request, "inflow/stats.html", {"form": form, **data}, status=status)


# --- The policy table (admin) ---------------------------------------------------------------

RISK_ORDER = {"high": 0, "medium": 1, "low": 2, "none": 3}


def _policy_page(request, *, origin_form=None, status=200, errors_for=None):
    """The policy table; errors_for = {"origin-<pk>" / "policy-<pk>": [messages]} shows a
    refused change beside its row."""
    errors_for = errors_for or {}
    origins = list(Origin.objects.all())
    policies = sorted(MeasurePolicy.objects.all(), key=lambda p: RISK_ORDER.get(p.risk, 9))
    for prefix, rows in (("origin", origins), ("policy", policies)):
        for row in rows:
            row.errors = errors_for.get(f"{prefix}-{row.pk}", [])
    return render(request, "inflow/policy.html", {
        "origins": origins, "policies": policies,
        "origin_form": origin_form or OriginForm(), "risk_choices": OriginRiskForm.base_fields["risk"].choices,
        "measure_choices": MeasurePolicyForm.base_fields["measure"].choices, "max_days": actions.MAX_MEASURE_DAYS,
    }, status=status)


@requires("inflow.policy")
@require_GET
def policy(request):
    return _policy_page(request)


@requires("inflow.policy")
@require_POST
def origin_create(request):
    form = OriginForm(request.POST)
    origin, refused = attempt(lambda: actions.create_origin(acting_user=request.user, name=request.POST.get("name", ""),
                                                            risk=request.POST.get("risk", "")), form=form)
    if refused:
        return _policy_page(request, origin_form=form, status=refused.status)
    messages.success(request, _("Origin %(name)s added.") % {"name": origin.name})
    return redirect("inflow_policy")


@requires("inflow.policy", obj=Origin)
@require_POST
def origin_risk(request, pk: int):
    origin = get_in_scope(Origin.objects.all(), request.user, "inflow.policy", pk=pk)
    done, refused = attempt(lambda: actions.set_origin_risk(acting_user=request.user, origin=origin,
                                                            risk=request.POST.get("risk", "")))
    if refused:
        return _policy_page(request, status=refused.status, errors_for={f"origin-{origin.pk}": refused.messages})
    origin = done
    messages.success(request, _("%(name)s: %(risk)s") % {"name": origin.name, "risk": origin.get_risk_display()})
    return redirect("inflow_policy")


@requires("inflow.policy", obj=MeasurePolicy)
@require_POST
def measure_policy(request, pk: int):
    row = get_in_scope(MeasurePolicy.objects.all(), request.user, "inflow.policy", pk=pk)
    done, refused = attempt(lambda: actions.set_measure_policy(
        acting_user=request.user, policy=row, measure=request.POST.get("measure", ""), days=request.POST.get("days", "")))
    if refused:
        return _policy_page(request, status=refused.status, errors_for={f"policy-{row.pk}": refused.messages})
    row = done
    messages.success(request, _("%(risk)s: %(measure)s, %(days)s days") % {
        "risk": row.get_risk_display(), "measure": row.get_measure_display(), "days": row.days})
    return redirect("inflow_policy")


# --- The person's own application (personal link) -------------------------------------------

OPEN_STATES = actions.OPEN_STATES


def _resident_places(person):
    """Destinations a person may choose: the grids and compounds of the street (the top of
    the tree) their registered place belongs to, plus that place itself."""
    root = person.place_path.split("/")[0] + "/" if person.place_path else ""
    qs = Place.objects.filter(Q(kind__in=["grid", "compound"]) | Q(pk=person.place_id))
    return (qs.filter(path__under=root) if root else qs).order_by("path")


def _labeller(places):
    """Full names ("甲社区 / 甲一网格") for a choice list in one query, not one per option."""
    names = dict(Place.objects.filter(kind__in=["community", "grid", "compound"]).values_list("path", "name"))

    def label(p):
        parts = p.path.split("/")[:-1]
        prefixes = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
        return " / ".join([names[x] for x in prefixes if x in names] + [p.name])

    return label


@personal_link
@require_http_methods(["GET", "POST"])
def resident_return(request):
    person = request.resident
    places = _resident_places(person)
    initial = {}
    if person.household_id:
        initial = {"place": person.household.place_id, "address": person.household.address}
    form = ResidentApplyForm(request.POST or None, places=places, initial=initial)
    form.fields["place"].label_from_instance = _labeller(places)
    app, status = submitted(request, form, lambda d: actions.apply(
        acting_user=None, employer=person.employer, person=person, place=d["place"], address=d["address"],
        origin=d["origin"], purpose=d["purpose"], transport=d["transport"], planned_arrival=d["planned_arrival"],
        client_key=d["client_key"]))
    if app:
        messages.success(request, _("Application %(serial)s submitted.") % {"serial": app.serial})
        return redirect(request.path)
    apps = list(Application.objects.filter(person=person).select_related("origin", "place").order_by("-submitted_at")[:20])
    return render(request, "inflow/resident_return.html", {
        "person": person, "form": form, "applications": apps,
        "has_open": any(a.state in OPEN_STATES for a in apps),
    }, status=status)
