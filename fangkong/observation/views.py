"""Observation pages: the board (today's missing reports and fevers first), the detail page
with the staff's actions, the sites with their rooms, and the resident's phone page reached
by a personal link."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.actions import record
from fangkong.documents.actions import valid_document
from fangkong.documents.models import Document
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.lib.workflow import int_or_none
from fangkong.residents.queries import find_person
from fangkong.places.access import get_in_scope, has_perm, in_scope, may, personal_link, possible_transitions, requires, scope
from fangkong.places.models import Organization
from fangkong.residents.models import Person
from fangkong.web.lists import chosen, page_of

from . import actions
from .forms import PersonStartForm, ReportForm, RequestForm, StaffReportForm, StartForm
from .models import Alert, Observation, Report, Room, SupplyRequest

S = Observation.State
FILTERS = [("open", _("Ongoing")), ("attention", _("Needs attention")), ("ended", _("Ended"))]


def board_queryset(user, which: str = "open"):
    """Observations in scope; open fever/symptom alerts first, then missed windows, then
    the rest by planned end."""
    qs = scope(Observation.objects.select_related("person", "room", "site"), user, "observation.view")
    open_alerts = Alert.objects.filter(observation=OuterRef("pk"), handled_at__isnull=True)
    qs = qs.annotate(
        fever=Exists(open_alerts.filter(kind__in=[Alert.Kind.FEVER, Alert.Kind.SYMPTOMS])),
        missed=Exists(open_alerts.filter(kind=Alert.Kind.MISSED)),
        open_requests=Count("requests", filter=Q(requests__state=SupplyRequest.State.OPEN), distinct=True),
    )
    if which == "ended":
        return qs.filter(state=S.RELEASED).order_by("-ended_at")
    qs = qs.filter(state__in=[S.ACTIVE, S.HOSPITAL])
    if which == "attention":
        qs = qs.filter(Q(fever=True) | Q(missed=True))
    return qs.order_by("-fever", "-missed", "planned_end", "pk")


def _today_reports(observations) -> dict[int, dict[int, Report]]:
    today = timezone.localdate()
    out: dict[int, dict[int, Report]] = {}
    for r in Report.objects.filter(observation__in=[o.pk for o in observations], day=today):
        out.setdefault(r.observation_id, {})[r.window] = r
    return out


@requires("observation.view")
@require_GET
def board(request):
    which = chosen(request, "state", FILTERS, "open")
    page = page_of(request, board_queryset(request.user, which))
    today = _today_reports(page.object_list)
    n = len(actions.windows())
    rows = [(o, [today.get(o.pk, {}).get(i) for i in range(n)]) for o in page.object_list]
    record(request.user, "observation.list", detail={"state": which, "page": page.number})
    return render(request, "observation/board.html", {
        "page": page, "rows": rows, "which": which, "filters": FILTERS,
        "windows": [actions.window_label(i) for i in range(n)],
        "can_start": has_perm(request.user, "observation.start"),
        "can_sites": has_perm(request.user, "observation.sites"),
    })


@requires("observation.start")
@require_http_methods(["GET", "POST"])
def start(request):
    form = StartForm(request.POST or None)

    def start(d):
        person = find_person(request.user, "observation.start", d["id_number"])
        return actions.start(acting_user=request.user, person=person, kind=d["kind"], days=d["days"], reason=d["reason"])

    obs, status = submitted(request, form, start)
    if obs:
        messages.success(request, _("Observation started."))
        return redirect("observation_detail", pk=obs.pk)
    return render(request, "observation/start.html", {"form": form}, status=status)


@requires("observation.start", obj=Person)
@require_http_methods(["GET", "POST"])
def start_for_person(request, pk: int):
    """Start a measure from the person's page: the person is named by the URL (in the
    user's scope), so the ID number is never typed again."""
    person = get_in_scope(Person.objects.all(), request.user, "observation.start", pk=pk)
    form = PersonStartForm(request.POST or None)
    obs, status = submitted(request, form, lambda d: actions.start(
        acting_user=request.user, person=person, kind=d["kind"], days=d["days"], reason=d["reason"]))
    if obs:
        messages.success(request, _("Observation started."))
        return redirect("observation_detail", pk=obs.pk)
    return render(request, "observation/start.html", {"form": form, "person": person}, status=status)


def _detail_context(request, obs):
    user = request.user
    n = len(actions.windows())
    days: dict = {}
    for r in obs.reports.all():
        days.setdefault(r.day, [None] * n)[r.window] = r
    possible = possible_transitions(actions.TRANSITIONS, obs, user)
    rooms = []
    if obs.kind == Observation.Kind.CENTRAL and obs.state == S.ACTIVE and has_perm(user, "observation.manage"):
        rooms = Room.objects.filter(active=True).select_related("site").annotate(
            used=Coalesce(Count("occupants", filter=Q(occupants__state=S.ACTIVE)), Value(0), output_field=IntegerField()))
        if obs.site_id:
            rooms = rooms.filter(site_id=obs.site_id)
    return {
        "obs": obs, "days": sorted(days.items(), reverse=True), "windows": [actions.window_label(i) for i in range(n)],
        "alerts": obs.alerts.all(), "requests": obs.requests.order_by("state", "-created_at"),
        "events": obs.events.all(), "possible": possible, "rooms": rooms,
        "blockers": actions.release_blockers(obs) if obs.state == S.ACTIVE else [],
        "notice": valid_document(Document.Kind.RELEASE, obs) if obs.state == S.RELEASED else None,
        "report_form": StaffReportForm(),
        "may": {k: may(user, f"observation.{k}", obs)
                for k in ("report", "handle", "manage")},
    }


@requires("observation.view", obj=Observation)
@require_GET
@never_cache
def detail(request, pk: int):
    obs = get_in_scope(Observation.objects.select_related("person", "room", "site", "application"), request.user,
                       "observation.view", pk=pk)
    record(request.user, "observation.view", obj=obs)
    return render(request, "observation/detail.html", _detail_context(request, obs))


def _back(request, obs, status=200, **extra):
    if status == 200:
        return redirect("observation_detail", pk=obs.pk)
    if not in_scope(obs, request.user, "observation.view"):
        return HttpResponse(status=status)
    obs = Observation.objects.select_related("person", "room", "site", "application").get(pk=obs.pk)
    return render(request, "observation/detail.html", {**_detail_context(request, obs), **extra}, status=status)


def _run(request, obs, fn):
    """Call an action: its result, or the detail page with its refusal (400/409)."""
    result, refused = attempt(fn, request=request)
    return result, refused and _back(request, obs, refused.status)


@requires("observation.report", obj=Observation)
@require_POST
def report(request, pk: int):
    obs = get_in_scope(Observation.objects.select_related("person"), request.user, "observation.report", pk=pk)
    form = StaffReportForm(request.POST)
    form.is_valid()
    d = form.cleaned_data
    rep, failed = _run(request, obs, lambda: actions.report(
        acting_user=request.user, observation=obs, temperature=request.POST.get("temperature", ""),
        symptoms=d.get("symptoms", []), source=d.get("source") or "staff", client_key=d.get("client_key", "")))
    if failed:
        return failed
    messages.success(request, _("Recorded %(t)s °C.") % {"t": rep.temperature})
    return _back(request, obs)


def _taken(request, obs, action: str, t):
    messages.success(request, _("%(name)s: %(state)s") % {"name": obs.person.name, "state": obs.get_state_display()})
    return _back(request, obs)


transition_views = transition_pages(
    actions.TRANSITIONS, Observation.objects.all(), "observation", done=_taken,
    take=lambda request, obs, action: actions.transition(acting_user=request.user, observation=obs, action=action,
                                                         note=request.POST.get("note", ""),
                                                         days=int_or_none(request.POST.get("days", ""))),
    refused=lambda request, obs, refused: _back(request, obs, refused.status))


@requires("observation.manage", obj=Observation)
@require_POST
def room(request, pk: int):
    obs = get_in_scope(Observation.objects.all(), request.user, "observation.manage", pk=pk)
    room_id = request.POST.get("room", "")
    target = None
    if room_id:
        # Sites are the street's shared resource: whoever manages the observation may
        # choose any room in service (the action checks kind, state and capacity).
        target = Room.objects.filter(pk=int_or_none(room_id) or 0, active=True).first()
        if target is None:
            messages.error(request, _("Choose a room"))
            return _back(request, obs, 400)
    _result, failed = _run(request, obs, lambda: actions.assign_room(acting_user=request.user, observation=obs, room=target))
    return failed or _back(request, obs)


@requires("observation.manage", obj=Observation)
@require_POST
def psych(request, pk: int):
    obs = get_in_scope(Observation.objects.all(), request.user, "observation.manage", pk=pk)
    actions.set_psych_support(acting_user=request.user, observation=obs, needed=request.POST.get("needed") == "1")
    return _back(request, obs)


@requires("observation.manage", obj=Observation)
@require_POST
@never_cache
def link(request, pk: int):
    """Issue the person's personal link and show it once (URL and QR) to hand over."""
    from fangkong.lib.qr import svg as qr_svg

    from fangkong.accounts import linkcodes

    obs = get_in_scope(Observation.objects.select_related("person"), request.user, "observation.manage", pk=pk)
    if obs.person_id is None:  # no longer linked to anyone (retention)
        messages.error(request, _("This observation is no longer linked to a person."))
        return _back(request, obs, 409)
    token = issue_resident_link(acting_user=request.user, person=obs.person)
    url = settings.PUBLIC_URL + reverse("resident_home", kwargs={"token": token})  # the platform's public address
    qr = qr_svg(linkcodes.qr_text(url, token), scale=5, keep=False)
    obs = Observation.objects.select_related("person", "room", "site", "application").get(pk=obs.pk)
    return render(request, "observation/detail.html", {**_detail_context(request, obs), "link_url": url, "link_qr": qr})


@requires("observation.handle", obj=Observation)
@require_POST
def handle(request, pk: int):
    return _handle(request, pk, "alert", lambda alert: actions.handle_alert(acting_user=request.user, alert=alert,
                                                                             note=request.POST.get("note", "")))


@requires("observation.handle", obj=Observation)
@require_POST
def deliver(request, pk: int):
    return _handle(request, pk, "request", lambda req: actions.deliver_request(acting_user=request.user, request=req))


def _handle(request, pk: int, kind: str, act):
    """One open alert or supply request (`kind`, named in the form) of the observation
    handled: act(it)."""
    obs = get_in_scope(Observation.objects.all(), request.user, "observation.handle", pk=pk)
    item = (obs.alerts if kind == "alert" else obs.requests).filter(pk=int_or_none(request.POST.get(kind)) or 0).first()
    if item is None:
        messages.error(request, _("Choose an alert") if kind == "alert" else _("Choose a request"))
        return _back(request, obs, 400)
    _result, failed = _run(request, obs, lambda: act(item))
    return failed or _back(request, obs)


@requires("observation.sites")
@require_GET
def sites(request):
    orgs = scope(Organization.objects.filter(kind="site"), request.user, "observation.sites").order_by("name")
    rooms = Room.objects.filter(site__in=orgs).annotate(
        used=Count("occupants", filter=Q(occupants__state=S.ACTIVE))).order_by("site", "number")
    by_site: dict = {o.pk: [] for o in orgs}
    for r in rooms:
        by_site[r.site_id].append(r)
    waiting = scope(Observation.objects.select_related("person"), request.user, "observation.view").filter(
        state=S.ACTIVE, kind=Observation.Kind.CENTRAL, room__isnull=True)
    return render(request, "observation/sites.html", {"sites": [(o, by_site[o.pk]) for o in orgs], "waiting": waiting})


@requires("observation.sites", obj=Organization)
@require_POST
def add_room(request, pk: int):
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "observation.sites", pk=pk)
    capacity = request.POST.get("capacity", "")
    _room, refused = attempt(lambda: actions.add_room(
        acting_user=request.user, site=site, number=request.POST.get("number", ""), capacity=int_or_none(capacity) or -1),
        request=request)
    if not refused:
        messages.success(request, _("Room added."))
    return redirect("observation_sites")


# --- The resident's own pages (personal link, no password) -----------------------------

def _current(person):
    return (Observation.objects.filter(person=person).order_by("-created_at").first())


def _resident_page(request, status=200, form=None, request_form=None):
    person = request.resident
    obs = _current(person)
    slot = actions.window_at(timezone.now())
    done = None
    if obs is not None and slot is not None:
        done = obs.reports.filter(day=slot[0], window=slot[1]).first()
    return render(request, "observation/resident.html", {
        "person": person, "obs": obs, "slot_label": actions.window_label(slot[1]) if slot else None, "done": done,
        "windows": [actions.window_label(i) for i in range(len(actions.windows()))],
        "reports": obs.reports.order_by("-day", "-window")[:6] if obs else [],
        "requests": obs.requests.order_by("-created_at")[:5] if obs else [],
        "form": form or ReportForm(), "request_form": request_form or RequestForm(),
    }, status=status)


@personal_link
@require_GET
@never_cache
def resident_home(request):
    return _resident_page(request)


def _resident_submit(request, form, slot: str, write):
    """Run one of the person's own writes (`write(observation, cleaned form data)`) and answer
    like a form: the page again with the errors (400/409), or back home with a message."""
    obs = _current(request.resident)
    if obs is None:
        form.add_error(None, _("You are not under observation."))
        return None, _resident_page(request, 409, **{slot: form})
    form.is_valid()
    result, refused = attempt(lambda: write(obs, form.cleaned_data), form=form)
    return result, refused and _resident_page(request, refused.status, **{slot: form})


@personal_link
@require_POST
@never_cache
def resident_report(request):
    rep, failed = _resident_submit(request, ReportForm(request.POST), "form", lambda obs, d: actions.report(
        acting_user=None, observation=obs, temperature=request.POST.get("temperature", ""),
        symptoms=d.get("symptoms", []), source="self", client_key=d.get("client_key", "")))
    if failed:
        return failed
    messages.success(request, _("Thank you: %(t)s °C recorded.") % {"t": rep.temperature})
    return redirect("resident_home", token=request.resident_token)


@personal_link
@require_POST
@never_cache
def resident_request(request):
    _req, failed = _resident_submit(request, RequestForm(request.POST), "request_form", lambda obs, d: actions.request_supplies(
        acting_user=None, observation=obs, kind=request.POST.get("kind", ""), text=request.POST.get("text", ""),
        client_key=d.get("client_key", "")))
    if failed:
        return failed
    messages.success(request, _("Your request was sent to your grid worker."))
    return redirect("resident_home", token=request.resident_token)
