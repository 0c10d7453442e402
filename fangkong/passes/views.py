"""Pass pages: the list (scoped), issuing resident, visitor and vehicle passes, the detail
page with renew / revoke / card / override, the override approval queue, and the
resident's own phone page reached by a personal link (colour, masked name, and a QR code
that changes every minute)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.lib.workflow import int_or_none
from fangkong.residents.queries import find_person
from fangkong.places.access import get_in_scope, has_perm, in_scope, may, personal_link, requires, scope
from fangkong.places.models import Place
from fangkong.residents.models import Household, Person
from fangkong.web.lists import chosen, page_of

from . import actions
from .colours import pass_colour
from .forms import OverrideForm, PersonPassForm, ResidentPassForm, VehiclePassForm, VisitorPassForm
from .models import Override, Pass

S = Pass.State
FILTERS = [("active", _("Valid")), ("ended", _("Revoked or expired")), ("all", _("All"))]
PASS_PLACE_KINDS = ("community", "grid", "compound", "building", "checkpoint")


def _places(user):
    return scope(Place.objects.filter(kind__in=PASS_PLACE_KINDS), user, "passes.issue").order_by("path")[:500]


@requires("passes.view")
@require_GET
def pass_list(request):
    which = chosen(request, "state", FILTERS, "active")
    qs = scope(Pass.objects.select_related("person", "place"), request.user, "passes.view")
    kind = request.GET.get("kind", "")
    if kind in Pass.Kind.values:
        qs = qs.filter(kind=kind)
    if which == "active":
        qs = qs.filter(state=S.ACTIVE)
    elif which == "ended":
        qs = qs.exclude(state=S.ACTIVE)
    page = page_of(request, qs)
    pending = scope(Override.objects.filter(state=Override.State.REQUESTED), request.user, "passes.approve_override").count() \
        if has_perm(request.user, "passes.approve_override") else 0
    record(request.user, "passes.list", detail={"state": which, "page": page.number})
    return render(request, "passes/list.html", {
        "page": page, "which": which, "filters": FILTERS, "kind": kind, "kinds": Pass.Kind.choices, "pending": pending,
        "can_issue": has_perm(request.user, "passes.issue"),
        "can_approve": has_perm(request.user, "passes.approve_override"),
    })


def _issue_page(request, form, title, issue, person=None):
    """The form issuing one kind of pass: `issue(cleaned data)` issues it (Invalid names
    what is wrong, e.g. a person or household not found); then its detail page."""
    issued, status = submitted(request, form, issue)
    if issued:
        messages.success(request, _("Pass %(serial)s issued.") % {"serial": issued[0].serial})
        return redirect("pass_detail", pk=issued[0].pk)
    return render(request, "passes/issue.html", {"form": form, "title": title, "person": person}, status=status)


@requires("passes.issue")
@require_http_methods(["GET", "POST"])
def issue_resident(request):
    return _issue_page(request, ResidentPassForm(request.POST or None), _("Issue a health pass"), lambda d: actions.issue_resident_pass(
        acting_user=request.user, person=find_person(request.user, "passes.issue", d["id_number"]), days=d["days"]))


@requires("passes.issue", obj=Person)
@require_http_methods(["GET", "POST"])
def issue_for_person(request, pk: int):
    """A resident's pass from the person's page: the person is named by the URL (in the
    issuer's scope), so nobody unmasks, copies or types the ID number."""
    person = get_in_scope(Person.objects.select_related("household"), request.user, "passes.issue", pk=pk)
    return _issue_page(request, PersonPassForm(request.POST or None), _("Issue a health pass"), lambda d: actions.issue_resident_pass(
        acting_user=request.user, person=person, days=d["days"]), person=person)


@requires("passes.issue")
@require_http_methods(["GET", "POST"])
def issue_visitor(request):
    places = list(_places(request.user))

    def issue(d):
        place = next((p for p in places if p.pk == d["place"]), None)
        host = None
        if d["host_address"].strip() and place is not None:
            host = scope(Household.objects.filter(place_path__under=place.path, address=d["host_address"].strip()),
                         request.user, "passes.issue").first()
            if host is None:
                raise actions.Invalid({"host_address": _("No household with this address is registered there")})
        return actions.issue_visitor_pass(acting_user=request.user, name=d["name"], phone=d["phone"], reason=d["reason"],
                                          host_household=host, hours=d["hours"], place=place)

    return _issue_page(request, VisitorPassForm(request.POST or None, places=places), _("Issue a visitor's pass"), issue)


@requires("passes.issue")
@require_http_methods(["GET", "POST"])
def issue_vehicle(request):
    places = list(_places(request.user))

    def issue(d):
        owner = find_person(request.user, "passes.issue", d["owner_id_number"], field="owner_id_number") if d["owner_id_number"] else None
        return actions.issue_vehicle_pass(acting_user=request.user, plate=d["plate"], owner=owner, days=d["days"],
                                          place=next((p for p in places if p.pk == d["place"]), None))

    return _issue_page(request, VehiclePassForm(request.POST or None, places=places), _("Issue a vehicle pass"), issue)


def _detail_context(request, pass_):
    user = request.user
    return {
        "pass": pass_, "colour": pass_colour(pass_) if pass_.state == S.ACTIVE else None,
        "may": {k: may(user, f"passes.{k}", pass_) for k in ("issue", "override")},
        "overrides": pass_.overrides.all()[:10] if pass_.kind != Pass.Kind.RESIDENT else
        Override.objects.filter(person_id=pass_.person_id)[:10],
        "override_form": OverrideForm(),
    }


@requires("passes.view", obj=Pass)
@require_GET
@never_cache
def detail(request, pk: int):
    pass_ = get_in_scope(Pass.objects.select_related("person", "place", "host_household"), request.user, "passes.view", pk=pk)
    record(request.user, "passes.view", obj=pass_)
    return render(request, "passes/detail.html", _detail_context(request, pass_))


def _back(request, pass_, status=200):
    if status == 200:
        return redirect("pass_detail", pk=pass_.pk)
    if not in_scope(pass_, request.user, "passes.view"):
        return HttpResponse(status=status)
    pass_ = Pass.objects.select_related("person", "place", "host_household").get(pk=pass_.pk)
    return render(request, "passes/detail.html", _detail_context(request, pass_), status=status)


def _run(request, pass_, fn):
    """Call an action: its result, or the detail page with its refusal (400/409)."""
    result, refused = attempt(fn, request=request)
    return result, refused and _back(request, pass_, refused.status)


def _int(value):
    return int_or_none(value, maximum=100_000)


@requires("passes.issue", obj=Pass)
@require_POST
def renew(request, pk: int):
    pass_ = get_in_scope(Pass.objects.all(), request.user, "passes.issue", pk=pk)
    days, hours = _int(request.POST.get("days")), _int(request.POST.get("hours"))
    if pass_.kind == Pass.Kind.VISITOR and hours is None:
        hours = -1  # the action says what is wrong
    result, failed = _run(request, pass_, lambda: actions.renew(acting_user=request.user, pass_=pass_, days=days, hours=hours))
    if failed:
        return failed
    messages.success(request, _("Renewed until %(until)s.") % {"until": timezone.localtime(result.valid_until).strftime("%Y-%m-%d %H:%M")})
    return _back(request, result)


@requires("passes.issue", obj=Pass)
@require_POST
def revoke(request, pk: int):
    pass_ = get_in_scope(Pass.objects.all(), request.user, "passes.issue", pk=pk)
    result, failed = _run(request, pass_, lambda: actions.revoke(acting_user=request.user, pass_=pass_,
                                                                  reason=request.POST.get("reason", "")))
    if failed:
        return failed
    messages.success(request, _("Pass revoked: gates refuse its codes from now on."))
    return _back(request, result)


@requires("passes.issue", obj=Pass)
@require_GET
@never_cache
def card(request, pk: int):
    """The printable card (健康通行卡) as PDF, with the QR code of a token valid as long as the pass."""
    from .card import render_card

    pass_ = get_in_scope(Pass.objects.select_related("person", "place"), request.user, "passes.issue", pk=pk)
    if pass_.state != S.ACTIVE or pass_.valid_until <= timezone.now():
        messages.error(request, _("This pass is not valid: no code can be issued"))
        return _back(request, pass_, 409)
    data = render_card(pass_, actions.token_for(pass_))
    record(request.user, "passes.card", obj=pass_)
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="{pass_.serial}.pdf"'
    return resp


@requires("passes.override", obj=Pass)
@require_POST
def request_override(request, pk: int):
    pass_ = get_in_scope(Pass.objects.select_related("person"), request.user, "passes.override", pk=pk)
    subject = {"person": pass_.person} if pass_.kind == Pass.Kind.RESIDENT else {"pass_": pass_}
    _result, failed = _run(request, pass_, lambda: actions.request_override(
        acting_user=request.user, colour=request.POST.get("colour", ""), reason=request.POST.get("reason", ""),
        hours=_int(request.POST.get("hours")) or -1, **subject))
    if failed:
        return failed
    messages.success(request, _("Override requested: it counts once a second person approves it."))
    return _back(request, pass_)


@requires("passes.approve_override")
@require_GET
def override_queue(request):
    qs = scope(Override.objects.select_related("person", "pass_obj", "requested_by", "decided_by"), request.user,
               "passes.approve_override")
    pending = qs.filter(state=Override.State.REQUESTED).order_by("requested_at")[:200]
    recent = qs.exclude(state=Override.State.REQUESTED)[:50]
    return render(request, "passes/overrides.html", {"pending": pending, "recent": recent})


def _override_decided(request, over, action: str, t):
    messages.success(request, _("Override approved.") if action == "approve" else _("Override rejected."))
    return redirect("pass_overrides")


def _override_refused(request, over, refused):
    resp = override_queue(request)
    resp.status_code = refused.status
    return resp


override_approve, override_reject = transition_pages(
    {k: actions.OVERRIDE_TRANSITIONS[k] for k in ("approve", "reject")}, Override.objects.all(), "override",
    take=lambda request, over, action: actions.decide_override(acting_user=request.user, override=over,
                                                               approve=action == "approve", note=request.POST.get("note", "")),
    done=_override_decided, refused=_override_refused).values()


# --- The resident's own pass (personal link, no password) -------------------------------

def _resident_pass(person):
    return Pass.objects.filter(person=person, kind=Pass.Kind.RESIDENT, state=S.ACTIVE,
                               valid_until__gt=timezone.now()).select_related("person").first()


def _qr_context(pass_):
    from fangkong.lib.qr import svg as qr_svg

    from django.conf import settings

    token = actions.token_for(pass_, minutes=settings.PASSES_PHONE_TOKEN_MINUTES)
    return {"token": token, "qr": qr_svg(token, scale=6, border=2, keep=False),
            "colour": pass_colour(pass_), "generated": timezone.now()}


@personal_link
@require_GET
@never_cache
def resident_pass(request):
    pass_ = _resident_pass(request.resident)
    ctx = {"person": request.resident, "pass": pass_}
    if pass_ is not None:
        ctx.update(_qr_context(pass_))
    return render(request, "passes/resident.html", ctx)


@personal_link
@require_GET
@never_cache
def resident_pass_qr(request):
    """The QR part of the page, fetched by htmx every 60 s: a fresh short-lived code."""
    pass_ = _resident_pass(request.resident)
    if pass_ is None:
        return render(request, "passes/_resident_qr.html", {"pass": None}, status=200)
    return render(request, "passes/_resident_qr.html", {"pass": pass_, **_qr_context(pass_)})
