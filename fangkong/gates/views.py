"""Gate pages: the guard's gate page (works offline: checks passes in the browser with the
cached keys and revocation list, queues entries and syncs them), its service worker, the
visitor pass issued on the spot, the figures per checkpoint and day, and the medics' triage list."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.web.forms import attempt
from fangkong.web.offline import worker_response, worker_url
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import get_in_scope, has_perm, places_in_scope, public, requires

from . import actions, queries
from .models import CHECKPOINT_KINDS

ASSETS = ["gates/gate.css", "fangkong/passcode.js", "gates/gate.js", "vendor/jsqr/jsQR.js", "fangkong/camera.js"]


def _js_strings() -> dict:
    return {
        "online": _("Online"), "offline": _("Offline"), "waiting": _("waiting to send"),
        "valid": _("Valid"), "validUntil": _("valid until"), "invalid": _("Refused"),
        "green": _("Green"), "yellow": _("Yellow"), "red": _("Red"),
        "resident": _("Resident"), "visitor": _("Visitor"), "vehicle": _("Vehicle"),
        "noKeys": _("No keys yet: connect once to load them"),
        "noCrypto": _("This browser cannot check signatures (needs HTTPS and a current browser)"),
        "recorded": _("Recorded"), "recordedRefused": _("Recorded as refused"),
        "queued": _("Saved on this device; it will be sent when online"),
        "chooseCheckpoint": _("Choose the checkpoint first"),
        "noCamera": _("No camera available: use the scanner field"),
        "signIn": _("Sign in again to send the waiting entries"),
        "rejected": _("rejected by the server"),
        "fever": _("Fever: send to triage"),
        "plateNeeded": _("Enter the licence plate"),
        "tempRange": _("A body temperature lies between 34 and 43 °C"),
        "lastSync": _("last sync"),
        "flagged": _("flagged for review"),
        "keysOutdated": _("Unknown key: connect to the network to update the keys, then scan again"),
        "storageFull": _("The device storage is full: entries are kept only while this page stays open. "
                         "Connect to send them; do not close or reload the page"),
        "reasons": {k: str(v) for k, v in actions.REASONS.items()},
    }


def _closed(place_id: int) -> dict | None:
    shut = actions.closure_of(place_id)
    return {"code": shut.code, "text": shut.text} if shut is not None else None


@require_GET
@requires("gates.enter")
def gate(request):
    places = [{"id": p["id"], "name": p["name"], "code": p["code"],
               # The checkpoint and its ancestors: a visitor pass admits where its host place is one of them.
               "within": [int(seg, 36) for seg in p["path"].strip("/").split("/") if seg],
               # A sealed entrance (command): the page refuses every check-in there, with the reason.
               "closed": _closed(p["id"])}
              for p in actions.guard_places(request.user).values("id", "name", "code", "path")]
    config = {
        "places": places,
        "urls": {"trust": "/api/gates/trust", "batch": "/api/gates/entries/batch", "check": "/api/gates/check",
                 "sw": worker_url(reverse("gates_sw"), cache=SW_CACHE, page=reverse("gates_gate"), assets=ASSETS),
                 "scope": reverse("gates_gate")},
        "fever": str(settings.FEVER_THRESHOLD),
        "refusedColours": sorted(actions.REFUSED_COLOURS),
        "user": request.user.get_username(),
        "t": _js_strings(),
    }
    return render(request, "gates/gate.html", {"config": config, "places": places,
                                               "can_visitor": has_perm(request.user, "gates.visitor")})


SW_CACHE = "fk-gates-v2"


@require_GET
@public("service worker script of the gate page: code only, no data")
def service_worker(request):
    """The shared worker script (fangkong/sw.js), served under /gates/ so that it may control
    the gate page. The page's address, the cache and the assets to keep offline come in its
    query string (the page's config gives the address with them)."""
    return worker_response(reverse("gates_gate"))


# --- Visitor pass on the spot -------------------------------------------------------------

def _host(place, text: str):
    """The host household by (part of) its address within the checkpoint; None if not given."""
    from fangkong.residents.models import Household

    text = (text or "").strip()
    if not text:
        return None
    found = list(Household.objects.filter(place_path__under=place.path, address__icontains=text)[:2])
    if len(found) != 1:
        raise actions.Invalid({"host": _("No single household at this checkpoint matches this address")
                               if not found else _("Several households match: give the full address")})
    return found[0]


@require_POST
@requires("gates.visitor")
def visitor(request):
    """Register a visitor and issue a temporary pass (needs the server); the reply shows its
    QR code and puts the code into the scanner field. The phone is never echoed back."""
    from fangkong.lib.qr import svg as qr_svg

    from fangkong.passes.actions import issue_visitor_pass

    post = request.POST
    place = actions.guard_places(request.user).filter(pk=int_or_none(post.get("place")) or 0).first()

    def issue():
        if place is None:
            raise actions.Invalid({"place": _("Choose the checkpoint first")})
        return issue_visitor_pass(acting_user=request.user, name=post.get("name", ""), phone=post.get("phone", ""),
                                  reason=post.get("reason", ""), host_household=_host(place, post.get("host", "")),
                                  hours=post.get("hours", "").strip() or 4, place=place)

    issued, refused = attempt(issue)
    if refused:
        # 200 so that htmx shows the messages in place (it does not swap error responses).
        return render(request, "gates/_visitor.html", {
            "errors": {k: str(v) for k, v in (refused.errors or {"": refused.reason}).items()}})
    pass_, token = issued
    qr = qr_svg(token, scale=5, border=2, keep=False)
    return render(request, "gates/_visitor.html", {"pass": pass_, "token": token, "qr": qr})


# --- Figures and triage -------------------------------------------------------------------

@require_GET
@requires("gates.view")
def stats(request):
    try:
        day = parse_date(request.GET.get("day") or "") or timezone.localdate()
    except ValueError:  # 2024-02-30
        day = None
    if day is None or not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        return HttpResponseBadRequest(_("Enter a day as YYYY-MM-DD"))
    places = places_in_scope(request.user, "gates.view").filter(kind__in=CHECKPOINT_KINDS)
    place = None
    if request.GET.get("place"):
        place = get_in_scope(places, request.user, "gates.view", pk=int_or_none(request.GET["place"]) or 0)
    rows = queries.stats(request.user, day, place)
    totals = {k: sum(r[k] for r in rows) for k in list(queries.FIGURES) + ["fevers", "total"]}
    return render(request, "gates/stats.html", {
        "day": day, "prev": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1), "rows": rows,
        "totals": totals, "places": places[:200], "place": place})


@require_GET
@requires("clinic.triage")
def triage_list(request):
    """Gate fevers are triaged in the clinic triage's one flow (fangkong.clinic)."""
    return redirect("clinic_queue")
