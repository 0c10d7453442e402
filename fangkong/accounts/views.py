from django import forms
from django.contrib.auth import login, logout
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.queue import queue_depth
from fangkong.places.access import (authenticated, get_in_scope, grants, has_perm, memberships, public, requires,
                                    role_label, scope)
from fangkong.places.models import Organization, Place
from fangkong.residents.models import TAGS, Household, Person

from .actions import LockedOut, sign_in
from .middleware import refused_response


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=256)


@public("sign-in page")
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect("home")
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = sign_in(request=request, username=form.cleaned_data["username"], password=form.cleaned_data["password"])
        except LockedOut as exc:
            return refused_response(request, exc)
        else:
            if user is None:
                error = _("Wrong username or password.")
                status = 401
            else:
                login(request, user)
                nxt = request.GET.get("next", "")
                if nxt.startswith("/") and not nxt.startswith("//"):
                    return redirect(nxt)
                return redirect("home")
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/login.html", {"form": form, "error": error}, status=status)


@authenticated
@require_POST
def logout_view(request):
    record(request.user, "auth.logout")
    logout(request)
    return redirect("login")


@authenticated
@require_http_methods(["GET"])
def home(request):
    user = request.user
    cards = []
    for g in [*grants(user), *memberships(user)]:  # a working group's member: its role there too
        target = "*"
        if g.place_id:
            target = Place.objects.get(pk=g.place_id).name
        elif g.org_id:
            target = Organization.objects.get(pk=g.org_id).name
        cards.append({"role": g.role, "label": role_label(g.role), "target": target})
    summary = None
    if has_perm(user, "residents.view"):
        persons = scope(Person.objects.all(), user, "residents.view")
        agg = persons.aggregate(
            total=Count("id"),
            **{tag: Count("id", filter=Q(tags__contains=f",{tag},")) for tag, _label in TAGS},
        )
        summary = {
            "persons": agg["total"],
            "households": scope(Household.objects.all(), user, "residents.view").count(),
            "tags": [(tag, label, agg[tag]) for tag, label in TAGS],
        }
        record(user, "residents.summary", detail={"persons": agg["total"]})
    system = None
    if has_perm(user, "core.system"):  # the admin: the background worker's backlog
        try:
            system = {"queue_depth": queue_depth()}
        except Exception:
            system = {"queue_depth": None}
    return render(request, "accounts/home.html", {"cards": cards, "summary": summary, "no_grants": not cards,
                                                  "todos": registry.todos(user), "today": timezone.localdate(),
                                                  "system": system})


@requires("residents.edit", obj=Person)
@require_POST
@never_cache
def person_link(request, pk: int):
    """Issue a person's personal link from their page and show it once (URL and QR) to hand
    over; it replaces any earlier link of theirs."""
    from fangkong.lib.qr import svg as qr_svg
    from django.conf import settings
    from django.urls import reverse

    from . import linkcodes
    from .actions import issue_resident_link

    person = get_in_scope(Person.objects.all(), request.user, "residents.edit", pk=pk)
    token = issue_resident_link(acting_user=request.user, person=person)
    url = settings.PUBLIC_URL + reverse("resident_home", kwargs={"token": token})
    qr = qr_svg(linkcodes.qr_text(url, token), scale=5, keep=False)
    return render(request, "accounts/person_link.html", {"person": person, "link_url": url, "link_qr": qr})
