"""Writes of people on duty, as named actions (views, API, import, tasks and the demo call
only these). Each runs in one transaction and writes an audit event.

An assignment's state machine (TRANSITIONS): assigned -> checked_in -> checked_out; assigned
-> missed (no check-in by the end); assigned -> removed (taken off: unwell, or by the site).
A transition not allowed from the current state is a Conflict (409) with the reason; each
locks the row and updates it on (state, version), so of two concurrent calls one wins.
A health check-in's: unwell -> cleared (by a medic).
"""
from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.health import body_temperature
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition, int_or_none  # noqa: F401

from .models import (SYMPTOM_KEYS, Assignment, Deployment, GridPosition, HealthCheck, Shift, StreetSetting, Team, TeamKind,
                     TeamMember)

A = Assignment.State
H = HealthCheck.State

LATE_MINUTES = 5  # a check-in later than this after the start is late
EARLY_MINUTES = 60  # a check-in is accepted from this long before the start
SKEW_MINUTES = 10  # a device clock further off the server's is flagged
AUTO_CLOSE_HOURS = 2  # a shift left without check-out closes itself this long after its end
MAX_SHIFT_HOURS = 16

TRANSITIONS: dict[str, Transition] = {
    "check_in": Transition("duty.self", (A.ASSIGNED,), A.CHECKED_IN, gettext_lazy("Check in")),
    "check_out": Transition("duty.self", (A.CHECKED_IN,), A.CHECKED_OUT, gettext_lazy("Check out")),
    "miss": Transition("duty.manage", (A.ASSIGNED,), A.MISSED, gettext_lazy("Mark missed")),
    "remove": Transition("duty.manage", (A.ASSIGNED,), A.REMOVED, gettext_lazy("Take off the shift")),
}
HEALTH_TRANSITIONS: dict[str, Transition] = {
    "clear": Transition("duty.clear", (H.UNWELL,), H.CLEARED, gettext_lazy("Clear for duty")),
}
REFUSED = gettext_lazy("Cannot %(action)s: the shift is %(state)s")


def _site_path(site) -> str:
    return site.place_path or site.place.path


# --- Roster and teams -------------------------------------------------------------------

def add_position(*, acting_user, grid, role: str, name: str, user=None, starts_on=None, ends_on=None) -> GridPosition:
    errors = {}
    if grid.kind != "grid":
        errors["grid"] = _("A roster belongs to a grid")
    if role not in GridPosition.Role.values:
        errors["role"] = _("Choose the position: responsible leader, grid head or grid worker")
    name = (name or "").strip()
    if not name or len(name) > 60:
        errors["name"] = _("Enter the name (up to 60 characters)")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = _("The end date comes before the start date")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        pos = GridPosition.objects.create(grid=grid, role=role, name=name, user=user, starts_on=starts_on,
                                          ends_on=ends_on, place_path=grid.path)
        record(acting_user, "duty.roster.add", obj=pos, detail={"role": role})
    return pos


def end_position(*, acting_user, position: GridPosition, on: dt.date | None = None) -> GridPosition:
    with transaction.atomic():
        position.ends_on = on or timezone.localdate()
        position.save(update_fields=["ends_on"])
        record(acting_user, "duty.roster.end", obj=position)
    return position


def create_team(*, acting_user, kind: TeamKind, name: str, place, site=None, leader=None, leader_name: str = "") -> Team:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid({"name": _("Enter the team's name (up to 100 characters)")})
    if place.kind not in ("community", "grid", "compound", "building"):
        raise Invalid({"place": _("A team attaches to a community, grid or compound")})
    with transaction.atomic():
        team = Team.objects.create(kind=kind, name=name, place=place, site=site, leader=leader,
                                   leader_name=leader_name or (leader.get_full_name() if leader else ""),
                                   place_path=place.path)
        record(acting_user, "duty.team.create", obj=team)
    return team


def add_member(*, acting_user, team: Team, name: str, user=None, person=None, zone: str = "", model_post: str = "") -> TeamMember:
    name = (name or "").strip()
    if not name:
        raise Invalid({"name": _("Enter the member's name")})
    with transaction.atomic():
        m = TeamMember.objects.create(team=team, name=name[:60], user=user, person=person, zone=zone[:120],
                                      model_post=model_post[:120])
        record(acting_user, "duty.team.member", obj=team)
    return m


# --- What a street allows, and the police's temporary passes -------------------------------

POLICE_PASS_PLACE_KINDS = ("community", "grid", "compound", "building", "checkpoint")
POLICE_PASS_MAX_HOURS = 72  # the passes module's longest visitor pass


def set_street_settings(*, acting_user, street, police_passes: bool, police_pass_hours=24) -> StreetSetting:
    """The street's coordinator decides whether its police may issue temporary passes, and
    for how many hours at most (1–72)."""
    errors = {}
    if street is None or street.kind != "street":
        errors["street"] = _("Choose the street")
    hours = int_or_none(police_pass_hours, maximum=100_000) if isinstance(police_pass_hours, str) else police_pass_hours
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= POLICE_PASS_MAX_HOURS:
        errors["police_pass_hours"] = _("Between 1 and %(max)d hours") % {"max": POLICE_PASS_MAX_HOURS}
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        setting, _new = StreetSetting.objects.select_for_update().get_or_create(street=street,
                                                                                 defaults={"place_path": street.path})
        setting.police_passes, setting.police_pass_hours = bool(police_passes), hours
        setting.changed_by = acting_user if _signed_in(acting_user) else None
        setting.changed_at = timezone.now()
        setting.save()
        record(acting_user, "duty.street.settings", obj=setting,
               detail={"police_passes": setting.police_passes, "hours": hours})
    return setting


def police_issue_pass(*, acting_user, place, name, phone, reason, hours, host_household=None):
    """A temporary pass (a visitor's pass of the passes module, valid at `place`) issued by
    the police, where the street of `place` allows it and for no longer than it allows:
    (pass, token). Not allowed: PermissionDenied (403), the refusal audited. The caller has
    found `place` within the police officer's own scope (404 otherwise)."""
    from django.core.exceptions import PermissionDenied

    from fangkong.passes import actions as passes

    from .queries import street_setting

    setting = street_setting(place)
    if setting is None or not setting.police_passes:
        record(acting_user, "duty.police_pass", outcome="denied", place_path=place.path, detail={"reason": "street"})
        raise PermissionDenied("duty.police_pass")
    if place.kind not in POLICE_PASS_PLACE_KINDS:
        raise Invalid({"place": _("A temporary pass is valid in a community, grid, compound, building or checkpoint")})
    value = int_or_none(hours, maximum=100_000) if isinstance(hours, str) else hours
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= setting.police_pass_hours:
        raise Invalid({"hours": _("Your street allows temporary passes of 1 to %(max)d hours") % {
            "max": setting.police_pass_hours}})
    with transaction.atomic():
        pass_, token = passes.issue_visitor_pass(acting_user=acting_user, name=name, phone=phone, reason=reason,
                                                 host_household=host_household, hours=value, place=place)
        record(acting_user, "duty.police_pass", obj=pass_, detail={"serial": pass_.serial, "hours": value})
    return pass_, token


# --- Deployments and shifts ---------------------------------------------------------------

def deploy(*, acting_user, user, site, sender=None, kind: str = Deployment.Kind.VOLUNTEER, starts_on: dt.date,
           ends_on: dt.date | None = None, family_care: bool = False, health_limited: bool = False,
           weekly_limit: int = 48, needs: str = "") -> Deployment:
    errors = {}
    if site.kind != "site":
        errors["site"] = _("People are deployed to a site")
    if kind not in Deployment.Kind.values:
        errors["kind"] = _("Choose cadre, volunteer or police")
    if ends_on and ends_on < starts_on:
        errors["ends_on"] = _("The end date comes before the start date")
    if not 1 <= int(weekly_limit or 0) <= 84:
        errors["weekly_limit"] = _("A weekly limit lies between 1 and 84 hours")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        dep = Deployment.objects.create(user=user, site=site, sender=sender, kind=kind, starts_on=starts_on, ends_on=ends_on,
                                        family_care=family_care, health_limited=health_limited, weekly_limit=weekly_limit,
                                        needs=needs[:200], place_path=_site_path(site))
        record(acting_user, "duty.deploy", obj=dep, detail={"kind": kind})
    return dep


def create_shift(*, acting_user, site, post: str, starts_at: dt.datetime, ends_at: dt.datetime, slots: int = 1,
                 group: str = "", post_name: str = "", open: bool = False) -> Shift:
    errors = {}
    if site.kind != "site":
        errors["site"] = _("Shifts belong to a site")
    if post not in Shift.Post.values:
        errors["post"] = _("Choose the post")
    if starts_at is None:
        errors["starts_at"] = _("Enter the start")
    if ends_at is None:
        errors["ends_at"] = _("Enter the end")
    elif starts_at is not None and not dt.timedelta(0) < ends_at - starts_at <= dt.timedelta(hours=MAX_SHIFT_HOURS):
        errors["ends_at"] = _("A shift ends after its start and lasts at most 16 hours")
    if not 1 <= int(slots or 0) <= 50:
        errors["slots"] = _("Between 1 and 50 people")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        shift = Shift.objects.create(site=site, post=post, post_name=post_name[:80], group=group[:30], starts_at=starts_at,
                                     ends_at=ends_at, slots=slots, open=open, post_code=secrets.token_urlsafe(9)[:12],
                                     place_path=_site_path(site), created_by=acting_user if _signed_in(acting_user) else None)
        record(acting_user, "duty.shift.create", obj=shift, detail={"post": post, "slots": slots})
    return shift


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def is_unwell(user) -> bool:
    return HealthCheck.objects.filter(user=user, state=H.UNWELL).exists()


def _overlapping(user, shift, exclude_pk=None):
    qs = Assignment.objects.filter(user=user, shift__starts_at__lt=shift.ends_at, shift__ends_at__gt=shift.starts_at).exclude(
        state__in=[A.REMOVED, A.MISSED])
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def planned_hours(user, start: dt.datetime, end: dt.datetime) -> float:
    """Hours of the user's shifts (kept ones) starting in [start, end): the plan, for the
    weekly limit (a plan is what the limit protects)."""
    total = 0.0
    for s, e in Assignment.objects.filter(user=user, shift__starts_at__gte=start, shift__starts_at__lt=end).exclude(
            state__in=[A.REMOVED, A.MISSED]).values_list("shift__starts_at", "shift__ends_at"):
        total += (e - s).total_seconds() / 3600
    return total


def conflicts(user, shift, deployment=None) -> dict:
    """Why `user` cannot take `shift` ({field: message}), empty when nothing stands in the way:
    unwell, overlapping another shift, over the weekly limit (the 7 days up to the shift's
    end), or a declared constraint (family care: day shifts only; health: 4 hours at most)."""
    errors = {}
    if is_unwell(user):
        errors["user"] = _("This person is unwell and off duty until a medic clears them")
    elif _overlapping(user, shift):
        errors["user"] = _("This person already has a shift at that time")
    limit = deployment.weekly_limit if deployment else 48
    week = planned_hours(user, shift.ends_at - dt.timedelta(days=7), shift.ends_at)
    if "user" not in errors and week + shift.hours > limit:
        errors["user"] = _("This shift would take this person over the weekly limit of %(n)s hours") % {"n": limit}
    if deployment and "user" not in errors:
        start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
        if deployment.family_care and (start.time() < dt.time(8) or end.time() > dt.time(20) or end.date() != start.date()):
            errors["user"] = _("This person cares for family: day shifts (08:00–20:00) only")
        elif deployment.health_limited and shift.hours > 4:
            errors["user"] = _("This person's health allows shifts of 4 hours at most")
    return errors


def deployment_for(user, shift):
    day = timezone.localtime(shift.starts_at).date()
    return Deployment.objects.filter(user=user, site_id=shift.site_id, state=Deployment.State.ACTIVE,
                                     starts_on__lte=day).exclude(ends_on__lt=day).first()


def assign(*, acting_user, shift: Shift, user, how: str = Assignment.How.ASSIGNED) -> Assignment:
    """Put `user` on `shift` (the site's responsible person, or the volunteer taking an open
    slot: how="taken"). Refused (Invalid naming `user`) for an unwell person, an overlapping
    shift, the weekly limit or a declared constraint; the shift's slots full, or the shift
    over: Conflict. The shift row is locked, so two people taking the last slot: one wins."""
    with transaction.atomic():
        locked = Shift.objects.select_for_update().get(pk=shift.pk)
        if locked.ends_at <= timezone.now():
            raise Conflict(_("This shift is over"))
        dep = deployment_for(user, locked)
        if dep is None:
            raise Invalid({"user": _("This person is not deployed to this site on that day")})
        taken = Assignment.objects.filter(shift=locked).exclude(state=A.REMOVED)
        if taken.filter(user=user).exists():
            raise Conflict(_("This person is already on this shift"))
        if taken.count() >= locked.slots:
            raise Conflict(_("No free place left on this shift"))
        errors = conflicts(user, locked, dep)
        if errors:
            raise Invalid(errors)
        try:
            with transaction.atomic():
                a = Assignment.objects.create(shift=locked, user=user, deployment=dep, site_id=locked.site_id,
                                              place_path=locked.place_path, how=how)
        except IntegrityError:
            raise Conflict(_("This person is already on this shift")) from None
        record(acting_user, "duty.assign", obj=a, detail={"shift": locked.pk, "how": how})
    return a


class _Undo(Exception):
    """Rolls back a week's fill that could not be completed."""


def fill_week(*, acting_user, site, monday: dt.date, partial: bool = False) -> dict:
    """Fill every free place of the site's shifts in the week from `monday` (those not yet
    begun) with the suggestion balanced over the whole week (queries.suggest_week: the
    same constraints as one shift's: overlaps, weekly limit, unwell, declared constraints).
    All or report: when some place can be taken by no one, or a proposed assignment is
    refused when made, nothing is stored and the report says which shifts and why; with
    partial=True, what can be filled is, and the rest is reported.
    Returns {"assigned": n, "stored": bool, "short": {shift id: places left},
    "refused": {shift id: reason}}."""
    from .queries import suggest_week

    monday = monday - dt.timedelta(days=monday.weekday())
    with transaction.atomic():
        # The site's shifts of the week locked in order: two fills at once do not interleave.
        list(Shift.objects.select_for_update().filter(pk__in=_week_ids(site, monday)).order_by("pk").values_list("pk"))
        plan, short = suggest_week(site, monday)
        users = {u.pk: u for u in _users(uid for uids in plan.values() for uid in uids)}
        shifts = Shift.objects.in_bulk(list(plan))
        done, refused = [], {}
        try:
            with transaction.atomic():
                for sid, uids in plan.items():
                    for uid in uids:
                        try:
                            with transaction.atomic():
                                done.append(assign(acting_user=acting_user, shift=shifts[sid], user=users[uid]))
                        except (Invalid, Conflict) as exc:
                            refused[sid] = "; ".join(str(v) for v in exc.errors.values()) if isinstance(exc, Invalid) else str(exc)
                if (short or refused) and not partial:
                    raise _Undo
        except _Undo:
            done = []
        stored = bool(done) or not (short or refused)
        record(acting_user, "duty.fill_week", obj=site, outcome="ok" if stored else "refused",
               detail={"week": monday.isoformat(), "assigned": len(done), "short": sum(short.values()),
                       "refused": len(refused), "partial": partial}, place_path=_site_path(site))
    return {"assigned": len(done), "stored": stored, "short": short, "refused": refused}


def _week_ids(site, monday):
    from .queries import week_shifts

    return list(week_shifts(site, monday).values_list("pk", flat=True))


def _users(ids):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk__in=set(ids))


def take_slot(*, acting_user, shift: Shift) -> Assignment:
    if not shift.open:
        raise Conflict(_("This shift is not open for volunteers to take"))
    return assign(acting_user=acting_user, shift=shift, user=acting_user, how=Assignment.How.TAKEN)


def remove(*, acting_user, assignment: Assignment, reason: str = "site") -> Assignment:
    with transaction.atomic():
        a = apply_transition(Assignment.objects, assignment, TRANSITIONS["remove"], refused=REFUSED, lower=True,
                             changes={"removed_reason": reason[:20]})
        record(acting_user, "duty.remove", obj=a, detail={"reason": reason})
    return a


# --- Check-in and check-out ---------------------------------------------------------------

def _moment(raw, field: str):
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        from django.utils.dateparse import parse_datetime

        try:
            value = parse_datetime(str(raw))
        except ValueError:
            value = None
        if value is None:
            raise Invalid({field: _("Enter a date and time (ISO 8601)")})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def check(*, acting_user, assignment_id, direction: str, client_id: str = "", device_at=None, sent_at=None,
          offline: bool = False, post_code: str = "", note: str = "") -> tuple[Assignment, bool]:
    """A check-in ("in", on arrival) or check-out ("out", before leaving) from the person's
    phone: (the assignment, whether this call stored it). The same client_id again is the
    same entry (a queue sent twice stores once). Someone else's shift: Invalid, as for a
    missing one; checking in twice or out before in: Conflict. Lateness is measured on the
    device's time for entries queued offline, on the server's otherwise; a device clock
    (sent_at, the device's time at sending) more than 10 minutes off is flagged."""
    now = timezone.now()
    if direction not in ("in", "out"):
        raise Invalid({"direction": _("Check in or check out")})
    client_id = str(client_id or "")[:64]
    device = _moment(device_at, "device_at") or now
    sent = _moment(sent_at, "sent_at")
    try:
        pk = int(assignment_id)
    except (TypeError, ValueError):
        raise Invalid({"assignment": _("No such shift of yours")}) from None
    field = "checkin_client_id" if direction == "in" else "checkout_client_id"
    if client_id:
        done = Assignment.objects.filter(**{field: client_id}).first()
        if done is not None:
            if done.user_id != acting_user.pk:
                raise Invalid({"client_id": _("This entry id is already used")})
            return done, False
    if device > now + dt.timedelta(minutes=SKEW_MINUTES) and not sent:
        raise Invalid({"device_at": _("This time lies in the future")})
    with transaction.atomic():
        a = Assignment.objects.select_for_update().select_related("shift").filter(pk=pk, user=acting_user).first()
        if a is None:
            raise Invalid({"assignment": _("No such shift of yours")})
        shift = a.shift
        if post_code and post_code != shift.post_code:
            raise Invalid({"post_code": _("This QR code belongs to another post")})
        skew = sent is not None and abs((now - sent).total_seconds()) > SKEW_MINUTES * 60
        counted = device if offline else now
        if direction == "in":
            if a.state == A.ASSIGNED and is_unwell(acting_user):
                raise Conflict(_("You are off duty until a medic clears you"))
            if a.state == A.ASSIGNED and counted < shift.starts_at - dt.timedelta(minutes=EARLY_MINUTES):
                raise Conflict(_("Too early: check-in opens an hour before the shift"))
            if a.state == A.ASSIGNED and counted > shift.ends_at:
                raise Conflict(_("This shift is over"))
            late = counted > shift.starts_at + dt.timedelta(minutes=LATE_MINUTES)
            a = apply_transition(Assignment.objects, a, TRANSITIONS["check_in"], lower=True,
                                 refused=gettext_lazy("Cannot %(action)s: you are %(state)s on this shift"),
                                 changes={"checkin_at": counted, "checkin_device_at": device, "checkin_server_at": now,
                                          "checkin_client_id": client_id or None, "late": late, "clock_skew": skew})
        else:
            if a.state == A.ASSIGNED:
                raise Conflict(_("Check in before checking out"))
            out_at = max(counted, a.checkin_at) if a.checkin_at else counted
            minutes = int((out_at - a.checkin_at).total_seconds() // 60) if a.checkin_at else 0
            a = apply_transition(Assignment.objects, a, TRANSITIONS["check_out"], lower=True,
                                 refused=gettext_lazy("Cannot %(action)s: you are %(state)s on this shift"),
                                 changes={"checkout_at": out_at, "checkout_device_at": device, "checkout_server_at": now,
                                          "checkout_client_id": client_id or None, "minutes": minutes,
                                          "clock_skew": a.clock_skew or skew, "note": (note or a.note)[:2000]})
        record(acting_user, "duty.checkin" if direction == "in" else "duty.checkout", obj=a,
               detail={"late": a.late, "offline": bool(offline), "skew": a.clock_skew})
    if direction == "in" and a.late:
        transaction.on_commit(lambda: _alert_late(a))
    return a, True


def _alert_late(a: Assignment) -> None:
    registry.raise_alert(registry.Alert(kind="duty.late", place_path=a.place_path, org_id=a.site_id,
                                        text=_("Late check-in at %(post)s") % {"post": a.shift.post_label},
                                        perms=("duty.alerted",), obj_type="duty.assignment", obj_id=a.pk))


def alert_missing(*, now: dt.datetime | None = None) -> int:
    """The periodic task: everyone not checked in 5 minutes after their shift began is told
    to the site's responsible person and medic (once per assignment: the alert's record
    and key make a repeat a no-op in the sinks)."""
    now = now or timezone.now()
    n = 0
    for a in Assignment.objects.filter(state=A.ASSIGNED, shift__starts_at__lt=now - dt.timedelta(minutes=LATE_MINUTES),
                                       shift__ends_at__gt=now).select_related("shift")[:1000]:
        registry.raise_alert(registry.Alert(kind="duty.missing", place_path=a.place_path, org_id=a.site_id,
                                            text=_("Not checked in at %(post)s (%(start)s)") % {
                                                "post": a.shift.post_label,
                                                "start": timezone.localtime(a.shift.starts_at).strftime("%H:%M")},
                                            perms=("duty.alerted",), obj_type="duty.assignment", obj_id=a.pk, key="missing"))
        n += 1
    return n


def raise_needs(*, acting_user, needs: str) -> int:
    """The person on duty says what they need (family care, medicine, transport...): kept on
    their running deployments, seen by the site and the sending organization. Empty text
    clears it. Returns the deployments changed."""
    needs = (needs or "").strip()
    if len(needs) > 200:
        raise Invalid({"needs": _("At most 200 characters")})
    with transaction.atomic():
        n = Deployment.objects.filter(user=acting_user, state=Deployment.State.ACTIVE).update(needs=needs)
        if not n:
            raise Conflict(_("You are not deployed anywhere now"))
        record(acting_user, "duty.needs", detail={"cleared": not needs})
    return n


def add_note(*, acting_user, assignment: Assignment, note: str) -> Assignment:
    note = (note or "").strip()
    if not note:
        raise Invalid({"note": _("Write the note")})
    with transaction.atomic():
        assignment.note = ((assignment.note + "\n") if assignment.note else "") + note[:1000]
        assignment.save(update_fields=["note"])
        record(acting_user, "duty.note", obj=assignment)
    return assignment


def close_overdue(*, now: dt.datetime | None = None) -> dict:
    """The periodic task: a shift left without check-out closes itself 2 hours after its
    end (hours counted to the planned end, flagged); an assignment never checked in is
    marked missed once its shift is over."""
    now = now or timezone.now()
    closed = missed = 0
    for a in Assignment.objects.filter(state=A.CHECKED_IN, shift__ends_at__lte=now - dt.timedelta(hours=AUTO_CLOSE_HOURS)
                                       ).select_related("shift"):
        with transaction.atomic():
            try:
                end = max(a.shift.ends_at, a.checkin_at)
                a = apply_transition(Assignment.objects, a, TRANSITIONS["check_out"], refused=REFUSED, lower=True,
                                     changes={"checkout_at": end, "checkout_server_at": now, "auto_closed": True,
                                              "minutes": int((end - a.checkin_at).total_seconds() // 60)})
            except Conflict:
                continue
            record(None, "duty.autoclose", obj=a)
            closed += 1
    for a in Assignment.objects.filter(state=A.ASSIGNED, shift__ends_at__lte=now).select_related("shift"):
        with transaction.atomic():
            try:
                a = apply_transition(Assignment.objects, a, TRANSITIONS["miss"], refused=REFUSED, lower=True)
            except Conflict:
                continue
            record(None, "duty.missed", obj=a)
            missed += 1
    return {"closed": closed, "missed": missed}


# --- Daily health check-in ------------------------------------------------------------------

def health_checkin(*, acting_user, temperature, symptoms=(), client_id: str = "", now: dt.datetime | None = None,
                   device_at=None, offline: bool = False) -> HealthCheck:
    """The daily health check-in. A fever (at or above the threshold) or any symptom takes
    the person off every shift not yet begun or checked into, until a medic clears them;
    the site's responsible person and medic are alerted, and each vacated shift gets a
    proposed replacement (queries.suggest) on the site board. The same client_id again is
    the same check-in (the phone's queue sent twice stores once); one queued offline counts
    at the device's time (its day, and the shifts still ahead then)."""
    client_id = str(client_id or "")[:64]
    if client_id:
        done = HealthCheck.objects.filter(client_id=client_id, user=acting_user).first()
        if done is not None:
            return done
    now = now or timezone.now()
    device = _moment(device_at, "device_at")
    if device is not None and device > now + dt.timedelta(minutes=SKEW_MINUTES):
        raise Invalid({"device_at": _("This time lies in the future")})
    if offline and device is not None:
        now = device
    temp = body_temperature(temperature, required=True)
    if not isinstance(symptoms, (list, tuple)):
        raise Invalid({"symptoms": _("Unknown symptom: %(s)s") % {"s": str(symptoms)[:60]}})
    symptoms = list(symptoms or [])
    bad = [s for s in symptoms if s not in SYMPTOM_KEYS]
    if bad:
        raise Invalid({"symptoms": _("Unknown symptom: %(s)s") % {"s": ", ".join(map(str, bad))[:60]}})
    unwell = temp >= settings.FEVER_THRESHOLD or bool(symptoms)
    dep = Deployment.objects.filter(user=acting_user, state=Deployment.State.ACTIVE).select_related("site").order_by(
        "-starts_on").first()
    site = dep.site if dep else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                hc = HealthCheck.objects.create(
                    user=acting_user, day=timezone.localdate(now), temperature=temp, symptoms=symptoms,
                    state=H.UNWELL if unwell else H.OK, site=site, place_path=dep.place_path if dep else "",
                    reported_at=now, client_id=client_id or None)
        except IntegrityError:
            raise Conflict(_("This entry id is already used")) from None
        removed = []
        if unwell:
            for a in Assignment.objects.filter(user=acting_user, state=A.ASSIGNED, shift__ends_at__gt=now).select_related("shift"):
                a = apply_transition(Assignment.objects, a, TRANSITIONS["remove"], refused=REFUSED, lower=True,
                                     changes={"removed_reason": "health"})
                record(acting_user, "duty.remove", obj=a, detail={"reason": "health"})
                removed.append(a)
        record(acting_user, "duty.health", obj=hc, detail={"unwell": unwell, "removed": len(removed)})
        if unwell:
            sites = {(a.site_id, a.place_path) for a in removed} | ({(site.pk, dep.place_path)} if site else set())

            def tell():
                for site_id, path in sites:
                    registry.raise_alert(registry.Alert(
                        kind="duty.unwell", place_path=path, org_id=site_id, perms=("duty.alerted",),
                        text=_("A person on duty reported fever or symptoms: taken off %(n)s shift(s)") % {"n": len(removed)},
                        obj_type="duty.healthcheck", obj_id=hc.pk))

            transaction.on_commit(tell)
    return hc


def clear_health(*, acting_user, check: HealthCheck, note: str = "") -> HealthCheck:
    """A medic clears a person taken off duty: every unwell check-in of that person is
    cleared (the person may be scheduled again; the shifts taken off stay with their
    replacements)."""
    with transaction.atomic():
        hc = apply_transition(HealthCheck.objects, check, HEALTH_TRANSITIONS["clear"], lower=True,
                              refused=gettext_lazy("Cannot %(action)s: this check-in is %(state)s"),
                              changes={"cleared_by": acting_user, "cleared_at": timezone.now()})
        HealthCheck.objects.filter(user_id=hc.user_id, state=H.UNWELL).update(state=H.CLEARED, cleared_by=acting_user,
                                                                               cleared_at=timezone.now())
        record(acting_user, "duty.health.clear", obj=hc, detail={"note": note[:200]} if note else None)
    return hc
