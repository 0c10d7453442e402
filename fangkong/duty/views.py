"""Pages of people on duty: the volunteer's/cadre's phone home (today's shifts, check-in and
check-out that work offline, the daily health check-in, open slots, other modules' to-dos),
a site's board for its responsible person and the committee, a shift's page with the
suggestion, the after-action review, the sending organization's view of its own people, and
a grid's roster and teams."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date as _parse_date, parse_datetime as _parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.lib import registry
from fangkong.lib.workflow import Invalid, int_or_none
from fangkong.places.access import get_in_scope, has_perm, may, public, requires, scope
from fangkong.places.models import Organization, Place
from fangkong.web.forms import attempt
from fangkong.web.offline import worker_response, worker_url

from . import actions, queries
from .models import (SYMPTOMS, Assignment, Deployment, GridPosition, HealthCheck, SentDeployment, Shift, StreetSetting, Team,
                     TeamKind)

A = Assignment.State


def parse_date(raw):
    try:
        return _parse_date(raw)
    except (ValueError, TypeError):
        return None


def parse_datetime(raw):
    try:
        return _parse_datetime(raw)
    except (ValueError, TypeError):
        return None


ASSETS = ["duty/duty.css", "duty/duty.js", "vendor/jsqr/jsQR.js", "fangkong/camera.js"]
POST_QR_PREFIX = "fkpost:"  # the post's QR code reads "fkpost:<the shift's post code>" (duty.js strips it)


def _refused(request, refused, back: str):
    for m in refused.messages:
        messages.error(request, m)
    return render(request, "duty/refused.html", {"back": back}, status=refused.status)


def _sites(user, perm="duty.view"):
    return scope(Organization.objects.filter(kind="site"), user, perm)


# --- The phone home ------------------------------------------------------------------------

def _js_strings() -> dict:
    return {
        "online": _("Online"), "offline": _("Offline"), "waiting": _("waiting to send"),
        "checkedIn": _("Checked in"), "checkedOut": _("Checked out"),
        "queued": _("Saved on this device; it will be sent when online"),
        "rejected": _("rejected by the server"), "signIn": _("Sign in again to send the waiting entries"),
        "late": _("late"), "checkOut": _("Check out before leaving"),
        "noShift": _("No shift to check in to or out of now"),
        "workLog": _("Work log (optional)"), "today": _("Today"), "enterTemperature": _("Enter the temperature"),
        "health": {k: str(v) for k, v in HealthCheck.State.choices},
        "healthQueued": _("saved on this device; it will be sent when online"),
        "noCamera": _("No camera available: type the post's code"),
    }


@require_GET
@requires("duty.self")
def home(request):
    user = request.user
    now = timezone.now()
    today = timezone.localdate()
    day_end = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))
    mine = Assignment.objects.filter(user=user).select_related("shift", "site")
    today_list = list(mine.filter(shift__ends_at__gt=now - dt.timedelta(hours=actions.AUTO_CLOSE_HOURS),
                                  shift__starts_at__lt=day_end).exclude(state=A.MISSED).order_by("shift__starts_at"))
    later = list(mine.filter(shift__starts_at__gte=day_end, state=A.ASSIGNED).order_by("shift__starts_at")[:10])
    past = list(mine.filter(shift__starts_at__gte=now - dt.timedelta(days=7), shift__ends_at__lte=now).order_by(
        "-shift__starts_at")[:21])
    deps = list(Deployment.objects.filter(user=user, state=Deployment.State.ACTIVE).select_related("site", "sender"))
    open_shifts = []
    site_ids = [d.site_id for d in deps]
    if site_ids:
        taken = set(mine.exclude(state=A.REMOVED).values_list("shift_id", flat=True))
        for s in Shift.objects.filter(site_id__in=site_ids, open=True, starts_at__gt=now).order_by("starts_at")[:20]:
            free = s.slots - s.assignments.exclude(state=A.REMOVED).count()
            if free > 0 and s.pk not in taken:
                open_shifts.append({"shift": s, "free": free})
    health_today = HealthCheck.objects.filter(user=user, day=today).order_by("-reported_at").first()
    unwell = actions.is_unwell(user)
    week_hours = queries.hours_worked([user.pk], start=queries.week_start(now), end=now).get(user.pk, 0.0)
    config = {
        "user": user.get_username(),
        "urls": {"batch": "/api/duty/checks/batch",
                 "sw": worker_url(reverse("duty_sw"), cache=SW_CACHE, page=reverse("duty_home"), assets=ASSETS),
                 "scope": reverse("duty_home")},
        "t": _js_strings(),
    }
    others = [t for t in registry.todos(user) if not t.key.startswith("duty.")]
    return render(request, "duty/home.html", {
        "today": today_list, "later": later, "past": past, "deployments": deps, "open_shifts": open_shifts, "health_today": health_today,
        "unwell": unwell, "week_hours": round(week_hours, 1), "config": config, "symptoms": SYMPTOMS, "others": others,
    })


SW_CACHE = "fk-duty-v3"


@require_GET
@public("service worker script of the duty page: code only, no data")
def service_worker(request):
    return worker_response(reverse("duty_home"))


@require_POST
@requires("duty.self")
def check(request):
    """Check in or out without the page's script (the script sends through the API)."""
    post = request.POST
    _a, refused = attempt(lambda: actions.check(acting_user=request.user, assignment_id=post.get("assignment"),
                                                direction=post.get("direction", ""), client_id=post.get("client_id", ""),
                                                note=post.get("note", "")))
    if refused:
        return _refused(request, refused, reverse("duty_home"))
    messages.success(request, _("Checked in") if post.get("direction") == "in" else _("Checked out"))
    return redirect("duty_home")


@require_POST
@requires("duty.self")
def health(request):
    post = request.POST
    hc, refused = attempt(lambda: actions.health_checkin(acting_user=request.user, temperature=post.get("temperature"),
                                                         symptoms=post.getlist("symptoms"),
                                                         client_id=post.get("client_id", "")))
    if refused:
        return _refused(request, refused, reverse("duty_home"))
    if hc.state == HealthCheck.State.UNWELL:
        messages.warning(request, _("You are taken off your shifts until a medic clears you. Rest, and call the medic."))
    else:
        messages.success(request, _("Health check-in recorded"))
    return redirect("duty_home")


@require_POST
@requires("duty.self")
def needs(request):
    _n, refused = attempt(lambda: actions.raise_needs(acting_user=request.user, needs=request.POST.get("needs", "")))
    if refused:
        return _refused(request, refused, reverse("duty_home"))
    messages.success(request, _("Your needs are passed on"))
    return redirect("duty_home")


@require_POST
@requires("duty.self")
def take(request):
    """Take a free place on an open shift of a site one is deployed to."""
    pk = int_or_none(request.POST.get("shift")) or 0
    sites = Deployment.objects.filter(user=request.user, state=Deployment.State.ACTIVE).values("site_id")
    shift = Shift.objects.filter(pk=pk, site_id__in=sites).first()
    if shift is None:
        return _refused(request, _Refusal(400, {"shift": _("No such open shift at your sites")}), reverse("duty_home"))
    _a, refused = attempt(lambda: actions.take_slot(acting_user=request.user, shift=shift))
    if refused:
        return _refused(request, refused, reverse("duty_home"))
    messages.success(request, _("The shift is yours"))
    return redirect("duty_home")


class _Refusal:
    def __init__(self, status, errors):
        self.status, self.messages = status, [str(m) for m in errors.values()]


# --- Sites ---------------------------------------------------------------------------------------

@require_GET
@requires("duty.view")
def sites(request):
    user = request.user
    rows = []
    now = timezone.now()
    for site in _sites(user).select_related("place")[:200]:
        on = Assignment.objects.filter(site=site, state=A.CHECKED_IN).count()
        rows.append({"site": site, "on_duty": on,
                     "deployed": Deployment.objects.filter(site=site, state=Deployment.State.ACTIVE).count()})
    unwell = scope(HealthCheck.objects.filter(state=HealthCheck.State.UNWELL), user, "duty.view").select_related("user", "site")
    return render(request, "duty/sites.html", {"rows": rows, "unwell": unwell[:100], "now": now,
                                               "can_clear": has_perm(user, "duty.clear")})


@require_GET
@requires("duty.view", obj=Organization)
def site_board(request, pk):
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.view", pk=pk)
    day = parse_date(request.GET.get("day") or "") or timezone.localdate()
    now = timezone.now()
    shifts = []
    missing = []
    for s in queries.site_day(site, day):
        people = []
        for a in s.assignments.all():
            state = queries.person_state(a, now)
            people.append({"a": a, "state": state, "name": a.user.get_full_name() or a.user.get_username()})
            if state == "missing":
                missing.append(people[-1])
        free = s.slots - sum(1 for p in people if p["a"].state != A.REMOVED)
        proposal = []
        if free > 0 and s.ends_at > now:
            users = get_user_model().objects.in_bulk(queries.suggest(s))
            proposal = [users[k] for k in users]
        shifts.append({"shift": s, "people": people, "free": free, "proposal": proposal})
    deployed = Deployment.objects.filter(site=site, state=Deployment.State.ACTIVE)
    rows = queries.people_figures(deployed, now)
    return render(request, "duty/site.html", {
        "site": site, "day": day, "prev": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1),
        "shifts": shifts, "missing": missing, "rows": rows, "totals": queries.totals(rows),
        "can_manage": may(request.user, "duty.manage", site), "posts": Shift.Post.choices,
        "kinds": Deployment.Kind.choices,
    })


def _when(raw, day_raw=None):
    value = parse_datetime(raw or "") if raw else None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@require_POST
@requires("duty.manage", obj=Organization)
def shift_new(request, pk):
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.manage", pk=pk)
    post = request.POST
    back = reverse("duty_site", args=[site.pk])

    def act():
        return actions.create_shift(acting_user=request.user, site=site, post=post.get("post", ""),
                                    starts_at=_when(post.get("starts_at")), ends_at=_when(post.get("ends_at")),
                                    slots=int_or_none(post.get("slots")) or 0, group=post.get("group", ""),
                                    post_name=post.get("post_name", ""), open=bool(post.get("open")))

    shift, refused = attempt(act)
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Shift added"))
    return redirect(back + f"?day={timezone.localtime(shift.starts_at).date():%Y-%m-%d}")


@require_POST
@requires("duty.manage", obj=Organization)
def fill_week(request, pk):
    """Fill the week (of the day given, else this week) with the suggestion: all or a
    report of the shifts no one can take (409, nothing stored), or with `partial` what can
    be filled and the report of the rest."""
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.manage", pk=pk)
    day = parse_date(request.POST.get("week") or "") or timezone.localdate()
    back = reverse("duty_site", args=[site.pk]) + f"?day={day:%Y-%m-%d}"
    result = actions.fill_week(acting_user=request.user, site=site, monday=day, partial=bool(request.POST.get("partial")))
    shifts = Shift.objects.in_bulk(list(result["short"]) + list(result["refused"]))
    report = [_("%(shift)s: %(n)s place(s) no one can take") % {"shift": _shift_name(shifts[k]), "n": n}
              for k, n in result["short"].items()]
    report += [f"{_shift_name(shifts[k])}: {why}" for k, why in result["refused"].items()]
    if not result["stored"]:
        for line in [_("Nothing was filled: not every place can be taken")] + report:
            messages.error(request, line)
        return render(request, "duty/refused.html", {"back": back}, status=409)
    messages.success(request, _("%(n)s place(s) filled") % {"n": result["assigned"]})
    for line in report:
        messages.warning(request, line)
    return redirect(back)


def _shift_name(shift) -> str:
    return f"{timezone.localtime(shift.starts_at):%m-%d %H:%M} {shift.post_label}"


@require_POST
@requires("duty.manage", obj=Organization)
def deploy(request, pk):
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.manage", pk=pk)
    post = request.POST
    back = reverse("duty_site", args=[site.pk])
    user = get_user_model().objects.filter(username=(post.get("username") or "").strip(), is_active=True).first()
    sender = Organization.objects.filter(code=(post.get("sender") or "").strip()).first() if post.get("sender") else None
    if user is None:
        return _refused(request, _Refusal(400, {"username": _("No active account with this user name")}), back)
    if post.get("sender") and sender is None:
        return _refused(request, _Refusal(400, {"sender": _("No organization with this code")}), back)
    starts = parse_date(post.get("starts_on") or "") or timezone.localdate()
    ends = parse_date(post.get("ends_on") or "") if post.get("ends_on") else None
    _d, refused = attempt(lambda: actions.deploy(
        acting_user=request.user, user=user, site=site, sender=sender, kind=post.get("kind") or "volunteer",
        starts_on=starts, ends_on=ends, family_care=bool(post.get("family_care")),
        health_limited=bool(post.get("health_limited")), weekly_limit=int_or_none(post.get("weekly_limit")) or 48))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Deployed"))
    return redirect(back)


@require_GET
@requires("duty.view", obj=Shift)
def shift_detail(request, pk):
    shift = get_in_scope(Shift.objects.select_related("site"), request.user, "duty.view", pk=pk)
    people = [{"a": a, "state": queries.person_state(a, timezone.now())}
              for a in shift.assignments.select_related("user")]
    users = get_user_model().objects.in_bulk(queries.suggest(shift))
    from fangkong.lib.qr import svg as qr_svg

    qr = qr_svg(POST_QR_PREFIX + shift.post_code, scale=4, border=2)
    return render(request, "duty/shift.html", {"shift": shift, "people": people, "proposal": list(users.values()), "qr": qr,
                                               "can_manage": may(request.user, "duty.manage", shift)})


@require_POST
@requires("duty.manage", obj=Shift)
def assign(request, pk):
    shift = get_in_scope(Shift.objects.all(), request.user, "duty.manage", pk=pk)
    back = reverse("duty_shift", args=[shift.pk])
    user = get_user_model().objects.filter(pk=int_or_none(request.POST.get("user")) or 0, is_active=True).first() or \
        get_user_model().objects.filter(username=(request.POST.get("username") or "").strip() or None).first()
    if user is None:
        return _refused(request, _Refusal(400, {"user": _("Choose a person deployed to this site")}), back)
    how = Assignment.How.REPLACEMENT if request.POST.get("replacement") else Assignment.How.ASSIGNED
    _a, refused = attempt(lambda: actions.assign(acting_user=request.user, shift=shift, user=user, how=how))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Assigned"))
    return redirect(back)


@require_POST
@requires("duty.manage", obj=Assignment)
def remove(request, pk):
    a = get_in_scope(Assignment.objects.all(), request.user, "duty.manage", pk=pk)
    back = reverse("duty_shift", args=[a.shift_id])
    _r, refused = attempt(lambda: actions.remove(acting_user=request.user, assignment=a))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Taken off the shift"))
    return redirect(back)


@require_GET
@requires("duty.view", obj=Organization)
def review(request, pk):
    """The site's after-action review (复盘): every shift's work log, newest first."""
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.view", pk=pk)
    notes = Assignment.objects.filter(site=site).exclude(note="").select_related("shift", "user").order_by(
        "-shift__starts_at")[:300]
    flagged = Assignment.objects.filter(site=site).filter(late=True).count(), Assignment.objects.filter(
        site=site, auto_closed=True).count(), Assignment.objects.filter(site=site, state=A.MISSED).count()
    return render(request, "duty/review.html", {"site": site, "notes": notes, "late": flagged[0], "auto_closed": flagged[1],
                                                "missed": flagged[2]})


@require_POST
@requires("duty.clear", obj=HealthCheck)
def health_clear(request, pk):
    hc = get_in_scope(HealthCheck.objects.all(), request.user, "duty.clear", pk=pk)
    _r, refused = attempt(lambda: actions.clear_health(acting_user=request.user, check=hc, note=request.POST.get("note", "")))
    if refused:
        return _refused(request, refused, reverse("duty_sites"))
    messages.success(request, _("Cleared for duty"))
    return redirect("duty_sites")


# --- The sending organization --------------------------------------------------------------------

@require_GET
@requires("duty.sender")
def sender(request):
    deps = scope(SentDeployment.objects.filter(state=Deployment.State.ACTIVE), request.user, "duty.sender")
    rows = queries.people_figures(deps)
    return render(request, "duty/sender.html", {"rows": rows, "totals": queries.totals(rows)})


# --- Grid roster and teams -------------------------------------------------------------------------

@require_GET
@requires("duty.roster_view")
def grids(request):
    """The grids in one's area with their roster and teams counted."""
    from django.db.models import Count

    qs = scope(Place.objects.filter(kind="grid"), request.user, "duty.roster_view").select_related("parent")[:500]
    rows = list(qs)
    counts = dict(GridPosition.objects.filter(grid__in=rows).values_list("grid_id").annotate(n=Count("id")).order_by())
    teams = dict(Team.objects.filter(place__in=rows).values_list("place_id").annotate(n=Count("id")).order_by())
    return render(request, "duty/grids.html", {"rows": [{"grid": g, "positions": counts.get(g.pk, 0),
                                                         "teams": teams.get(g.pk, 0)} for g in rows],
                                               "can_import": has_perm(request.user, "duty.roster_manage")})


@require_GET
@requires("duty.roster_view", obj=Place)
def grid(request, pk):
    grid = get_in_scope(Place.objects.filter(kind="grid"), request.user, "duty.roster_view", pk=pk)
    positions = list(queries.roster(grid))
    teams = Team.objects.filter(place_path__under=grid.path).select_related("kind", "place").prefetch_related("members")
    from fangkong.places.models import Grant

    granted = set(Grant.objects.filter(place=grid, revoked_at__isnull=True, role="grid_worker").values_list("user_id", flat=True))
    for p in positions:
        p.needs_grant = p.user_id is not None and p.role == GridPosition.Role.WORKER and p.user_id not in granted
    return render(request, "duty/grid.html", {"grid": grid, "positions": positions, "teams": teams,
                                              "kinds": TeamKind.objects.all(),
                                              "places": Place.objects.filter(path__startswith=grid.path, kind__in=["grid", "compound"]),
                                              "roles": GridPosition.Role.choices,
                                              "can_manage": may(request.user, "duty.roster_manage", grid),
                                              "can_grant": may(request.user, "accounts.manage", grid)})


@require_POST
@requires("duty.roster_manage", obj=Place)
def position_add(request, pk):
    grid = get_in_scope(Place.objects.filter(kind="grid"), request.user, "duty.roster_manage", pk=pk)
    post = request.POST
    back = reverse("duty_grid", args=[grid.pk])
    user = None
    if (post.get("username") or "").strip():
        user = get_user_model().objects.filter(username=post["username"].strip()).first()
        if user is None:
            return _refused(request, _Refusal(400, {"username": _("No account with this user name")}), back)
    _p, refused = attempt(lambda: actions.add_position(
        acting_user=request.user, grid=grid, role=post.get("role", ""), name=post.get("name", ""), user=user,
        starts_on=parse_date(post.get("starts_on") or "") if post.get("starts_on") else None,
        ends_on=parse_date(post.get("ends_on") or "") if post.get("ends_on") else None))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Added to the roster"))
    return redirect(back)


@requires("duty.roster_manage")
def roster_import(request):
    """Import grid rosters from a spreadsheet (GET: the form)."""
    import tempfile

    if request.method not in ("GET", "POST"):
        from django.http import HttpResponseNotAllowed

        return HttpResponseNotAllowed(["GET", "POST"])
    errors, status = [], 200
    if request.method == "POST":
        from . import roster

        upload = request.FILES.get("file")
        if upload is None:
            errors, status = [_("Choose the file")], 400
        else:
            suffix = Path(upload.name).suffix.lower()[:8]
            with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
                for chunk in upload.chunks():
                    tmp.write(chunk)
                tmp.flush()
                n, refused = attempt(lambda: roster.import_roster(acting_user=request.user, path=Path(tmp.name),
                                                                  file_name=upload.name))
            if refused:
                status = refused.status
                errors = [m for v in refused.errors.values() for m in (v if isinstance(v, list) else [v])] or refused.messages
            else:
                messages.success(request, _("%(n)s roster positions imported") % {"n": n})
                return redirect("duty_roster_import")
    return render(request, "duty/roster_import.html", {"errors": errors}, status=status)


@require_POST
@requires("duty.roster_manage", obj=Place)
def team_new(request, pk):
    """A team attached to the grid or one of its compounds."""
    grid = get_in_scope(Place.objects.filter(kind="grid"), request.user, "duty.roster_manage", pk=pk)
    post = request.POST
    back = reverse("duty_grid", args=[grid.pk])
    kind = TeamKind.objects.filter(pk=int_or_none(post.get("kind")) or 0).first()
    place = Place.objects.filter(pk=int_or_none(post.get("place")) or grid.pk, path__startswith=grid.path).first()
    if kind is None or place is None:
        return _refused(request, _Refusal(400, {"kind": _("Choose the kind of team and where it attaches")}), back)
    _t, refused = attempt(lambda: actions.create_team(acting_user=request.user, kind=kind, name=post.get("name", ""),
                                                      place=place, leader_name=post.get("leader_name", "")[:60]))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Team created"))
    return redirect(back)


@require_POST
@requires("duty.roster_manage", obj=Team)
def member_add(request, pk):
    team = get_in_scope(Team.objects.all(), request.user, "duty.roster_manage", pk=pk)
    post = request.POST
    back = reverse("duty_grid", args=[team.place.pk if team.place.kind == "grid" else team.place.parent_id])
    _m, refused = attempt(lambda: actions.add_member(acting_user=request.user, team=team, name=post.get("name", ""),
                                                     zone=post.get("zone", ""), model_post=post.get("model_post", "")))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Team member added"))
    return redirect(back)


# --- What a street allows, and the police's temporary passes -------------------------------------

@require_GET
@requires("duty.street_settings")
def streets(request):
    """The streets in the coordinator's scope with what each allows its people on duty."""
    rows = list(scope(Place.objects.filter(kind="street"), request.user, "duty.street_settings").order_by("path")[:100])
    settings_ = {s.street_id: s for s in StreetSetting.objects.filter(street__in=rows)}
    return render(request, "duty/streets.html", {"rows": [{"street": st, "setting": settings_.get(st.pk)} for st in rows],
                                                 "max_hours": actions.POLICE_PASS_MAX_HOURS})


@require_POST
@requires("duty.street_settings")
def street_settings(request):
    post = request.POST
    back = reverse("duty_streets")
    # A reference in the body: missing and out of scope are refused alike.
    street = scope(Place.objects.filter(kind="street"), request.user, "duty.street_settings").filter(
        pk=int_or_none(post.get("street")) or 0).first()
    _s, refused = attempt(lambda: actions.set_street_settings(
        acting_user=request.user, street=street, police_passes=bool(post.get("police_passes")),
        police_pass_hours=post.get("police_pass_hours", "")))
    if refused:
        return _refused(request, refused, back)
    messages.success(request, _("Settings saved"))
    return redirect(back)


def _police_places(user):
    return scope(Place.objects.filter(kind__in=actions.POLICE_PASS_PLACE_KINDS), user, "duty.police_pass").order_by("path")


@require_GET
@requires("duty.police_pass")
def police(request):
    """The police officer's places where a temporary pass may be issued (where the street
    allows it) and the passes the officer issued in the last 3 days."""
    from fangkong.passes.models import Pass

    places = list(_police_places(request.user).filter(kind__in=["community", "compound", "checkpoint"])[:200])
    allowed = {p.pk: queries.police_may_issue(p) for p in places}
    issued = Pass.objects.filter(issued_by=request.user, kind=Pass.Kind.VISITOR,
                                 valid_from__gte=timezone.now() - dt.timedelta(days=3)).select_related("place")[:50]
    return render(request, "duty/police.html", {"places": [{"place": p, "allowed": allowed[p.pk]} for p in places],
                                                "issued": issued})


def _host(place, text: str):
    """The host household by (part of) its address within the place; None if not given."""
    from fangkong.residents.models import Household

    text = (text or "").strip()
    if not text:
        return None
    found = list(Household.objects.filter(place_path__under=place.path, address__icontains=text)[:2])
    if len(found) != 1:
        raise Invalid({"host": _("No single household there matches this address") if not found
                       else _("Several households match: give the full address")})
    return found[0]


@requires("duty.police_pass", obj=Place)
def police_pass(request, pk):
    """Issue a temporary pass valid at the place (GET: the form, or why the street does not
    allow it). The pass is the passes module's visitor pass; its QR code is shown once."""
    from fangkong.lib.qr import svg as qr_svg

    if request.method not in ("GET", "POST"):
        from django.http import HttpResponseNotAllowed

        return HttpResponseNotAllowed(["GET", "POST"])
    place = get_in_scope(_police_places(request.user), request.user, "duty.police_pass", pk=pk)
    setting = queries.street_setting(place)
    ctx = {"place": place, "allowed": bool(setting and setting.police_passes),
           "max_hours": setting.police_pass_hours if setting else 0, "post": request.POST}
    if request.method == "POST":
        post = request.POST
        issued, refused = attempt(lambda: actions.police_issue_pass(
            acting_user=request.user, place=place, name=post.get("name", ""), phone=post.get("phone", ""),
            reason=post.get("reason", ""), hours=post.get("hours", "").strip(),
            host_household=_host(place, post.get("host", "")) if ctx["allowed"] else None))
        if refused:
            ctx["errors"] = refused.errors or {"": refused.reason}
            return render(request, "duty/police_pass.html", ctx, status=refused.status)
        pass_, token = issued
        ctx.update({"pass": pass_, "token": token, "qr": qr_svg(token, scale=5, border=2, keep=False)})
    return render(request, "duty/police_pass.html", ctx)
