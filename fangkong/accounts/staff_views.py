"""Staff pages (issue 13): people and their grants under one's places, accounts created
one by one or onboarded from a list, one-time sign-in links, deactivation, and the
admin's delegation table. Phone-sized first. Every write is an action of actions.py."""
from __future__ import annotations

import operator
import uuid
from functools import reduce
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib import sheets
from fangkong.lib.exports import csv_response
from fangkong.lib.throttle import rate_limited
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import get_in_scope, places_in_scope, public, requires, role_label, scope
from fangkong.places.models import Grant, Place
from fangkong.web.forms import attempt, submitted
from fangkong.web.lists import page_of

from . import actions, onboarding, queries
from .forms import AccountForm, DelegationForm, GrantForm, OnboardForm
from .models import OnboardingJob, StaffProfile


def _delegable(user) -> set[str] | None:
    """The roles the user may grant somewhere (None: any, the admin)."""
    if actions._is_admin(user):
        return None
    table = actions.delegation_table()
    return {r for g in actions._grants(user) if g.place_path is not None for r in table.get(g.role, ())}


@requires("accounts.view")
@require_GET
def people(request):
    q = request.GET.get("q", "")[:40]
    page = page_of(request, queries.people(request.user, q))
    return render(request, "accounts/staff_people.html", {"page": page, "q": q})


@requires("accounts.view")
@require_GET
def holders(request):
    code = request.GET.get("place", "")[:40]
    place = get_in_scope(Place, request.user, "accounts.view", code=code) if code else None
    page = page_of(request, queries.holdings(request.user, place)) if place else None
    tops = places_in_scope(request.user, "accounts.view").exclude(kind__in=["building", "checkpoint"])[:200]
    return render(request, "accounts/staff_holders.html", {"place": place, "page": page, "places": tops,
                                                           "label": role_label})


@requires("accounts.manage")
@require_http_methods(["GET", "POST"])
def create(request):
    form = AccountForm(request.POST or None, roles=_delegable(request.user))

    def act(d):
        target = d["target"]
        home = target if isinstance(target, Place) else target.place
        return actions.create_account(acting_user=request.user, name=d["name"], phone=d["phone"], place=home,
                                      role=d["role"], target=target, starts_on=d["starts_on"], ends_on=d["ends_on"])

    user, status = submitted(request, form, act)
    if user is not None:
        messages.success(request, _("Account created. Hand over a one-time sign-in link."))
        return redirect("staff_person", pk=user.staff_profile.pk)
    return render(request, "accounts/staff_form.html", {"form": form, "title": _("New account"), "submit": _("Create")},
                  status=status)


def _profile(request, pk, perm="accounts.view"):
    return get_in_scope(StaffProfile.objects.select_related("user", "home_place"), request.user, perm, pk=pk)


def _person_page(request, profile, *, grant_form=None, link=None, status=200):
    grants = Grant.objects.filter(user=profile.user, revoked_at__isnull=True).select_related("place", "organization")
    link_url = qr = None
    if link:
        from fangkong.lib.qr import svg as qr_svg

        link_url = settings.PUBLIC_URL + reverse("signin_link", kwargs={"token": link})
        qr = qr_svg(link_url, scale=4, border=2, keep=False)
    return render(request, "accounts/staff_person.html", {
        "profile": profile, "person": profile.user, "grants": grants, "label": role_label,
        "grant_form": grant_form or GrantForm(roles=_delegable(request.user)), "link_url": link_url, "qr": qr,
        "can_manage": actions.may_manage(request.user, profile.user), "link_hours": settings.SIGNIN_LINK_HOURS,
    }, status=status)


@requires("accounts.view", obj=StaffProfile)
@require_GET
def person(request, pk: int):
    return _person_page(request, _profile(request, pk))


@requires("accounts.manage", obj=StaffProfile)
@require_POST
def grant(request, pk: int):
    profile = _profile(request, pk, "accounts.manage")
    form = GrantForm(request.POST, roles=_delegable(request.user))
    result, status = submitted(request, form, lambda d: actions.grant_role(
        acting_user=request.user, user=profile.user, role=d["role"], target=d["target"], starts_on=d["starts_on"],
        ends_on=d["ends_on"]))
    if result is not None:
        messages.success(request, _("Role granted."))
        return redirect("staff_person", pk=pk)
    return _person_page(request, profile, grant_form=form, status=status)


@requires("accounts.manage", obj=StaffProfile)
@require_POST
def revoke(request, pk: int):
    profile = _profile(request, pk, "accounts.manage")
    grant_id = int_or_none(request.POST.get("grant"))
    found = Grant.objects.filter(pk=grant_id, user=profile.user).select_related("place", "organization").first()
    if found is None:
        return _person_page(request, profile, status=400)
    _done, refused = attempt(lambda: actions.revoke(acting_user=request.user, grant=found), request=request)
    if refused is None:
        messages.success(request, _("Role revoked."))
    return redirect("staff_person", pk=pk)


@requires("accounts.manage", obj=StaffProfile)
@require_POST
@never_cache
def link(request, pk: int):
    """Issue a one-time sign-in link: shown once on this page (link and QR code)."""
    profile = _profile(request, pk, "accounts.manage")
    token, refused = attempt(lambda: actions.issue_signin_link(acting_user=request.user, user=profile.user,
                                                               send=bool(request.POST.get("send"))), request=request)
    return _person_page(request, profile, link=token, status=refused.status if refused else 200)


@requires("accounts.manage", obj=StaffProfile)
@require_POST
def deactivate(request, pk: int):
    profile = _profile(request, pk, "accounts.manage")
    items, refused = attempt(lambda: actions.deactivate(acting_user=request.user, user=profile.user), request=request)
    if refused is None:
        messages.success(request, _("Account deactivated."))
    return redirect("staff_person", pk=pk)


# --- One-time sign-in link (the person's own page) ---------------------------------------

@public("one-time sign-in link: the token is the credential, spent once")
@require_http_methods(["GET", "POST"])
@never_cache
@rate_limited("PUBLIC_FORM_RATE", scope="signin-link")
def signin_link(request, token: str):
    user = actions.signin_link_user(token)
    if request.method == "POST":
        done, refused = attempt(lambda: actions.use_signin_link(
            token=token, password=request.POST.get("password", ""), password2=request.POST.get("password2", "")))
        if done is not None:
            login(request, done, backend=settings.AUTHENTICATION_BACKENDS[0])
            messages.success(request, _("Your password is set. You are signed in."))
            return redirect("home")
        return render(request, "accounts/signin_link.html", {"person": user, "refused": refused},
                      status=refused.status)
    return render(request, "accounts/signin_link.html", {"person": user}, status=200 if user else 410)


# --- Onboarding from a list ----------------------------------------------------------------

def _onboard_places(user):
    """The places a list may be onboarded under: where the user may delegate some role."""
    places = Place.objects.filter(kind__in=["district", "street", "community", "grid"])
    paths = actions.delegating_paths(user)
    if paths is not None:
        places = places.filter(reduce(operator.or_, (Q(path__under=p) for p in paths), Q(pk__in=[])))
    return places


@requires("accounts.manage")
@require_http_methods(["GET", "POST"])
def onboard(request):
    form = OnboardForm(request.POST or None, request.FILES or None, places=_onboard_places(request.user))
    jobs = scope(OnboardingJob.objects.all(), request.user, "accounts.manage")[:10]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
            stored = settings.IMPORT_DIR / f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:8]}"
            with open(stored, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                job, refused = attempt(lambda: onboarding.start(acting_user=request.user, place=form.cleaned_data["place"],
                                                                stored_path=stored, file_name=upload.name), form=form)
            except sheets.SheetError as exc:
                job, refused = None, True
                form.add_error("file", str(exc))
            if job is not None:
                return redirect("staff_onboard_job", pk=job.pk)
            stored.unlink(missing_ok=True)
    return render(request, "accounts/staff_onboard.html", {"form": form, "jobs": jobs}, status=status)


def _job(request, pk):
    return get_in_scope(OnboardingJob.objects.select_related("place"), request.user, "accounts.manage", pk=pk)


@requires("accounts.manage", obj=OnboardingJob)
@require_GET
def onboard_job(request, pk: int):
    job = _job(request, pk)
    return render(request, "accounts/staff_onboard_job.html", {"job": job, "problems": job.rows.filter(
        outcome__in=("error", "duplicate", "held"))[:50]})


@requires("accounts.manage", obj=OnboardingJob)
@require_GET
def onboard_progress(request, pk: int):
    return render(request, "accounts/_onboard_progress.html", {"job": _job(request, pk)})


@requires("accounts.manage", obj=OnboardingJob)
@require_GET
def onboard_errors(request, pk: int):
    job = _job(request, pk)
    record(request.user, "accounts.onboard.errors", obj=job)
    return csv_response(onboarding.error_rows(job), f"onboarding-{job.pk}-errors.csv")


@requires("accounts.manage", obj=OnboardingJob)
@require_POST
@never_cache
def onboard_sheet(request, pk: int):
    """Print the QR sheet: issues every listed person's one-time link anew (PDF)."""
    job = _job(request, pk)
    if job.status != OnboardingJob.Status.DONE:
        return HttpResponse(_("The list is still being onboarded."), status=409)
    pdf = onboarding.qr_sheet(acting_user=request.user, job=job)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="signin-codes-{job.pk}.pdf"'
    return response


# --- The admin's delegation table ----------------------------------------------------------

@requires("accounts.delegation")
@require_http_methods(["GET", "POST"])
def delegation(request):
    form = DelegationForm(request.POST or None)
    done, status = submitted(request, form, lambda d: actions.set_delegation(
        acting_user=request.user, granter_role=d["granter_role"], roles=None if d["restore"] else d["roles"]))
    if status is None:
        messages.success(request, _("Delegation table saved."))
        return redirect("staff_delegation")
    table = [(role_label(k), [role_label(r) for r in v]) for k, v in actions.delegation_table().items()]
    return render(request, "accounts/staff_delegation.html", {"form": form, "table": table}, status=status)
