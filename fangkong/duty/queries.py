"""Reads of people on duty: hours worked, the schedule suggestion, who is on duty where (for
other modules), a site's board and a sending organization's figures, a grid's roster."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.utils import timezone

from .models import Assignment, Deployment, GridPosition, HealthCheck, Shift, StreetSetting

A = Assignment.State
H = HealthCheck.State


# --- Hours ---------------------------------------------------------------------------------

def hours_worked(user_ids, *, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> dict[int, float]:
    """Hours on duty per user between start and end, from check-ins and check-outs (never
    from the plan); a shift checked into and not yet left counts up to now."""
    now = now or timezone.now()
    out: dict[int, float] = defaultdict(float)
    rows = Assignment.objects.filter(user_id__in=list(user_ids), checkin_at__lt=end).filter(
        Q(checkout_at__gt=start) | Q(state=A.CHECKED_IN)).values_list("user_id", "checkin_at", "checkout_at")
    for uid, cin, cout in rows:
        cout = cout or min(now, end)
        span = (min(cout, end) - max(cin, start)).total_seconds() / 3600
        if span > 0:
            out[uid] += span
    return dict(out)


def week_start(now: dt.datetime | None = None) -> dt.datetime:
    local = timezone.localtime(now or timezone.now())
    monday = local.date() - dt.timedelta(days=local.weekday())
    return timezone.make_aware(dt.datetime.combine(monday, dt.time.min))


# --- The suggestion --------------------------------------------------------------------------
# Pure data in, pure data out (tested on a fixed roster with a known best answer): each slot
# of the shifts in time order goes to the eligible person with the fewest hours (worked in
# the 7 days before + planned so far), ties to the lower key. Eligible: not unwell, no
# overlapping shift, within the weekly limit, and the declared constraints (family care:
# 08:00–20:00 on one day; health: 4 hours at most).

@dataclass
class Candidate:
    key: int
    hours: float  # worked in the 7 days before the first slot
    weekly_limit: int = 48
    family_care: bool = False
    health_limited: bool = False
    unwell: bool = False
    busy: list = field(default_factory=list)  # [(start, end)] of shifts already held
    deployed: tuple = (None, None)  # (first day, last day) of the deployment; None: open


@dataclass
class Slot:
    key: int
    start: dt.datetime
    end: dt.datetime
    needed: int = 1

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _eligible(c: Candidate, s: Slot) -> bool:
    if c.unwell or any(b0 < s.end and s.start < b1 for b0, b1 in c.busy):
        return False
    if c.hours + s.hours > c.weekly_limit:
        return False
    start, end = timezone.localtime(s.start), timezone.localtime(s.end)
    first, last = c.deployed
    if (first and start.date() < first) or (last and start.date() > last):
        return False
    if c.family_care and (start.time() < dt.time(8) or end.time() > dt.time(20) or end.date() != start.date()):
        return False
    if c.health_limited and s.hours > 4:
        return False
    return True


def balance(slots: list[Slot], candidates: list[Candidate]) -> dict[int, list[int]]:
    """{slot key: [candidate keys]}: the suggestion (see above). A slot no one can take
    gets fewer keys than it needs."""
    out: dict[int, list[int]] = {}
    for s in sorted(slots, key=lambda s: (s.start, s.key)):
        chosen = []
        for _i in range(s.needed):
            pool = [c for c in candidates if c.key not in chosen and _eligible(c, s)]
            if not pool:
                break
            best = min(pool, key=lambda c: (c.hours, c.key))
            best.hours += s.hours
            best.busy.append((s.start, s.end))
            chosen.append(best.key)
        out[s.key] = chosen
    return out


def candidates_for(site_id: int, start: dt.datetime, end: dt.datetime, *, exclude_shift=None) -> list[Candidate]:
    """The people deployed to the site over [start, end), as Candidates: hours worked in the
    7 days before `start`, planned hours still ahead of them, their shifts held, health."""
    day0, day1 = timezone.localtime(start).date(), timezone.localtime(end).date()
    deps = list(Deployment.objects.filter(site_id=site_id, state=Deployment.State.ACTIVE, starts_on__lte=day1).exclude(
        ends_on__lt=day0).order_by("user_id", "-starts_on"))
    deps = list({d.user_id: d for d in reversed(deps)}.values())  # one per person: the latest
    uids = [d.user_id for d in deps]
    worked = hours_worked(uids, start=start - dt.timedelta(days=7), end=start)
    unwell = set(HealthCheck.objects.filter(user_id__in=uids, state=H.UNWELL).values_list("user_id", flat=True))
    busy: dict[int, list] = defaultdict(list)
    planned: dict[int, float] = defaultdict(float)
    held = Assignment.objects.filter(user_id__in=uids, shift__ends_at__gt=start - dt.timedelta(days=1),
                                     shift__starts_at__lt=end + dt.timedelta(days=1)).exclude(state__in=[A.REMOVED, A.MISSED])
    if exclude_shift is not None:
        held = held.exclude(shift=exclude_shift)
    for uid, s0, s1, state in held.values_list("user_id", "shift__starts_at", "shift__ends_at", "state"):
        busy[uid].append((s0, s1))
        if state == A.ASSIGNED and s0 >= start:
            planned[uid] += (s1 - s0).total_seconds() / 3600
    return [Candidate(key=d.user_id, hours=worked.get(d.user_id, 0.0) + planned[d.user_id], weekly_limit=d.weekly_limit,
                      family_care=d.family_care, health_limited=d.health_limited, unwell=d.user_id in unwell,
                      busy=busy[d.user_id], deployed=(d.starts_on, d.ends_on)) for d in deps]


def week_shifts(site, monday: dt.date, now: dt.datetime | None = None):
    """The site's shifts starting in the week from `monday` and not yet begun."""
    start = timezone.make_aware(dt.datetime.combine(monday, dt.time.min))
    return Shift.objects.filter(site=site, starts_at__gte=max(start, now or timezone.now()),
                                starts_at__lt=start + dt.timedelta(days=7)).order_by("starts_at", "id")


def suggest_week(site, monday: dt.date, now: dt.datetime | None = None) -> tuple[dict[int, list[int]], dict[int, int]]:
    """The suggestion for every free place of the site's shifts in the week from `monday`
    (not yet begun), balanced across the whole week: ({shift id: [user ids]}, {shift id:
    places no one can take}). The same rule and constraints as one shift's suggestion."""
    shifts = list(week_shifts(site, monday, now))
    if not shifts:
        return {}, {}
    taken: dict[int, set] = defaultdict(set)
    for sid, uid in Assignment.objects.filter(shift__in=shifts).exclude(state=A.REMOVED).values_list("shift_id", "user_id"):
        taken[sid].add(uid)
    slots = [Slot(key=s.pk, start=s.starts_at, end=s.ends_at, needed=s.slots - len(taken[s.pk]))
             for s in shifts if s.slots > len(taken[s.pk])]
    cands = candidates_for(site.pk, shifts[0].starts_at, max(s.ends_at for s in shifts))
    plan = balance(slots, cands)
    short = {sl.key: sl.needed - len(plan.get(sl.key, [])) for sl in slots if len(plan.get(sl.key, [])) < sl.needed}
    return plan, short


def suggest(shift: Shift) -> list[int]:
    """User ids proposed for the free places of `shift` (fewest hours first, constraints
    honoured)."""
    taken = Assignment.objects.filter(shift=shift).exclude(state=A.REMOVED)
    free = shift.slots - taken.count()
    if free <= 0:
        return []
    on = set(taken.values_list("user_id", flat=True))
    cands = [c for c in candidates_for(shift.site_id, shift.starts_at, shift.ends_at, exclude_shift=shift) if c.key not in on]
    return balance([Slot(key=shift.pk, start=shift.starts_at, end=shift.ends_at, needed=free)], cands)[shift.pk]


# --- Who is on duty (for other modules) -------------------------------------------------------

def _assignments_at(site=None, sites=None, place_path: str = "", post: str = ""):
    qs = Assignment.objects.all()
    if site is not None:
        qs = qs.filter(site=site)
    if sites is not None:
        qs = qs.filter(site__in=sites)
    if place_path:
        qs = qs.filter(place_path__under=place_path)
    if post:
        qs = qs.filter(shift__post=post)
    return qs


def on_duty(*, site=None, sites=None, place_path: str = "", post: str = "", at: dt.datetime | None = None,
            planned: bool = False):
    """The users on duty at a site (an Organization of kind site), at any of `sites` (ids or
    a queryset of sites) or under a place path at `at` (default now): checked in and not
    yet out; with planned=True also those assigned to a shift running then (not yet checked
    in). `post` keeps the shifts of one post (the hotline's: "hotline"). Other modules
    (services' deliverers and hotline, supplies, command, clinic triage) call this to find
    whom to give a task: it reads no grants, the caller decides what the user may see."""
    from django.contrib.auth import get_user_model

    at = at or timezone.now()
    qs = _assignments_at(site, sites, place_path, post)
    now_in = Q(state=A.CHECKED_IN, checkin_at__lte=at)
    if planned:
        now_in |= Q(state=A.ASSIGNED, shift__starts_at__lte=at, shift__ends_at__gt=at)
    return get_user_model().objects.filter(pk__in=qs.filter(now_in).values("user_id"))


def next_on_duty(*, site=None, sites=None, place_path: str = "", post: str = "", at: dt.datetime | None = None):
    """The next shift start after `at` (default now) with someone assigned, and the users
    assigned to the shifts starting then: (start, users), (None, no users) when none is
    planned. Same filters as on_duty."""
    from django.contrib.auth import get_user_model

    at = at or timezone.now()
    qs = _assignments_at(site, sites, place_path, post).filter(state=A.ASSIGNED, shift__starts_at__gt=at)
    start = qs.order_by("shift__starts_at").values_list("shift__starts_at", flat=True).first()
    users = get_user_model().objects.filter(pk__in=qs.filter(shift__starts_at=start).values("user_id")) if start else \
        get_user_model().objects.none()
    return start, users


# --- What a street allows ----------------------------------------------------------------------

def street_setting(place) -> StreetSetting | None:
    """The settings of the street `place` lies in (None: the street set nothing, so nothing
    is allowed)."""
    from fangkong.places.access import ancestor_paths

    return StreetSetting.objects.filter(place_path__in=ancestor_paths(place.path)).select_related("street").first()


def police_may_issue(place) -> bool:
    setting = street_setting(place)
    return bool(setting and setting.police_passes)


# --- The grid roster and escalation ------------------------------------------------------------

def roster(grid, on: dt.date | None = None):
    on = on or timezone.localdate()
    return GridPosition.objects.filter(grid=grid).filter(Q(starts_on__isnull=True) | Q(starts_on__lte=on)).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on)).select_related("user")


def escalation(place_path: str, on: dt.date | None = None) -> list[list]:
    """Whom an overdue task in the place at `place_path` escalates to, in order: the
    accounts of its grid's head(s), then of its grid's responsible leader(s) (the roster in
    force that day). [] when the place lies in no grid with a roster. For inflow reviews,
    census follow-ups and declarations that wait too long."""
    from fangkong.places.access import ancestor_paths
    from fangkong.places.models import Place

    grid = Place.objects.filter(kind="grid", path__in=ancestor_paths(place_path)).first() if place_path else None
    if grid is None:
        return []
    rows = list(roster(grid, on).filter(user__isnull=False, user__is_active=True))
    return [[p.user for p in rows if p.role == role] for role in (GridPosition.Role.HEAD, GridPosition.Role.LEADER)]


# --- Boards and figures --------------------------------------------------------------------------

def person_state(a: Assignment, now: dt.datetime) -> str:
    """What the board says of one assignment now: on_duty, done, missing (the start passed
    without check-in), upcoming, missed, removed."""
    from .actions import LATE_MINUTES

    if a.state == A.CHECKED_IN:
        return "on_duty"
    if a.state == A.CHECKED_OUT:
        return "done"
    if a.state in (A.MISSED, A.REMOVED):
        return a.state
    if now > a.shift.starts_at + dt.timedelta(minutes=LATE_MINUTES):
        return "missing"
    return "upcoming"


def site_day(site, day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return Shift.objects.filter(site=site, starts_at__lt=start + dt.timedelta(days=1), ends_at__gt=start).prefetch_related(
        "assignments__user")


def people_figures(deployments, now: dt.datetime | None = None) -> list[dict]:
    """Per deployed person: on duty now, late check-ins this week, hours this week, health,
    needs: the sending organization's real-time view and the site's."""
    now = now or timezone.now()
    deployments = list(deployments.select_related("user", "site"))
    uids = [d.user_id for d in deployments]
    week0 = week_start(now)
    hours = hours_worked(uids, start=week0, end=now, now=now)
    on = set(Assignment.objects.filter(user_id__in=uids, state=A.CHECKED_IN).values_list("user_id", flat=True))
    late = defaultdict(int)
    for uid in Assignment.objects.filter(user_id__in=uids, late=True, checkin_at__gte=week0).values_list("user_id", flat=True):
        late[uid] += 1
    health = {}
    for hc in HealthCheck.objects.filter(user_id__in=uids).order_by("user_id", "-reported_at"):
        health.setdefault(hc.user_id, hc)
    unwell = set(HealthCheck.objects.filter(user_id__in=uids, state=H.UNWELL).values_list("user_id", flat=True))
    out = []
    for d in deployments:
        hc = health.get(d.user_id)
        out.append({"deployment": d, "user": d.user, "name": d.user.get_full_name() or d.user.get_username(),
                    "site": d.site, "on_duty": d.user_id in on, "late": late[d.user_id],
                    "hours": round(hours.get(d.user_id, 0.0), 1), "unwell": d.user_id in unwell,
                    "health_today": hc is not None and hc.day == timezone.localdate(now), "last_health": hc,
                    "needs": d.needs})
    return out


def totals(rows: list[dict]) -> dict:
    return {"people": len(rows), "on_duty": sum(r["on_duty"] for r in rows), "late": sum(r["late"] for r in rows),
            "hours": round(sum(r["hours"] for r in rows), 1), "unwell": sum(r["unwell"] for r in rows),
            "no_health_today": sum(not r["health_today"] for r in rows), "needs": sum(bool(r["needs"]) for r in rows)}
