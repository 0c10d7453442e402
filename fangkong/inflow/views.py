"""Inflow pages: the liaison's portal and the committee's queue and the coordination board
are one list, scoped by the access module and sorted overdue first; the detail page
carries the buttons of the links the user may take now."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.places.access import get_in_scope, grants_for, has_perm, in_scope, requires, scope
from fangkong.places.models import Place

from . import actions
from .forms import ApplyForm, ArrivalForm, DecisionForm, TravelForm
from .models import Application

S = Application.State
STATE_FILTERS = [("open", _("Open")), ("queue", _("Waiting for review")), ("overdue", _("Overdue")), ("all", _("All"))]


def board_queryset(user, which: str = "open"):
    qs = scope(Application.objects.select_related("person", "origin", "place", "employer"), user, "inflow.view")
    now = timezone.now()
    if which == "open":
        qs = qs.exclude(state__in=[S.REJECTED, S.ARRIVED])
    elif which == "queue":
        qs = qs.filter(state=S.FORWARDED)
    elif which == "overdue":
        qs = qs.filter(state=S.FORWARDED, review_due_at__lt=now)
    overdue = Case(When(state=S.FORWARDED, review_due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.annotate(overdue_rank=overdue).order_by("overdue_rank", "review_due_at", "-submitted_at")


@requires("inflow.view")
@require_GET
def board(request):
    which = request.GET.get("state", "open")
    if which not in dict(STATE_FILTERS):
        which = "open"
    page = Paginator(board_queryset(request.user, which), 50).get_page(request.GET.get("page", "1"))
    record(request.user, "inflow.list", detail={"state": which, "page": page.number})
    return render(request, "inflow/board.html", {
        "page": page, "which": which, "filters": STATE_FILTERS, "now": timezone.now(),
        "can_apply": has_perm(request.user, "inflow.apply"),
    })


def _apply_places(user):
    """Where the user may send a person: anywhere for a unit liaison (its staff live all
    over the street), inside its own subtree for a committee."""
    kinds = ["grid", "compound", "building"]
    grants = grants_for(user, "inflow.apply")
    if any(g.everything or g.org_id is not None for g in grants):
        return Place.objects.filter(kind__in=kinds).order_by("path")
    return scope(Place.objects.filter(kind__in=kinds), user, "inflow.apply").order_by("path")


def _employer_of(user):
    from fangkong.places.models import Organization

    org_ids = [g.org_id for g in grants_for(user, "inflow.apply") if g.org_id is not None]
    return Organization.objects.filter(pk__in=org_ids).order_by("pk").first()


@requires("inflow.apply")
@require_http_methods(["GET", "POST"])
def apply(request):
    places = _apply_places(request.user)
    form = ApplyForm(request.POST or None, places=places)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                app = actions.apply(
                    acting_user=request.user, employer=_employer_of(request.user), place=d["place"], address=d["address"],
                    origin=d["origin"], purpose=d["purpose"], transport=d["transport"], client_key=d["client_key"],
                    person_fields={"name": d["name"], "id_number": d["id_number"], "phone": d["phone"]},
                )
            except actions.Invalid as exc:
                for field, message in exc.errors.items():
                    form.add_error(field if field in form.fields else None, message)
            except actions.Conflict as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
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
    possible = [(name, t) for name, t in actions.TRANSITIONS.items()
                if app.state in t.sources and has_perm(request.user, t.perm) and in_scope(app, request.user, t.perm)]
    return render(request, "inflow/detail.html", {
        "app": app, "events": [(e, actions.ACTION_LABELS.get(e.action, e.action)) for e in app.events.all()], "possible": possible,
        "decision_form": DecisionForm(), "travel_form": TravelForm(), "arrival_form": ArrivalForm(),
        "overdue": app.state == S.FORWARDED and app.review_due_at and app.review_due_at < timezone.now(),
    }, status=status)


def _transition_view(action: str):
    t = actions.TRANSITIONS[action]

    @requires(t.perm, obj=Application)
    @require_POST
    def view(request, pk: int):
        app = get_in_scope(Application.objects.all(), request.user, t.perm, pk=pk)
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
        try:
            app = actions.transition(acting_user=request.user, app=app, action=action, **kwargs)
        except actions.Conflict as exc:
            messages.error(request, str(exc))
            return _back(request, app, status=409)
        except actions.Invalid as exc:
            for message in exc.errors.values():
                messages.error(request, str(message))
            return _back(request, app, status=400)
        messages.success(request, _("%(serial)s: %(state)s") % {"serial": app.serial, "state": app.get_state_display()})
        if action in ("approve", "reject", "request_info") and request.POST.get("next") == "queue":
            return redirect(f"{_url('inflow_board')}?state=queue")
        return redirect("inflow_detail", pk=app.pk)

    view.__name__ = f"inflow_{action}"
    return view


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


transition_views = {name: _transition_view(name) for name in actions.TRANSITIONS}
