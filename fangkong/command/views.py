"""Command pages: the HQ board (desktop and phone), meetings with their minutes and decisions,
the notice editor with its receipt tracking, the committees' receipts, the notices in
force, the inspector's phone page, the findings and their figures, and the entrances."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib.workflow import Invalid, int_or_none
from fangkong.places.access import (get_in_scope, has_perm, in_scope, may, places_in_scope, possible_transitions,
                                    requires, roles, scope)
from fangkong.places.models import Organization, Place
from fangkong.web.forms import attempt, transition_pages

from . import actions
from .models import (AccessPoint, Decision, Finding, Headquarters, InspectionPlan, InspectionTeam, Meeting, Notice,
                     Receipt, WorkingGroup)


def _refused(request, refused, back: str):
    return render(request, "command/refused.html", {"refused": refused, "back": back}, status=refused.status)


def _hq(request, perm: str):
    return actions.hq_for(request.user, perm)


def _ids(values) -> list[int]:
    return [i for i in (int_or_none(v) for v in values) if i is not None]


# --- Board --------------------------------------------------------------------------------

@requires("command.view")
@require_GET
def board(request):
    user = request.user
    today = timezone.localdate()
    hqs = list(scope(Headquarters.objects.all(), user, "command.view"))
    decisions = scope(Decision.objects.filter(state__in=[Decision.State.OPEN, Decision.State.DONE]), user, "command.view") \
        .select_related("meeting", "owner_group", "owner_user").order_by("deadline", "id")
    notices = scope(Notice.objects.filter(state__in=[Notice.State.PUBLISHED, Notice.State.SUBMITTED]), user, "command.view") \
        .annotate(n=Count("receipts"), unread=Count("receipts", filter=Q(receipts__state=Receipt.State.SENT)),
                  undone=Count("receipts", filter=~Q(receipts__state=Receipt.State.DONE)))
    findings = scope(Finding.objects.exclude(state=Finding.State.VERIFIED), user, "command.view")
    points = scope(AccessPoint.objects.all(), user, "command.view").values("state").annotate(n=Count("id"))
    return render(request, "command/board.html", {
        "hqs": hqs, "groups": WorkingGroup.objects.filter(hq__in=hqs).select_related("leader").annotate(m=Count("members")),
        "decisions": decisions[:100], "overdue": sum(1 for d in decisions if d.state == "open" and d.deadline < today),
        "today": today, "notices": notices,
        "findings_open": findings.filter(state=Finding.State.OPEN).count(),
        "findings_overdue": findings.filter(state=Finding.State.OPEN, deadline__lt=today).count(),
        "findings_fixed": findings.filter(state=Finding.State.FIXED).count(),
        "points": {row["state"]: row["n"] for row in points},
        "meetings": scope(Meeting.objects.all(), user, "command.view")[:7],
        "can_organize": has_perm(user, "command.organize"), "can_minutes": has_perm(user, "command.minutes"),
        "can_notices": has_perm(user, "command.notices"),
    })


@requires("command.organize")
@require_http_methods(["GET", "POST"])
def organize(request):
    """Set up the HQ, its working groups, inspection teams and their plans (members by user name)."""
    user = request.user
    hq = _hq(request, "command.organize")
    status = 200
    if request.method == "POST":
        what = request.POST.get("what", "")
        from django.contrib.auth import get_user_model

        def users(field):
            names = [n.strip() for n in request.POST.get(field, "").replace("，", ",").split(",") if n.strip()]
            found = list(get_user_model().objects.filter(username__in=names, is_active=True))
            if len(found) != len(set(names)):
                raise Invalid({field: _("Unknown user names: %(names)s") % {
                    "names": ", ".join(sorted(set(names) - {u.username for u in found}))}})
            return found

        def act():
            if what == "hq":
                place = get_in_scope(places_in_scope(user, "command.organize"), user, "command.organize",
                                     pk=int_or_none(request.POST.get("place")) or 0)
                return actions.create_hq(acting_user=user, place=place, name=request.POST.get("name", ""),
                                         commanders=request.POST.get("commanders", ""))
            if hq is None:
                raise Invalid({"hq": _("Set up the headquarters first")})
            if what == "group":
                members = users("members")
                return actions.add_group(acting_user=user, hq=hq, name=request.POST.get("name", ""),
                                         remit=request.POST.get("remit", ""), leader=members[0] if members else None,
                                         members=members)
            if what == "team":
                return actions.create_team(acting_user=user, hq=hq, name=request.POST.get("name", ""), members=users("members"))
            if what == "plan":
                team = get_in_scope(InspectionTeam.objects.filter(hq=hq), user, "command.organize",
                                    pk=int_or_none(request.POST.get("team")) or 0)
                return actions.create_plan(acting_user=user, team=team, day=request.POST.get("day", ""),
                                           announced=request.POST.get("announced") == "1", focus=request.POST.get("focus", ""))
            raise Invalid({"what": _("Choose what to set up")})

        done, refused = attempt(act, request=request)
        if done is not None:
            messages.success(request, _("Saved."))
            return redirect("command_organize")
        status = refused.status
    return render(request, "command/organize.html", {
        "hq": hq, "streets": places_in_scope(user, "command.organize").filter(kind__in=["district", "street"]),
        "groups": hq.groups.select_related("leader").prefetch_related("members") if hq else [],
        "teams": hq.teams.prefetch_related("members") if hq else [],
        "plans": InspectionPlan.objects.filter(team__hq=hq).select_related("team")[:30] if hq else [],
        "today": timezone.localdate(),
    }, status=status)


@requires("command.organize", obj=WorkingGroup)
@require_POST
def group_members(request, pk: int):
    """A member joins or leaves a working group (by user name): the membership is what lets
    it see the HQ's area, so leaving the group ends that access."""
    from django.contrib.auth import get_user_model

    group = get_in_scope(WorkingGroup.objects.all(), request.user, "command.organize", pk=pk)

    def act():
        name = request.POST.get("username", "").strip()
        member = get_user_model().objects.filter(username=name).first() if name else None
        if member is None:
            raise Invalid({"username": _("Unknown user name")})
        change = {"add": actions.add_member, "remove": actions.remove_member}.get(request.POST.get("action", ""))
        if change is None:
            raise Invalid({"action": _("Choose to add or remove the member")})
        return change(acting_user=request.user, group=group, user=member)

    _done, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_organize")
    messages.success(request, _("Saved."))
    return redirect("command_organize")


# --- Meetings and decisions ---------------------------------------------------------------

@requires("command.view")
@require_GET
def meetings(request):
    return render(request, "command/meetings.html", {
        "meetings": scope(Meeting.objects.all(), request.user, "command.view").select_related("hq")
        .annotate(n=Count("decisions"))[:60],
        "can_minutes": has_perm(request.user, "command.minutes"), "today": timezone.localdate()})


@requires("command.minutes")
@require_POST
def meeting_new(request):
    hq = _hq(request, "command.minutes")

    def act():
        if hq is None:
            raise Invalid({"hq": _("Set up the headquarters first")})
        return actions.create_meeting(acting_user=request.user, hq=hq, date=request.POST.get("date", ""),
                                      agenda=request.POST.get("agenda", ""), attendees=request.POST.get("attendees", ""))

    meeting, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_meetings")
    return redirect("command_meeting", pk=meeting.pk)


@requires("command.view", obj=Meeting)
@require_GET
def meeting(request, pk: int):
    m = get_in_scope(Meeting.objects.select_related("hq"), request.user, "command.view", pk=pk)
    decisions = list(m.decisions.select_related("owner_group", "owner_user"))
    carried = list(actions.carried_over(m))
    return render(request, "command/meeting.html", {
        "m": m, "decisions": [(d, possible_transitions(actions.DECISION_TRANSITIONS, d, request.user)) for d in decisions],
        "carried": [(d, possible_transitions(actions.DECISION_TRANSITIONS, d, request.user)) for d in carried],
        "groups": m.hq.groups.all(), "can_minutes": may(request.user, "command.minutes", m),
        "today": timezone.localdate(), "default_deadline": m.date + dt.timedelta(days=1)})


@requires("command.minutes", obj=Meeting)
@require_POST
def meeting_minutes(request, pk: int):
    m = get_in_scope(Meeting.objects.all(), request.user, "command.minutes", pk=pk)
    _done, refused = attempt(lambda: actions.update_minutes(acting_user=request.user, meeting=m,
                                                            minutes=request.POST.get("minutes", ""),
                                                            attendees=request.POST.get("attendees")), request=request)
    if refused:
        return _refused(request, refused, "command_meetings")
    return redirect("command_meeting", pk=m.pk)


@requires("command.minutes", obj=Meeting)
@require_POST
def decision_new(request, pk: int):
    m = get_in_scope(Meeting.objects.select_related("hq"), request.user, "command.minutes", pk=pk)

    def act():
        group = None
        gid = int_or_none(request.POST.get("group"))
        if gid:
            group = WorkingGroup.objects.filter(hq=m.hq, pk=gid).first()
            if group is None:
                raise Invalid({"owner": _("Choose one of this headquarters' groups")})
        return actions.add_decision(acting_user=request.user, meeting=m, text=request.POST.get("text", ""),
                                    deadline=request.POST.get("deadline", ""), owner_group=group)

    _done, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_meetings")
    messages.success(request, _("Decision recorded."))
    return redirect("command_meeting", pk=m.pk)


decision_views = transition_pages(
    actions.DECISION_TRANSITIONS, Decision.objects.all(), "command_decision",
    take=lambda request, d, name: actions.decide(acting_user=request.user, decision=d, action=name,
                                                 note=request.POST.get("note", "")),
    done=lambda request, d, name, t: redirect("command_meeting", pk=d.meeting_id),
    refused=lambda request, d, refused: _refused(request, refused, "command_board"))


# --- Notices ------------------------------------------------------------------------------

@requires("command.notices")
@require_GET
def notices(request):
    qs = scope(Notice.objects.all(), request.user, "command.notices").select_related("hq").annotate(
        n=Count("receipts"), unread=Count("receipts", filter=Q(receipts__state=Receipt.State.SENT)),
        undone=Count("receipts", filter=~Q(receipts__state=Receipt.State.DONE)))
    return render(request, "command/notices.html", {"notices": qs[:100], "can_draft": has_perm(request.user, "command.draft")})


def _choices(hq):
    if hq is None:
        return {"communities": [], "units": [], "entrances_choices": [], "in_force": []}
    return {
        "communities": Place.objects.filter(kind="community", path__under=hq.place_path),
        "units": Organization.objects.filter(place_path__under=hq.place_path),
        "entrances_choices": Place.objects.filter(kind="checkpoint", path__under=hq.place_path),
        "in_force": Notice.objects.filter(hq=hq, state=Notice.State.PUBLISHED),
    }


def _notice_input(request, hq) -> dict:
    sup = int_or_none(request.POST.get("supersedes"))
    return {
        "title": request.POST.get("title", ""), "body": request.POST.get("body", ""),
        "kind": request.POST.get("kind", Notice.Kind.ANNOUNCEMENT),
        "valid_from": request.POST.get("valid_from", ""), "valid_until": request.POST.get("valid_until", ""),
        "places": list(Place.objects.filter(pk__in=_ids(request.POST.getlist("places")))),
        "orgs": list(Organization.objects.filter(pk__in=_ids(request.POST.getlist("orgs")))),
        "entrances": list(Place.objects.filter(pk__in=_ids(request.POST.getlist("entrances")))),
        "supersedes": Notice.objects.filter(pk=sup, hq=hq).first() if sup else None,
    }


@requires("command.draft")
@require_http_methods(["GET", "POST"])
def notice_new(request):
    hq = _hq(request, "command.draft")
    status, errors = 200, {}
    if request.method == "POST":
        def act():
            if hq is None:
                raise Invalid({"hq": _("Set up the headquarters first")})
            return actions.draft_notice(acting_user=request.user, hq=hq, **_notice_input(request, hq))

        notice, refused = attempt(act, request=request, keep_errors=True)
        if notice is not None:
            messages.success(request, _("Draft saved."))
            return redirect("command_notice", pk=notice.pk)
        status, errors = refused.status, refused.errors
    return render(request, "command/notice_edit.html", {"hq": hq, "errors": errors, "values": request.POST,
                                                        "kinds": Notice.Kind.choices, **_choices(hq)}, status=status)


@requires("command.notices", obj=Notice)
@require_GET
def notice(request, pk: int):
    n = get_in_scope(Notice.objects.select_related("hq", "supersedes"), request.user, "command.notices", pk=pk)
    receipts = list(n.receipts.select_related("place", "org"))
    return render(request, "command/notice.html", {
        "n": n, "receipts": receipts, "laggards": [r for r in receipts if r.state != Receipt.State.DONE],
        "possible": possible_transitions(actions.NOTICE_TRANSITIONS, n, request.user),
        "can_edit": n.editable and may(request.user, "command.draft", n),
        "can_seal": n.state == Notice.State.PUBLISHED and has_perm(request.user, "command.seal"),
        "entrances": n.entrances.all(), "places": n.places.all(), "orgs": n.orgs.all(),
        "kinds": Notice.Kind.choices, "values": None, **_choices(n.hq)})


@requires("command.draft", obj=Notice)
@require_POST
def notice_edit(request, pk: int):
    n = get_in_scope(Notice.objects.select_related("hq"), request.user, "command.draft", pk=pk)
    _done, refused = attempt(lambda: actions.edit_notice(acting_user=request.user, notice=n, **_notice_input(request, n.hq)),
                             request=request)
    if refused:
        return _refused(request, refused, "command_notices")
    messages.success(request, _("Draft saved."))
    return redirect("command_notice", pk=n.pk)


notice_views = transition_pages(
    actions.NOTICE_TRANSITIONS, Notice.objects.select_related("hq"), "command_notice",
    take=lambda request, n, name: actions.notice_action(acting_user=request.user, notice=n, action=name,
                                                        reason=request.POST.get("reason", "")),
    done=lambda request, n, name, t: redirect("command_notice", pk=n.pk),
    refused=lambda request, n, refused: _refused(request, refused, "command_notices"))


@requires("command.notices", obj=Notice)
@require_POST
def notice_remind(request, pk: int):
    n = get_in_scope(Notice.objects.all(), request.user, "command.notices", pk=pk)
    count, refused = attempt(lambda: actions.remind(acting_user=request.user, notice=n), request=request)
    if refused:
        return _refused(request, refused, "command_notices")
    messages.success(request, _("%(n)d reminded.") % {"n": count})
    return redirect("command_notice", pk=n.pk)


@requires("command.seal", obj=Notice)
@require_POST
def notice_seal(request, pk: int):
    n = get_in_scope(Notice.objects.all(), request.user, "command.seal", pk=pk)

    def act():
        if n.state != Notice.State.PUBLISHED:
            raise Invalid({"notice": _("Choose a notice in force for this area")})
        mine = [p for p in n.entrances.all() if in_scope(p, request.user, "command.seal")]
        count = 0
        for place in mine:
            point = actions.point_for(place)
            if point.state != AccessPoint.State.SEALED:
                actions.set_point(acting_user=request.user, point=point, state=AccessPoint.State.SEALED, notice=n)
                count += 1
        return count

    count, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_points")
    messages.success(request, _("%(n)d entrances sealed.") % {"n": count})
    return redirect("command_points")


@requires("command.notices", obj=Notice)
@require_GET
def notice_pdf(request, pk: int):
    from fangkong.documents.models import Document
    from fangkong.documents.pdf import cached_pdf

    n = get_in_scope(Notice.objects.all(), request.user, "command.notices", pk=pk)
    doc = Document.objects.filter(pk=n.document_id).first() if n.document_id else None
    if doc is None:
        return HttpResponse(_("This notice has not been published yet."), status=409, content_type="text/plain; charset=utf-8")
    record(request.user, "command.notice.pdf", obj=n, detail={"serial": n.serial})
    resp = HttpResponse(cached_pdf(doc), content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="notice-{n.serial_year}-{n.serial_no}.pdf"'
    return resp


# --- Receipts and notices in force ------------------------------------------------------

@requires("command.receipt")
@require_GET
def receipts(request):
    qs = scope(Receipt.objects.filter(notice__state__in=[Notice.State.PUBLISHED]), request.user, "command.receipt") \
        .select_related("notice", "place", "org").order_by("state", "-notice__published_at")
    return render(request, "command/receipts.html", {"receipts": qs[:200]})


receipt_views = transition_pages(
    actions.RECEIPT_TRANSITIONS, Receipt.objects.select_related("notice"), "command_receipt",
    take=lambda request, r, name: actions.confirm(acting_user=request.user, receipt=r, step=name,
                                                  note=request.POST.get("note", "")),
    done=lambda request, r, name, t: redirect("command_receipts"),
    refused=lambda request, r, refused: _refused(request, refused, "command_receipts"))


def notices_in_force(user):
    """The notices in force that concern the user: those of an HQ above or at the user's places."""
    return actions.in_force(scope(Notice.objects.all(), user, "command.in_force", ancestors=True)).select_related("hq")


@requires("command.in_force")
@require_GET
def in_force(request):
    return render(request, "command/in_force.html", {"notices": notices_in_force(request.user)})


# --- Inspections --------------------------------------------------------------------------

@requires("command.inspect")
@require_GET
def inspect(request):
    """The inspector's phone page: today's plans of the user's teams, a place to pick, findings to verify."""
    user = request.user
    today = timezone.localdate()
    # An inspector works for its own teams; the admin (who may act for any team) sees them all.
    everyone = "admin" in roles(user)
    mine = Q() if everyone else Q(team__members=user)
    theirs = Q() if everyone else Q(plan__team__members=user)
    plans = scope(InspectionPlan.objects.filter(mine, day__gte=today - dt.timedelta(days=1)),
                  user, "command.inspect").select_related("team").order_by("day").distinct()
    to_verify = scope(Finding.objects.filter(theirs, state=Finding.State.FIXED), user,
                      "command.inspect").select_related("place").distinct()
    places = places_in_scope(user, "command.inspect").filter(kind__in=["community", "compound", "checkpoint", "grid"])
    recent = scope(Finding.objects.filter(theirs), user, "command.inspect").select_related("place").distinct()
    return render(request, "command/inspect.html", {
        "plans": plans, "to_verify": to_verify[:50], "places": places[:500], "recent": recent[:30],
        "orgs": scope(Organization.objects.all(), user, "command.inspect")[:300],
        "categories": Finding.Category.choices, "targets": Finding.Target.choices,
        "tomorrow": today + dt.timedelta(days=1)})


@requires("command.inspect", obj=InspectionPlan)
@require_POST
def finding_new(request, pk: int):
    user = request.user
    plan = get_in_scope(InspectionPlan.objects.select_related("team"), user, "command.inspect", pk=pk)

    def act():
        place = Place.objects.filter(pk=int_or_none(request.POST.get("place")) or 0).first()
        if place is None or not in_scope(place, user, "command.inspect"):
            raise Invalid({"place": _("Choose the place visited")})
        oid = int_or_none(request.POST.get("org"))
        org = Organization.objects.filter(pk=oid).first() if oid else None
        return actions.record_finding(
            acting_user=user, plan=plan, place=place, org=org, target=request.POST.get("target", "compound"),
            category=request.POST.get("category", ""), text=request.POST.get("text", ""),
            responsible=request.POST.get("responsible", ""), fixed_on_spot=request.POST.get("fixed_on_spot") == "1",
            deadline=request.POST.get("deadline", ""), client_key=request.POST.get("client_key", ""))

    result, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_inspect")
    messages.success(request, _("Finding recorded."))
    return redirect("command_finding", pk=result[0].pk)


@requires("command.inspections", obj=Finding)
@require_GET
def finding(request, pk: int):
    f = get_in_scope(Finding.objects.select_related("plan__team", "place", "org"), request.user, "command.inspections", pk=pk)
    history = Finding.objects.filter(place=f.place).exclude(pk=f.pk).select_related("plan__team")[:20]
    return render(request, "command/finding.html", {
        "f": f, "history": history, "possible": possible_transitions(actions.FINDING_TRANSITIONS, f, request.user)})


@requires("command.rectify")
@require_GET
def findings(request):
    """The findings the user's committee or unit must rectify (and those done)."""
    qs = scope(Finding.objects.all(), request.user, "command.rectify").select_related("place", "org", "plan__team") \
        .order_by("state", "deadline")
    return render(request, "command/findings.html", {
        "findings": [(f, possible_transitions(actions.FINDING_TRANSITIONS, f, request.user)) for f in qs[:200]],
        "today": timezone.localdate()})


finding_views = transition_pages(
    actions.FINDING_TRANSITIONS, Finding.objects.select_related("plan"), "command_finding",
    take=lambda request, f, name: actions.finding_action(acting_user=request.user, finding=f, action=name,
                                                         note=request.POST.get("note", ""),
                                                         deadline=request.POST.get("deadline", "")),
    done=lambda request, f, name, t: redirect("command_findings" if name == "rectified" else "command_inspect"),
    refused=lambda request, f, refused: _refused(request, refused, "command_inspect"))


@requires("command.inspections")
@require_GET
def inspections(request):
    """Figures per team and per place, and the latest findings."""
    today = timezone.localdate()
    qs = scope(Finding.objects.all(), request.user, "command.inspections")
    figures = dict(
        n=Count("id"), spot=Count("id", filter=Q(fixed_on_spot=True)),
        open=Count("id", filter=Q(state=Finding.State.OPEN)),
        overdue=Count("id", filter=Q(state=Finding.State.OPEN, deadline__lt=today)),
        verified=Count("id", filter=Q(state=Finding.State.VERIFIED)))
    return render(request, "command/inspections.html", {
        "teams": qs.values("plan__team__name").annotate(**figures).order_by("plan__team__name"),
        "places": qs.values("place_id", "place__name").annotate(**figures).order_by("-n")[:50],
        "latest": qs.select_related("place", "plan__team")[:50], "today": today})


# --- Entrances ----------------------------------------------------------------------------

@requires("command.points")
@require_GET
def points(request):
    user = request.user
    places = places_in_scope(user, "command.points").filter(kind="checkpoint").order_by("path")[:1000]
    by_place = {p.place_id: p for p in AccessPoint.objects.filter(place__in=places).select_related("notice", "decision__meeting",
                                                                                                      "changed_by")}
    rows = [(p, by_place.get(p.pk)) for p in places]
    counts = {s: 0 for s in AccessPoint.State.values}
    for _p, point in rows:
        counts[point.state if point else AccessPoint.State.OPEN] += 1
    can_seal = has_perm(user, "command.seal")
    return render(request, "command/points.html", {
        "rows": rows, "counts": counts, "states": AccessPoint.State.choices, "can_seal": can_seal,
        "notices": actions.in_force(scope(Notice.objects.all(), user, "command.in_force", ancestors=True)) if can_seal else [],
        "decisions": _decisions_for_points(user)[:30] if can_seal else []})


def _decisions_for_points(user):
    """The decisions of the headquarters above the user's places a sealing may name."""
    return scope(Decision.objects.exclude(state=Decision.State.VERIFIED), user, "command.in_force", ancestors=True) \
        .select_related("meeting").order_by("-meeting__date", "id")


@requires("command.seal", obj=Place)
@require_POST
def point_set(request, pk: int):
    user = request.user
    place = get_in_scope(Place.objects.all(), user, "command.seal", pk=pk)

    def act():
        nid = int_or_none(request.POST.get("notice"))
        notice = None
        if nid:
            notice = actions.in_force(scope(Notice.objects.all(), user, "command.in_force", ancestors=True)).filter(pk=nid).first()
            if notice is None:
                raise Invalid({"notice": _("Choose a notice in force for this area")})
        did = int_or_none(request.POST.get("decision"))
        decision = _decisions_for_points(user).filter(pk=did).first() if did else None
        if did and decision is None:
            raise Invalid({"decision": _("Choose a decision of this area's headquarters")})
        return actions.set_point(acting_user=user, point=actions.point_for(place), state=request.POST.get("state", ""),
                                 notice=notice, decision=decision, note=request.POST.get("note", ""))

    point, refused = attempt(act, request=request)
    if refused:
        return _refused(request, refused, "command_points")
    messages.success(request, _("%(place)s: %(state)s") % {"place": place.name, "state": point.get_state_display()})
    return redirect("command_points")
