"""Mass testing pages: the rounds (list, create, detail with coverage per place level, sites,
throughput, XLSX of coverage per building), sites with lanes, the recall list and the
door-knock list of a round, the registrar's phone page (works offline: static/testing/
register.js), and the lab's result upload."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.web.offline import worker_response, worker_url
from fangkong.places.access import (authenticated, get_in_scope, has_perm, places_in_scope, possible_transitions,
                                    public, requires, scope)
from fangkong.places.models import Organization
from fangkong.residents.models import Household
from fangkong.web.forms import attempt, submitted

from fangkong.passes.tokens import TokenError
from fangkong.lib.db.replica import reads_from_replica

from . import actions, queries, results
from .api import get_round
from .models import POOLING_SIZES, Box, Knock, Lane, Policy, Round, Site, Tube

ANY = ("testing.view", "testing.manage", "testing.register", "testing.results", "testing.recall", "testing.knock")


@authenticated
@require_GET
def home(request):
    """The rounds the user's testing permissions reach, with what each role does next."""
    user = request.user
    can = {p.split(".")[1]: has_perm(user, p) for p in ANY}
    perm = next((p for p in ("testing.view", "testing.knock", "testing.recall") if has_perm(user, p)), None)
    rounds = list(queries.rounds(user, perm)[:100]) if perm else []
    can["policy"] = has_perm(user, "testing.policy")
    return render(request, "testing/home.html", {
        "rounds": rounds, "can": can, "sites": list(queries.sites(user)[:50]) if can["register"] else [],
        "boxes": list(queries.lab_boxes(user)[:20]) if can["results"] else []})


class RoundForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    place = forms.ModelChoiceField(label=gettext_lazy("Area"), queryset=None)
    start_date = forms.DateField(label=gettext_lazy("Start date"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=gettext_lazy("End date"), widget=forms.DateInput(attrs={"type": "date"}))
    pooling = forms.TypedChoiceField(label=gettext_lazy("Pooling size"), coerce=int, initial=10,
                                     choices=[(n, f"{n}") for n in POOLING_SIZES])
    min_age = forms.IntegerField(label=gettext_lazy("Minimum age"), required=False, min_value=0, max_value=150)
    max_age = forms.IntegerField(label=gettext_lazy("Maximum age"), required=False, min_value=0, max_value=150)
    tags = forms.CharField(label=gettext_lazy("Tags (any of them)"), required=False, max_length=200)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places_in_scope(user, "testing.manage").filter(
            kind__in=("street", "community", "grid", "compound")).order_by("path")


@requires("testing.manage")
@require_http_methods(["GET", "POST"])
def round_create(request):
    form = RoundForm(request.POST if request.method == "POST" else None, user=request.user)
    rnd, status = submitted(request, form, lambda d: actions.create_round(acting_user=request.user, **d))
    if rnd:
        messages.success(request, _("Round created. Add its sites, then start it."))
        return redirect("testing_round", pk=rnd.pk)
    return render(request, "testing/form.html", {"form": form, "title": _("New testing round")}, status=status)


LEVEL_LABELS = {"community": gettext_lazy("Community"), "grid": gettext_lazy("Grid"),
                "compound": gettext_lazy("Compound"), "building": gettext_lazy("Building")}


@requires("testing.view", obj=Round)
@require_GET
def round_detail(request, pk):
    user = request.user
    rnd = get_round(user, "testing.view", pk)
    level = request.GET.get("level") if request.GET.get("level") in queries.LEVELS else "community"
    sites = list(rnd.sites.prefetch_related("lanes"))
    site_ids = [s.pk for s in sites]
    return render(request, "testing/round.html", {
        "round": rnd, "level": level, "levels": LEVEL_LABELS.items(), "rows": queries.coverage(user, rnd, level=level),
        "totals": queries.totals(user, rnd), "sites": sites, "throughput": queries.throughput(rnd, site_ids),
        "possible": possible_transitions(actions.TRANSITIONS, rnd, user),
        "can_manage": has_perm(user, "testing.manage") and get_round_or_none(user, "testing.manage", rnd.pk) is not None,
        "recalls": queries.recalls(user, rnd, "testing.view").count(),
        "conflicts": queries.conflicts(user, rnd).count(),
    })


def get_round_or_none(user, perm, pk):
    return scope(Round.objects.all(), user, perm).filter(pk=pk).first()


def _transition(request, pk, action):
    rnd = get_in_scope(Round, request.user, "testing.manage", pk=pk)
    _done, refused = attempt(lambda: actions.transition(acting_user=request.user, round=rnd, action=action), request=request)
    return redirect("testing_round", pk=rnd.pk)


@requires("testing.manage", obj=Round)
@require_POST
def round_start(request, pk):
    return _transition(request, pk, "start")


@requires("testing.manage", obj=Round)
@require_POST
def round_close(request, pk):
    return _transition(request, pk, "close")


class SiteForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    place = forms.ModelChoiceField(label=gettext_lazy("Area"), queryset=None)
    organization = forms.ModelChoiceField(label=gettext_lazy("Site organization (registrars' grant)"), queryset=None,
                                          required=False)
    opens = forms.TimeField(label=gettext_lazy("Opens"), widget=forms.TimeInput(attrs={"type": "time"}))
    closes = forms.TimeField(label=gettext_lazy("Closes"), widget=forms.TimeInput(attrs={"type": "time"}))
    lanes = forms.MultipleChoiceField(label=gettext_lazy("Lanes"), choices=Lane.Kind.choices,
                                      widget=forms.CheckboxSelectMultiple, initial=[Lane.Kind.ORDINARY])

    def __init__(self, *args, user, round, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places_in_scope(user, "testing.manage").filter(
            path__under=round.place_path).order_by("path")
        # A site organization of the round's area only (its registrars get the area's roster).
        self.fields["organization"].queryset = Organization.objects.filter(
            kind="site", place_path__under=round.place_path).order_by("name")


@requires("testing.manage", obj=Round)
@require_http_methods(["GET", "POST"])
def site_create(request, pk):
    rnd = get_in_scope(Round, request.user, "testing.manage", pk=pk)
    form = SiteForm(request.POST if request.method == "POST" else None, user=request.user, round=rnd)
    site, status = submitted(request, form, lambda d: actions.create_site(acting_user=request.user, round=rnd, **d))
    if site:
        messages.success(request, _("Site added."))
        return redirect("testing_round", pk=rnd.pk)
    return render(request, "testing/form.html", {"form": form, "title": _("New testing site")}, status=status)


@requires("testing.recall", obj=Round)
@require_GET
def recall_list(request, pk):
    rnd = get_round(request.user, "testing.recall", pk)
    return render(request, "testing/recalls.html", {"round": rnd, "recalls": queries.recalls(request.user, rnd)[:500]})


@requires("testing.knock", obj=Round)
@require_http_methods(["GET", "POST"])
def knock_list(request, pk):
    user = request.user
    rnd = get_round(user, "testing.knock", pk)
    if request.method == "POST":
        household = scope(Household.objects.all(), user, "testing.knock").filter(
            pk=request.POST.get("household") if str(request.POST.get("household", "")).isdigit() else 0).first()
        if household is None:
            messages.error(request, _("No such household in your area"))
            status = 400
        else:
            _k, refused = attempt(lambda: actions.knock(acting_user=user, round=rnd, household=household,
                                                        reason=request.POST.get("reason", ""), note=request.POST.get("note", "")),
                                  request=request)
            if not refused:
                messages.success(request, _("Reason recorded."))
                return redirect("testing_knock", pk=rnd.pk)
            status = refused.status
    else:
        status = 200
    households = list(queries.not_tested_households(user, rnd)[:300])
    knocks = queries.last_knocks(rnd, [h.pk for h in households])
    for h in households:
        h.knock = knocks.get(h.pk)
    return render(request, "testing/knock.html", {"round": rnd, "households": households, "reasons": Knock.Reason.choices},
                  status=status)


@requires("testing.view", obj=Round)
@require_GET
@reads_from_replica
def coverage_xlsx(request, pk):
    from openpyxl import Workbook

    rnd = get_round(request.user, "testing.view", pk)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Coverage"))
    ws.append([_("Building"), _("Must be tested"), _("People tested"), _("Coverage %")])
    for r in queries.coverage(request.user, rnd, level="building"):
        name = str(r["place"].name)
        ws.append([("'" + name) if name[:1] in "=+-@" else name, r["must"], r["tested"], r["percent"]])
    resp = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="coverage-{rnd.pk}.xlsx"'
    wb.save(resp)
    return resp


# What the registration page needs to load with no network (its service worker keeps them).
ASSETS = ["fangkong/passcode.js", "testing/register.css", "testing/register.js"]
SW_CACHE = "fk-testing-v2"


@requires("testing.register", obj=Site)
@require_GET
def register_page(request, pk):
    """The registrar's phone page: works offline (queue on the device, sent once; the page
    itself kept by a service worker, so it reloads without network)."""
    site = get_in_scope(Site.objects.select_related("round"), request.user, "testing.register", pk=pk)
    page = reverse("testing_register", args=[site.pk])
    config = {"site": site.pk, "pooling": site.round.pooling, "running": site.round.state == Round.State.RUNNING,
              "urls": {"roster": f"/api/testing/sites/{site.pk}/roster", "register": f"/api/testing/sites/{site.pk}/registrations",
                       "seal": f"/api/testing/sites/{site.pk}/seal", "sync": f"/api/testing/sites/{site.pk}/sync",
                       "sw": worker_url(reverse("testing_sw"), cache=SW_CACHE, page=page, assets=ASSETS),
                       "scope": page},
              "lanes": [{"id": ln.pk, "label": f"{ln.number} · {ln.get_kind_display()}"} for ln in site.lanes.all()],
              "text": {"online": _("Online"), "offline": _("Offline: entries are kept on this phone"),
                       "sealed": _("Tube sealed"), "queued": _("Kept on this phone, sent when back online"), "unsent": _("not yet sent"),
                       "need_tube": _("Scan the tube's barcode first"), "need_person": _("Scan, type or find the person"),
                       "already": _("Already registered on this phone in this round"),
                       "full": _("This tube is full: seal it and take a new one"), "not_found": _("No one found"),
                       # A pass code checked on the phone while offline (fangkong/passcode.js).
                       "pass": {**{code: str(msg) for code, msg in TokenError.MESSAGES.items()},
                                "nokeys": _("No keys yet: connect once to load them"),
                                "unknown_key": _("Unknown key: connect to the network to update the keys, then scan again"),
                                "nocrypto": _("This browser cannot check signatures (needs HTTPS and a current browser)"),
                                "not_resident": _("Not a resident's pass")},
                       # A personal-link code checked on the phone while offline (the same keys).
                       "link": {"malformed": _("Not a Fangkong personal-link code"),
                                "bad_signature": _("The signature does not match: the personal-link code is forged or altered"),
                                "expired": _("This personal link has expired"),
                                "revoked": _("This personal link has been withdrawn or replaced by a newer one")},
                       "checked": _("Signature checked on this phone")}}
    return render(request, "testing/register.html", {"site": site, "config": config})


@require_GET
@public("service worker script of the registration page: code only, no data")
def service_worker(request):
    """The shared worker script (fangkong/sw.js), served under /testing/ so that it may control
    the registration pages of the sites (one worker a site's page, all sharing one cache)."""
    return worker_response(reverse("testing_home") + "sites/")


class ResultUpload(forms.Form):
    file = forms.FileField(label=gettext_lazy("Result file (CSV or XLSX: tube barcode, result, time)"))


@requires("testing.results")
@require_http_methods(["GET", "POST"])
def lab_results(request):
    form = ResultUpload(request.POST or None, request.FILES or None)
    outcome, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix[:8]) as tmp:
                for chunk in upload.chunks():
                    tmp.write(chunk)
                tmp.flush()
                outcome, refused = attempt(lambda: results.import_file(request.user, Path(tmp.name), upload.name), form=form)
            status = refused.status if refused else 200
        else:
            status = 400
    return render(request, "testing/lab.html", {"form": form, "outcome": outcome, "boxes": queries.lab_boxes(request.user)[:200]},
                  status=status)


# --- Boxes: site → courier → lab ----------------------------------------------------------------

@requires("testing.register", obj=Site)
@require_http_methods(["GET", "POST"])
def site_boxes(request, pk):
    """The site's sealed tubes packed into boxes for a laboratory, and each box handed to
    the courier (the lab receives it on its own page)."""
    site = get_in_scope(Site.objects.select_related("round"), request.user, "testing.register", pk=pk)
    status = 200
    if request.method == "POST":
        codes = request.POST.getlist("tubes") + request.POST.get("codes", "").split()
        lab = queries.labs().filter(pk=request.POST.get("lab") if str(request.POST.get("lab", "")).isdigit() else 0).first()
        box, refused = attempt(lambda: actions.pack_box(acting_user=request.user, site=site, lab=lab, codes=codes),
                               request=request)
        if box is not None:
            messages.success(request, _("Box packed with %(n)d tubes.") % {"n": len(set(codes))})
            return redirect("testing_boxes", pk=site.pk)
        status = refused.status
    return render(request, "testing/boxes.html", {
        "site": site, "labs": queries.labs(), "boxes": queries.site_boxes(site)[:100],
        "unpacked": Tube.objects.filter(site=site, state=Tube.State.SEALED, box__isnull=True).order_by("sealed_at", "id")[:300],
    }, status=status)


@requires("testing.register", obj=Box)
@require_POST
def box_courier(request, pk):
    box = queries.registrar_box(request.user, pk)
    attempt(lambda: actions.handover(acting_user=request.user, box=box, step="courier"), request=request)
    return redirect("testing_boxes", pk=box.site_id)


@requires("testing.results", obj=Box)
@require_POST
def box_receive(request, pk):
    box = get_in_scope(Box, request.user, "testing.results", pk=pk)
    _b, refused = attempt(lambda: actions.handover(acting_user=request.user, box=box, step="receive"), request=request)
    if not refused:
        messages.success(request, _("Box received."))
    return redirect("testing_lab")


# --- Conflicts and the colour policy -------------------------------------------------------------

@requires("testing.view", obj=Round)
@require_GET
def conflict_list(request, pk):
    """Persons registered on two devices while offline: the second registration is kept
    flagged (never counted twice), shown beside the first for the site lead to sort out."""
    rnd = get_round(request.user, "testing.view", pk)
    rows = list(queries.conflicts(request.user, rnd).select_related("site", "tube", "person", "lane")[:500])
    firsts = {r.person_id: r for r in queries.registrations_of(rnd).filter(
        conflict=False, recall__isnull=True, person_id__in=[r.person_id for r in rows]).select_related("site", "tube")}
    for r in rows:
        r.first = firsts.get(r.person_id)
    return render(request, "testing/conflicts.html", {"round": rnd, "rows": rows})


class PolicyForm(forms.Form):
    pending_colour = forms.ChoiceField(label=gettext_lazy("Pass colour of a positive pool's persons until their single test"),
                                       choices=Policy._meta.get_field("pending_colour").choices, widget=forms.RadioSelect)


@requires("testing.policy")
@require_http_methods(["GET", "POST"])
def policy(request):
    """The admin's choice: yellow or red for the persons of a positive pool while their
    single results are pending."""
    form = PolicyForm(request.POST if request.method == "POST" else None, initial={"pending_colour": actions.pending_colour()})
    done, status = submitted(request, form, lambda d: actions.set_policy(acting_user=request.user, colour=d["pending_colour"]))
    if done:
        messages.success(request, _("Colour policy saved."))
        return redirect("testing_policy")
    return render(request, "testing/form.html", {"form": form, "title": _("Colour policy of mass testing")}, status=status)
