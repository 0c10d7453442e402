"""Self-declaration pages: the public phone page behind a community's QR code, the grid
worker's queue and verification, grid watch findings, the committee's QR codes, the credit
record with appeals, and the person's own credit page by personal link."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib.throttle import rate_limited
from fangkong.web.forms import attempt, transition_pages
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import get_in_scope, has_perm, in_scope, may, personal_link, places_in_scope, possible_transitions, public, requires
from fangkong.residents.models import Person
from fangkong.web.lists import chosen, page_of

from . import actions, queries
from .models import SYMPTOMS, Appeal, CreditEntry, Declaration, Finding, Point

TRAVEL_ROWS = 3


# --- The public declaration page (no sign-in) ----------------------------------------------

def _post_data(post) -> dict:
    return {
        "name": post.get("name", ""), "id_number": post.get("id_number", ""), "phone": post.get("phone", ""),
        "address": post.get("address", ""), "temperature": post.get("temperature", ""),
        "symptoms": post.getlist("symptoms"), "risk_area": post.get("risk_area", ""),
        "contact_case": post.get("contact_case", ""), "contact_risk_area": post.get("contact_risk_area", ""),
        "note": post.get("note", ""), "pledge": post.get("pledge", ""),
        "travel": [{"place": post.get(f"travel_place_{i}", ""), "from": post.get(f"travel_from_{i}", ""),
                    "to": post.get(f"travel_to_{i}", "")} for i in range(TRAVEL_ROWS)],
    }


def _declare_page(request, point, status=200, errors=None, data=None, client_key="", resident=None):
    data = data or {}
    errors = errors or {}
    travel = data.get("travel") or [{} for _i in range(TRAVEL_ROWS)]
    rows = [{"i": i, "place": r.get("place", ""), "from": r.get("from", ""), "to": r.get("to", ""),
             "errors": [str(m) for k, m in errors.items() if k.startswith(f"travel.{i}.")]}
            for i, r in enumerate(travel)]
    return render(request, "declarations/declare.html", {
        "point": point, "errors": errors, "data": data, "rows": rows, "symptoms": SYMPTOMS, "resident": resident,
        "chosen": set(data.get("symptoms") or []), "client_key": client_key or uuid.uuid4().hex,
        "yesno": [(name, question, str(data.get(name) or ""), errors.get(name)) for name, question in (
            ("risk_area", _("In the last 14 days, have you been to a medium- or high-risk area?")),
            ("contact_case", _("Have you had contact with confirmed or suspected cases?")),
            ("contact_risk_area", _("Have you had contact with people coming from risk areas?")))],
    }, status=status)


@public("a community's self-declaration page (QR code): a form; the receipt shows only masked numbers")
@require_http_methods(["GET", "POST"])
@csrf_protect
@never_cache
@rate_limited("PUBLIC_FORM_RATE", scope="public-form")
def declare(request, code: str):
    point = actions.point_for_code(code)
    if point is None:
        raise Http404
    if request.method == "GET":
        return _declare_page(request, point)
    data = _post_data(request.POST)
    client_key = request.POST.get("client_key", "")
    try:
        decl, refused = attempt(lambda: actions.submit(acting_user=None, point=point, data=data, client_key=client_key,
                                                       client_ip=request.META.get("REMOTE_ADDR", "")),
                                request=request, keep_errors=True)
    except actions.RateLimited:
        return render(request, "declarations/declare.html", {"point": point, "limited": True}, status=429)
    if refused:  # a conflict: the form's key was used by another declaration, so a fresh key, data kept
        return _declare_page(request, point, refused.status, refused.errors, data, "" if refused.reason else client_key)
    return render(request, "declarations/receipt.html", {"point": point, "decl": decl})


# --- The person's own declaration (personal link) -------------------------------------------

def _resident_point(person) -> Point | None:
    """The entry point of the person's community (the one above their place)."""
    from fangkong.places.access import ancestor_paths

    return Point.objects.filter(place_path__in=ancestor_paths(person.place_path), active=True).select_related(
        "place").order_by("-place_path").first()


@personal_link
@require_http_methods(["GET", "POST"])
@never_cache
def resident_declare(request):
    """The self-declaration through the person's own link: nothing of the person is typed
    again, and the declaration is theirs at once (matched), unlike one from the public page."""
    person = request.resident
    point = _resident_point(person)
    if point is None:
        return render(request, "declarations/declare.html", {"point": None, "resident": person, "closed": True},
                      status=404)
    if request.method == "GET":
        household = person.household.address if person.household_id else ""
        return _declare_page(request, point, data={"address": household}, resident=person)
    data = {**_post_data(request.POST), "name": person.name, "id_number": person.id_number()}
    if not data["phone"] and person.phone_enc:
        data["phone"] = person.phone()
    client_key = request.POST.get("client_key", "")
    try:
        decl, refused = attempt(lambda: actions.submit(acting_user=None, point=point, data=data, client_key=client_key,
                                                       client_ip=request.META.get("REMOTE_ADDR", ""), person=person),
                                request=request, keep_errors=True)
    except actions.RateLimited:
        return render(request, "declarations/declare.html", {"point": point, "limited": True}, status=429)
    if refused:
        shown = {k: v for k, v in data.items() if k not in ("id_number",)}
        return _declare_page(request, point, refused.status, refused.errors, shown,
                             "" if refused.reason else client_key, resident=person)
    return render(request, "declarations/receipt.html", {"point": point, "decl": decl, "resident": person,
                                                         "token": request.resident_token})


# The public route names its entry point by the code in the URL; the access-matrix test
# reads this to build the URL (tests/matrix/declarations.py).
declare.fk_object = Point


# --- Entry points and their QR codes (committee) ------------------------------------------

def public_url(point: Point) -> str:
    return settings.PUBLIC_URL + reverse("declarations_declare", kwargs={"code": point.code})


@requires("declarations.points")
@require_http_methods(["GET", "POST"])
def points(request):
    communities = places_in_scope(request.user, "declarations.points").filter(kind="community").order_by("name")
    status = 200
    if request.method == "POST":
        place = communities.filter(pk=int_or_none(request.POST.get("place"))).first()
        point, refused = attempt(lambda: actions.ensure_point(acting_user=request.user, place=place), request=request)
        if not refused:
            return redirect("declarations_point", pk=point.pk)
        status = refused.status
    have = {p.place_id: p for p in queries.points(request.user)}
    return render(request, "declarations/points.html", {
        "rows": [(c, have.get(c.pk)) for c in communities]}, status=status)


@requires("declarations.points", obj=Point)
@require_GET
def point(request, pk: int):
    from fangkong.lib.qr import svg as qr_svg

    p = get_in_scope(Point.objects.select_related("place"), request.user, "declarations.points", pk=pk)
    url = public_url(p)
    qr = qr_svg(url, scale=8, border=2)
    return render(request, "declarations/point.html", {"point": p, "url": url, "qr": qr})


@requires("declarations.points", obj=Point)
@require_POST
def point_renew(request, pk: int):
    p = get_in_scope(Point.objects.all(), request.user, "declarations.points", pk=pk)
    actions.renew_code(acting_user=request.user, point=p)
    messages.success(request, _("New QR code made; the old one no longer works. Print and post the new one."))
    return redirect("declarations_point", pk=p.pk)


# --- The grid worker's queue and verification ---------------------------------------------

QUEUE_FILTERS = [("open", gettext_lazy("To verify")), ("verified", gettext_lazy("Verified true")),
                 ("found_false", gettext_lazy("Found false"))]


@requires("declarations.view")
@require_GET
@never_cache
def queue(request):
    which = chosen(request, "state", queries.QUEUE_STATES, "open")
    unmatched = request.GET.get("unmatched") == "1"
    page = page_of(request, queries.queue(request.user, which, unmatched))
    record(request.user, "declarations.list", detail={"state": which, "page": page.number})
    return render(request, "declarations/queue.html", {
        "page": page, "which": which, "filters": QUEUE_FILTERS, "unmatched": unmatched,
        "can_points": has_perm(request.user, "declarations.points"),
        "can_watch": has_perm(request.user, "declarations.watch"),
    })


def _detail(request, decl, status=200, errors=None):
    user = request.user
    can_verify = may(user, "declarations.verify", decl)
    return render(request, "declarations/detail.html", {
        "decl": decl, "possible": possible_transitions(actions.DECLARATION_TRANSITIONS, decl, user),
        "reasons": actions.risk_reasons(decl), "errors": errors or {},
        "can_match": can_verify and decl.person_id is None,
        "can_register": decl.person_id is None and has_perm(user, "residents.edit"),
        "entry": CreditEntry.objects.filter(declaration=decl).first(),
    }, status=status)


@requires("declarations.view", obj=Declaration)
@require_GET
@never_cache
def detail(request, pk: int):
    decl = get_in_scope(queries.declarations(request.user), request.user, "declarations.view", pk=pk)
    record(request.user, "declarations.view", obj=decl, detail={"serial": decl.serial})
    return _detail(request, decl)


def _checked(request, decl, action: str, t):
    messages.success(request, _("%(serial)s: %(state)s") % {"serial": decl.serial, "state": decl.get_state_display()})
    return redirect("declarations_queue")


def _check_refused(request, decl, refused):
    decl.refresh_from_db()
    return _detail(request, decl, refused.status, refused.errors)


check_views = transition_pages(
    actions.DECLARATION_TRANSITIONS, Declaration.objects.select_related("person", "community"), "declarations",
    take=lambda request, decl, action: actions.check(acting_user=request.user, declaration=decl, action=action,
                                                     note=request.POST.get("note", "")),
    done=_checked, refused=_check_refused, keep_errors=True, decorators=[never_cache])


@requires("declarations.verify", obj=Declaration)
@require_POST
@never_cache
def match(request, pk: int):
    decl = get_in_scope(queries.declarations(request.user, "declarations.verify"), request.user,
                        "declarations.verify", pk=pk)
    done, refused = attempt(lambda: actions.match(acting_user=request.user, declaration=decl), request=request)
    if refused:
        return _detail(request, decl, refused.status)
    decl = done
    messages.success(request, _("Matched to %(name)s.") % {"name": decl.person.name})
    if not in_scope(decl, request.user, "declarations.view"):
        return redirect("declarations_queue")
    return redirect("declarations_detail", pk=decl.pk)


# --- Grid watch ------------------------------------------------------------------------------

@requires("declarations.view")
@require_GET
@never_cache
def findings(request):
    state = chosen(request, "state", Finding.State.values, Finding.State.RECORDED)
    page = page_of(request, queries.findings(request.user, state))
    record(request.user, "declarations.findings.list", detail={"state": state, "page": page.number})
    return render(request, "declarations/findings.html", {
        "page": page, "state": state, "states": Finding.State.choices,
        "can_watch": has_perm(request.user, "declarations.watch"),
        "can_confirm": has_perm(request.user, "declarations.confirm"),
    })


def _finding_page(request, status=200, errors=None, post=None, person=None):
    return render(request, "declarations/finding_new.html", {
        "errors": errors or {}, "post": post or {}, "person": person, "kinds": Finding.Kind.choices,
    }, status=status)


@requires("declarations.watch")
@require_http_methods(["GET", "POST"])
@never_cache
def finding_new(request):
    """Grid watch: the worker finds the person by ID number (or comes from their registry
    page with ?person=<id>) and records what was left undeclared."""
    from fangkong.residents.queries import find_person

    person_scope = Person.objects.all()
    if request.method == "GET":
        pid = int_or_none(request.GET.get("person"))
        person = get_in_scope(person_scope, request.user, "declarations.watch", pk=pid) if pid else None
        return _finding_page(request, person=person)
    post = request.POST
    person, errors = None, {}
    pid = int_or_none(post.get("person"))
    if pid:
        person = get_in_scope(person_scope, request.user, "declarations.watch", pk=pid)
    elif post.get("id_number", "").strip():
        person, refused = attempt(lambda: find_person(request.user, "declarations.watch", post.get("id_number")))
        errors.update(refused.errors if refused else {})
    else:
        errors["id_number"] = _("Enter the person's ID number")
    # Validated as a whole, so every field's error shows at once.
    finding, refused = attempt(lambda: actions.record_finding(
        acting_user=request.user, person=person, kind=post.get("kind", ""), evidence=post.get("evidence", ""),
        found_on=post.get("found_on", "")), request=request, keep_errors=True)
    if refused:
        errors = {**refused.errors, **errors}
        if "id_number" in errors:
            errors.pop("person", None)
        return _finding_page(request, refused.status, errors, post, person)
    messages.success(request, _("Finding recorded for %(name)s; the committee confirms it.") % {
        "name": finding.person.name})
    return redirect("declarations_finding", pk=finding.pk)  # where its photos are added


@requires("declarations.view", obj=Finding)
@require_GET
@never_cache
def finding(request, pk: int):
    """One finding: what was found, its photos (the evidence), the committee's decision."""
    f = get_in_scope(queries.findings(request.user), request.user, "declarations.view", pk=pk)
    record(request.user, "declarations.finding.view", obj=f)
    return render(request, "declarations/finding.html", {
        "f": f, "possible": dict(possible_transitions(actions.FINDING_TRANSITIONS, f, request.user))})


def _decided(request, finding, action: str, t):
    messages.success(request, _("Finding: %(state)s") % {"state": Finding.State(t.target).label})
    return redirect("declarations_findings")


def _findings_again(request, status):
    page = Paginator(queries.findings(request.user, Finding.State.RECORDED), 50).get_page("1")
    return render(request, "declarations/findings.html", {
        "page": page, "state": Finding.State.RECORDED, "states": Finding.State.choices,
        "can_watch": has_perm(request.user, "declarations.watch"),
        "can_confirm": has_perm(request.user, "declarations.confirm")}, status=status)


finding_views = transition_pages(
    actions.FINDING_TRANSITIONS, Finding.objects.all(), "declarations_finding", done=_decided,
    take=lambda request, finding, action: actions.decide_finding(acting_user=request.user, finding=finding, action=action,
                                                                 note=request.POST.get("note", "")),
    refused=lambda request, finding, refused: _findings_again(request, refused.status))


# --- Credit record (staff) ---------------------------------------------------------------------

@requires("credit.view")
@require_GET
@never_cache
def credit_list(request):
    state = request.GET.get("state", "")
    if state not in CreditEntry.State.values and state != "appeals":
        state = ""
    if state == "appeals":
        qs = queries.entries(request.user).filter(appeals__state=Appeal.State.OPEN).distinct()
    else:
        qs = queries.entries(request.user, state)
    page = page_of(request, qs.order_by("-created_at", "-pk"))
    record(request.user, "credit.list", detail={"state": state, "page": page.number})
    return render(request, "declarations/credit_list.html", {
        "page": page, "state": state, "open_appeals": queries.open_appeals(request.user).count()})


def _credit_detail(request, entry, status=200, errors=None):
    appeals = list(entry.appeals.order_by("-filed_at"))
    for a in appeals:  # the decisions the viewer may take on each (an open appeal, in their scope)
        a.possible = dict(possible_transitions(actions.APPEAL_TRANSITIONS, a, request.user))
    return render(request, "declarations/credit_detail.html", {
        "entry": entry, "appeals": appeals,
        "errors": errors or {}}, status=status)


@requires("credit.view", obj=CreditEntry)
@require_GET
@never_cache
def credit_detail(request, pk: int):
    entry = get_in_scope(queries.entries(request.user), request.user, "credit.view", pk=pk)
    record(request.user, "credit.view", obj=entry)
    return _credit_detail(request, entry)


def _appeal_decided(request, appeal, action: str, t):
    messages.success(request, _("Appeal decided: %(state)s") % {"state": Appeal.State(t.target).label})
    return redirect("credit_detail", pk=appeal.entry_id)


appeal_views = transition_pages(
    actions.APPEAL_TRANSITIONS, Appeal.objects.select_related("entry", "entry__person"), "credit_appeal",
    take=lambda request, appeal, action: actions.decide_appeal(acting_user=request.user, appeal=appeal, action=action,
                                                               reason=request.POST.get("reason", "")),
    done=_appeal_decided, keep_errors=True, decorators=[never_cache],
    refused=lambda request, appeal, refused: _credit_detail(request, appeal.entry, refused.status, refused.errors))


# --- The person's own credit page (personal link) ------------------------------------------

def _resident_page(request, status=200, errors=None, post=None):
    return render(request, "declarations/resident_credit.html", {
        "person": request.resident, "entries": queries.own_entries(request.resident), "errors": errors or {},
        "post": post or {}}, status=status)


@personal_link
@require_GET
@never_cache
def resident_credit(request):
    return _resident_page(request)


@personal_link
@require_POST
@never_cache
def resident_appeal(request):
    post = request.POST
    entry = CreditEntry.objects.filter(person=request.resident, pk=int_or_none(post.get("entry"))).first()

    def appeal():
        if entry is None:
            raise actions.Invalid({"entry": _("Choose one of your entries")})
        return actions.file_appeal(acting_user=None, person=request.resident, entry=entry, text=post.get("text", ""))

    _appeal, refused = attempt(appeal)
    if refused:  # shown beside the entry appealed against
        errors = {**refused.errors, **({"entry": refused.reason} if refused.reason else {})}
        return _resident_page(request, refused.status, {**errors, "entry_id": entry.pk if entry else None}, post)
    messages.success(request, _("Your appeal was sent to the residents' committee."))
    return redirect("resident_credit", token=request.resident_token)
