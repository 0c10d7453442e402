"""Command writes as named actions (keyword-only, acting_user, one transaction, an audit
event). Views, API, tasks and the demo call only these.

State machines (lib.workflow): a transition not allowed from the current state is a
Conflict (409) with the reason; each locks the row and updates it on (state, version), so
of two concurrent calls exactly one wins.

* Decision:  open → done (its owner) → verified (a commander); done → open (sent back).
* Notice:    draft → submitted (coordinator) → published (a commander approves: serial, receipts, PDF)
             submitted → draft (returned); published → withdrawn; published → superseded (by the
             publication of the notice that supersedes it). A notice is edited only before publication.
* Receipt:   sent → read → done (with a note), by the receiving committee or unit only.
* Finding:   open (rectify by a deadline) → fixed → verified (by the team); a finding fixed on
             the spot starts as fixed.
* Entrance:  open ⇄ sealed ⇄ emergency, each change naming its notice, decision or reason.
"""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Conflict for callers)
from fangkong.places.models import Organization, Place

from .models import (AccessPoint, Decision, Finding, Headquarters, InspectionPlan, InspectionTeam, Meeting, Notice,
                     PointChange, Receipt, SerialCounter, WorkingGroup)

D, N, R, F, P = Decision.State, Notice.State, Receipt.State, Finding.State, AccessPoint.State
POINT_KINDS = ("checkpoint", "compound")
REFUSED = gettext_lazy("Cannot %(action)s: it is %(state)s now")
CHANGED = gettext_lazy("Someone else changed it first: %(action)s not done")


def _user(u):
    return u if u is not None and getattr(u, "is_authenticated", False) else None


def _text(raw, field: str, *, max_length: int, required: bool = True, label=None) -> str:
    text = str(raw if raw is not None else "").strip()
    if required and not text:
        raise Invalid({field: label or _("Required")})
    if len(text) > max_length:
        raise Invalid({field: _("At most %(n)d characters") % {"n": max_length}})
    return text


def _date(raw, field: str, *, required: bool = True) -> dt.date | None:
    if isinstance(raw, dt.date):
        return raw
    text = str(raw or "").strip()
    if not text:
        if required:
            raise Invalid({field: _("Give a date")})
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid({field: _("Give a date as YYYY-MM-DD")}) from None


# --- Headquarters and working groups ------------------------------------------------------

@transaction.atomic
def create_hq(*, acting_user, place: Place, name: str, commanders: str = "") -> Headquarters:
    if place.kind not in ("district", "street"):
        raise Invalid({"place": _("A headquarters is set up for a district or a street")})
    name = _text(name, "name", max_length=120)
    if Headquarters.objects.filter(place=place).exists():
        raise Conflict(_("This place has a headquarters already"))
    hq = Headquarters.objects.create(place=place, name=name, place_path=place.path,
                                     commanders=_text(commanders, "commanders", max_length=200, required=False))
    record(acting_user, "command.hq.create", obj=hq, detail={"name": name})
    return hq


@transaction.atomic
def add_group(*, acting_user, hq: Headquarters, name: str, remit: str = "", leader=None, members=()) -> WorkingGroup:
    name = _text(name, "name", max_length=80)
    remit = _text(remit, "remit", max_length=300, required=False)
    if WorkingGroup.objects.filter(hq=hq, name=name).exists():
        raise Invalid({"name": _("This headquarters has a group of that name already")})
    group = WorkingGroup.objects.create(hq=hq, name=name, remit=remit, leader=leader, place_path=hq.place_path)
    people = {m.pk: m for m in members}
    if leader is not None:
        people[leader.pk] = leader
    group.members.set(people.values())
    record(acting_user, "command.group.create", obj=group, detail={"name": name, "members": len(people)})
    return group


@transaction.atomic
def add_member(*, acting_user, group: WorkingGroup, user) -> WorkingGroup:
    """`user` joins the group: as a member it sees the HQ's area (the hq_member role held by
    membership, places.access.declare_membership), no grant is given."""
    if not user.is_active:
        raise Invalid({"member": _("This account is deactivated")})
    if group.members.filter(pk=user.pk).exists():
        raise Conflict(_("Already a member of this group"))
    group.members.add(user)
    record(acting_user, "command.group.join", obj=group, detail={"group": group.pk, "user": user.pk})
    return group


@transaction.atomic
def remove_member(*, acting_user, group: WorkingGroup, user) -> WorkingGroup:
    """`user` leaves the group (and with it the access its membership gave); the leader too,
    the group then has none until another is named."""
    if not group.members.filter(pk=user.pk).exists():
        raise Conflict(_("Not a member of this group"))
    group.members.remove(user)
    if group.leader_id == user.pk:
        group.leader = None
        group.save(update_fields=["leader"])
    record(acting_user, "command.group.leave", obj=group, detail={"group": group.pk, "user": user.pk})
    return group


def hq_for(user, perm: str):
    """The headquarters the user works for under `perm` (the first in scope), or None."""
    from fangkong.places.access import scope

    return scope(Headquarters.objects.all(), user, perm).first()


# --- Meetings and decisions ---------------------------------------------------------------

@transaction.atomic
def create_meeting(*, acting_user, hq: Headquarters, date, agenda: str = "", attendees: str = "", minutes: str = "") -> Meeting:
    day = _date(date, "date")
    agenda = _text(agenda, "agenda", max_length=5000, required=False)
    attendees = _text(attendees, "attendees", max_length=500, required=False)
    minutes = _text(minutes, "minutes", max_length=20000, required=False)
    try:
        with transaction.atomic():
            meeting = Meeting.objects.create(hq=hq, date=day, agenda=agenda, attendees=attendees, minutes=minutes,
                                             place_path=hq.place_path, created_by=_user(acting_user))
    except IntegrityError:
        raise Invalid({"date": _("There is a meeting on this day already")}) from None
    record(acting_user, "command.meeting.create", obj=meeting, detail={"date": day.isoformat()})
    return meeting


def carried_over(meeting: Meeting):
    """The decisions still open from the HQ's earlier meetings: where the next meeting starts."""
    return (Decision.objects.filter(meeting__hq_id=meeting.hq_id, meeting__date__lt=meeting.date, state=D.OPEN)
            .select_related("meeting", "owner_group", "owner_user").order_by("deadline", "id"))


@transaction.atomic
def update_minutes(*, acting_user, meeting: Meeting, minutes: str, attendees: str | None = None) -> Meeting:
    minutes = _text(minutes, "minutes", max_length=20000, required=False)
    changes = {"minutes": minutes}
    if attendees is not None:
        changes["attendees"] = _text(attendees, "attendees", max_length=500, required=False)
    Meeting.objects.filter(pk=meeting.pk).update(**changes)
    meeting.refresh_from_db()
    record(acting_user, "command.meeting.minutes", obj=meeting)
    return meeting


@transaction.atomic
def add_decision(*, acting_user, meeting: Meeting, text: str, deadline, owner_group=None, owner_user=None) -> Decision:
    text = _text(text, "text", max_length=500)
    deadline = _date(deadline, "deadline")
    if deadline < meeting.date:
        raise Invalid({"deadline": _("The deadline cannot be before the meeting")})
    if owner_group is None and owner_user is None:
        raise Invalid({"owner": _("Name the group or person who carries it out")})
    if owner_group is not None and owner_group.hq_id != meeting.hq_id:
        raise Invalid({"owner": _("Choose one of this headquarters' groups")})
    decision = Decision.objects.create(meeting=meeting, text=text, deadline=deadline, owner_group=owner_group,
                                       owner_user=owner_user, place_path=meeting.place_path)
    record(acting_user, "command.decision.create", obj=decision, detail={"deadline": deadline.isoformat()})
    return decision


DECISION_TRANSITIONS: dict[str, Transition] = {
    "done": Transition("command.decision_done", (D.OPEN,), D.DONE, gettext_lazy("Mark done")),
    "verify": Transition("command.verify", (D.DONE,), D.VERIFIED, gettext_lazy("Verify")),
    "reopen": Transition("command.verify", (D.DONE,), D.OPEN, gettext_lazy("Send back")),
}


def decide(*, acting_user, decision: Decision, action: str, note: str = "") -> Decision:
    t = DECISION_TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    note = _text(note, "note", max_length=300, required=False)
    now = timezone.now()
    changes = {"done": {"done_at": now, "done_by": _user(acting_user), "done_note": note},
               "verify": {"verified_at": now, "verified_by": _user(acting_user)},
               "reopen": {"done_at": None, "done_by": None, "done_note": note}}[action]
    with transaction.atomic():
        current = apply_transition(Decision.objects.all(), decision, t, refused=REFUSED, changed=CHANGED, lower=True,
                                   changes=changes)
        record(acting_user, f"command.decision.{action}", obj=current, detail={"note": note[:100]})
    return current


# --- Notices ------------------------------------------------------------------------------

def _recipients(hq: Headquarters, places, orgs):
    places, orgs = list(places or ()), list(orgs or ())
    for p in places:
        if p.kind != "community" or not p.path.startswith(hq.place_path):
            raise Invalid({"places": _("Choose communities of this headquarters' area")})
    for o in orgs:
        if not o.place_path.startswith(hq.place_path):
            raise Invalid({"orgs": _("Choose units of this headquarters' area")})
    return places, orgs


def _entrances(hq: Headquarters, entrances):
    entrances = list(entrances or ())
    for p in entrances:
        if p.kind not in POINT_KINDS or not p.path.startswith(hq.place_path):
            raise Invalid({"entrances": _("Choose entrances of this headquarters' area")})
    return entrances


def _notice_fields(hq, *, kind, title, body, valid_from, valid_until, supersedes) -> dict:
    if kind not in Notice.Kind.values:
        raise Invalid({"kind": _("Choose a public notice or a circular")})
    out = {"kind": kind, "title": _text(title, "title", max_length=120), "body": _text(body, "body", max_length=20000),
           "valid_from": _date(valid_from, "valid_from", required=False),
           "valid_until": _date(valid_until, "valid_until", required=False)}
    if out["valid_from"] and out["valid_until"] and out["valid_until"] < out["valid_from"]:
        raise Invalid({"valid_until": _("The end of validity is before its start")})
    if supersedes is not None and (supersedes.hq_id != hq.pk or supersedes.state != N.PUBLISHED):
        raise Invalid({"supersedes": _("Only a notice of this headquarters in force can be superseded")})
    out["supersedes"] = supersedes
    return out


@transaction.atomic
def draft_notice(*, acting_user, hq: Headquarters, title: str, body: str, kind: str = Notice.Kind.ANNOUNCEMENT,
                 valid_from=None, valid_until=None, places=(), orgs=(), entrances=(), supersedes=None) -> Notice:
    fields = _notice_fields(hq, kind=kind, title=title, body=body, valid_from=valid_from, valid_until=valid_until,
                            supersedes=supersedes)
    places, orgs = _recipients(hq, places, orgs)
    entrances = _entrances(hq, entrances)
    notice = Notice.objects.create(hq=hq, place_path=hq.place_path, drafted_by=_user(acting_user), **fields)
    notice.places.set(places)
    notice.orgs.set(orgs)
    notice.entrances.set(entrances)
    record(acting_user, "command.notice.draft", obj=notice, detail={"title": fields["title"][:60]})
    return notice


def edit_notice(*, acting_user, notice: Notice, title: str, body: str, kind: str, valid_from=None, valid_until=None,
                places=(), orgs=(), entrances=(), supersedes=None) -> Notice:
    """Change a draft (or a notice awaiting approval). A published notice is never edited: it is
    superseded by a new one, or withdrawn."""
    fields = _notice_fields(notice.hq, kind=kind, title=title, body=body, valid_from=valid_from,
                            valid_until=valid_until, supersedes=supersedes)
    places, orgs = _recipients(notice.hq, places, orgs)
    entrances = _entrances(notice.hq, entrances)
    with transaction.atomic():
        current = Notice.objects.select_for_update().get(pk=notice.pk)
        if not current.editable:
            raise Conflict(_("A published notice cannot be edited: supersede it with a new one or withdraw it"))
        Notice.objects.filter(pk=current.pk).update(version=current.version + 1, **fields)
        current.places.set(places)
        current.orgs.set(orgs)
        current.entrances.set(entrances)
        current.refresh_from_db()
        record(acting_user, "command.notice.edit", obj=current, detail={"title": current.title[:60]})
    return current


NOTICE_TRANSITIONS: dict[str, Transition] = {
    "submit": Transition("command.draft", (N.DRAFT,), N.SUBMITTED, gettext_lazy("Submit for approval")),
    "return": Transition("command.publish", (N.SUBMITTED,), N.DRAFT, gettext_lazy("Return to the drafter")),
    "publish": Transition("command.publish", (N.SUBMITTED,), N.PUBLISHED, gettext_lazy("Approve and publish")),
    "withdraw": Transition("command.publish", (N.PUBLISHED,), N.WITHDRAWN, gettext_lazy("Withdraw")),
}


def _next_serial(hq: Headquarters, year: int) -> int:
    """The next number of the issuer's year, under the counter row's lock (held until the
    publication commits): gapless, and unique even when two notices are published at once."""
    SerialCounter.objects.get_or_create(hq=hq, year=year)
    counter = SerialCounter.objects.select_for_update().get(hq=hq, year=year)
    counter.last += 1
    SerialCounter.objects.filter(pk=counter.pk).update(last=counter.last)
    return counter.last


def notice_action(*, acting_user, notice: Notice, action: str, reason: str = "") -> Notice:
    t = NOTICE_TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    if action == "publish":
        return publish(acting_user=acting_user, notice=notice)
    reason = _text(reason, "reason", max_length=300, required=action == "withdraw",
                   label=_("Give the reason") if action == "withdraw" else None)
    now = timezone.now()
    changes = {"submit": {"submitted_at": now}, "return": {"end_reason": reason},
               "withdraw": {"ended_at": now, "end_reason": reason}}[action]
    with transaction.atomic():
        current = apply_transition(Notice.objects.all(), notice, t, refused=REFUSED, changed=CHANGED, lower=True,
                                   changes=changes)
        if action == "withdraw" and current.document_id:
            _revoke_document(acting_user, current, reason)
        record(acting_user, f"command.notice.{action}", obj=current, detail={"serial": current.serial, "reason": reason[:100]})
    return current


def publish(*, acting_user, notice: Notice, now: dt.datetime | None = None) -> Notice:
    """A commander approves and publishes: the serial number of the issuer's year, a receipt per
    community and unit in scope (each told), the notice it supersedes marked so, and the PDF."""
    now = now or timezone.now()
    t = NOTICE_TRANSITIONS["publish"]
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if locked.state not in t.sources:
            raise Conflict(str(REFUSED) % {"action": str(t.label).lower(), "state": locked.get_state_display()})
        places, orgs = list(locked.places.all()), list(locked.orgs.all())
        if not places and not orgs:
            raise Invalid({"places": _("Choose the communities or units it is sent to")})
        year = timezone.localdate(now).year
        number = _next_serial(locked.hq, year)
        current = apply_transition(Notice.objects.all(), locked, t, refused=REFUSED, changed=CHANGED, lower=True, changes={
            "serial_year": year, "serial_no": number, "published_at": now, "approved_by": _user(acting_user),
            "valid_from": locked.valid_from or timezone.localdate(now)})
        Receipt.objects.bulk_create(
            [Receipt(notice=current, place=p, place_path=p.path, created_at=now) for p in places]
            + [Receipt(notice=current, org=o, place_path=o.place_path, created_at=now) for o in orgs])
        if current.supersedes_id:
            old = Notice.objects.select_for_update().get(pk=current.supersedes_id)
            if old.state == N.PUBLISHED:
                Notice.objects.filter(pk=old.pk).update(state=N.SUPERSEDED, ended_at=now, version=old.version + 1,
                                                        end_reason=_("Superseded by %(serial)s") % {"serial": current.serial})
                if old.document_id:
                    _revoke_document(acting_user, old, _("Superseded by %(serial)s") % {"serial": current.serial})
                record(acting_user, "command.notice.supersede", obj=old, detail={"by": current.serial})
        document = _issue_document(acting_user, current)
        Notice.objects.filter(pk=current.pk).update(document_id=document.pk)
        current.document_id = document.pk
        record(acting_user, "command.notice.publish", obj=current,
               detail={"serial": current.serial, "receipts": len(places) + len(orgs)})
        receipts = list(current.receipts.all())
        transaction.on_commit(lambda: _tell_recipients(current, receipts, "command.notice"))
    return current


def _issue_document(acting_user, notice: Notice):
    from fangkong.documents import actions as documents
    from fangkong.documents.models import Document
    from fangkong.documents.pdf import DOCUMENT_LANGUAGE, cn_date

    with translation.override(DOCUMENT_LANGUAGE):
        to = "、".join([p.name for p in notice.places.all()] + [o.name for o in notice.orgs.all()])
        fields = [(_("Sent to"), to[:300])]
        if notice.valid_from or notice.valid_until:
            fields.append((_("Valid"), _("%(start)s to %(end)s") % {
                "start": cn_date(notice.valid_from) if notice.valid_from else "",
                "end": cn_date(notice.valid_until) if notice.valid_until else _("until further notice")}))
        return documents.issue(acting_user=acting_user, kind=Document.Kind.COMMAND_NOTICE, subject=notice,
                               title=f"{notice.title}", fields=fields, issuer=notice.hq.name, body=notice.body,
                               place_path=notice.place_path, number=notice.serial)


def _revoke_document(acting_user, notice: Notice, reason: str) -> None:
    from fangkong.documents import actions as documents
    from fangkong.documents.models import Document

    doc = Document.objects.filter(pk=notice.document_id, revoked_at__isnull=True).first()
    if doc is not None:
        documents.revoke(acting_user=acting_user, document=doc, reason=reason)


def _tell_recipients(notice: Notice, receipts, kind: str) -> None:
    for r in receipts:
        text = _("%(serial)s %(title)s: confirm that you have read it, then that it is carried out") % {
            "serial": notice.serial, "title": notice.title}
        if kind == "command.receipt_late":
            text = _("Reminder: %(serial)s %(title)s is not yet %(step)s") % {
                "serial": notice.serial, "title": notice.title,
                "step": _("read") if r.state == R.SENT else _("carried out")}
        registry.raise_alert(registry.Alert(
            kind=kind, place_path=r.place_path if r.place_id else "", text=text, perms=("command.receipt",),
            obj_type="command.receipt", obj_id=r.pk, org_id=r.org_id, key=f"{r.state}:{r.reminders}"))


RECEIPT_TRANSITIONS: dict[str, Transition] = {
    "read": Transition("command.receipt", (R.SENT,), R.READ, gettext_lazy("Confirm read")),
    "done": Transition("command.receipt", (R.READ,), R.DONE, gettext_lazy("Confirm carried out")),
}


def confirm(*, acting_user, receipt: Receipt, step: str, note: str = "") -> Receipt:
    """The receiving committee or unit confirms a step: read, then carried out (with a note)."""
    t = RECEIPT_TRANSITIONS.get(step)
    if t is None:
        raise Invalid({"step": _("Unknown step")})
    note = _text(note, "note", max_length=300, required=step == "done", label=_("Say what was done"))
    now = timezone.now()
    changes = ({"read_at": now, "read_by": _user(acting_user)} if step == "read"
               else {"done_at": now, "done_by": _user(acting_user), "done_note": note})

    def check(current):
        if current.notice.state != N.PUBLISHED:
            raise Conflict(_("This notice is no longer in force"))

    with transaction.atomic():
        current = apply_transition(Receipt.objects.select_related("notice"), receipt, t, refused=REFUSED,
                                   changed=CHANGED, lower=True, check=check, changes=changes)
        record(acting_user, f"command.receipt.{step}", obj=current, detail={"notice": current.notice_id, "note": note[:100]})
    return current


def laggards(notice: Notice):
    """The receipts of a notice in force not yet read, or read but not yet carried out."""
    return notice.receipts.exclude(state=R.DONE).select_related("place", "org")


def remind(*, acting_user, notice: Notice, now: dt.datetime | None = None) -> int:
    """Remind every laggard (inbox, e-mail, DingTalk/WeCom robots: the notification channels)."""
    now = now or timezone.now()
    if notice.state != N.PUBLISHED:
        raise Conflict(_("This notice is no longer in force"))
    with transaction.atomic():
        late = list(laggards(notice).select_for_update(of=("self",)))
        for r in late:
            r.reminders += 1
        Receipt.objects.filter(pk__in=[r.pk for r in late]).update(reminded_at=now)
        for r in late:
            Receipt.objects.filter(pk=r.pk).update(reminders=r.reminders)
        record(acting_user, "command.notice.remind", obj=notice, detail={"serial": notice.serial, "laggards": len(late)})
        transaction.on_commit(lambda: _tell_recipients(notice, late, "command.receipt_late"))
    return len(late)


def in_force(qs=None, day: dt.date | None = None):
    day = day or timezone.localdate()
    from django.db.models import Q

    qs = qs if qs is not None else Notice.objects.all()
    return qs.filter(state=N.PUBLISHED).filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day)).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=day))


# --- Inspections -----------------------------------------------------------------------

@transaction.atomic
def create_team(*, acting_user, hq: Headquarters, name: str, members=()) -> InspectionTeam:
    name = _text(name, "name", max_length=80)
    if InspectionTeam.objects.filter(hq=hq, name=name).exists():
        raise Invalid({"name": _("This headquarters has a team of that name already")})
    team = InspectionTeam.objects.create(hq=hq, name=name, place_path=hq.place_path)
    team.members.set(list(members))
    record(acting_user, "command.team.create", obj=team, detail={"name": name, "members": len(list(members))})
    return team


@transaction.atomic
def create_plan(*, acting_user, team: InspectionTeam, day, announced: bool = False, focus: str = "") -> InspectionPlan:
    plan = InspectionPlan.objects.create(team=team, day=_date(day, "day"), announced=bool(announced),
                                         focus=_text(focus, "focus", max_length=300, required=False),
                                         place_path=team.place_path, created_by=_user(acting_user))
    record(acting_user, "command.plan.create", obj=plan, detail={"day": plan.day.isoformat(), "announced": plan.announced})
    return plan


def is_member(user, team_id: int) -> bool:
    from fangkong.places.access import roles

    return _user(user) is not None and ("admin" in roles(user) or
                                        InspectionTeam.members.through.objects.filter(
                                            inspectionteam_id=team_id, user_id=user.pk).exists())


def record_finding(*, acting_user, plan: InspectionPlan, place: Place, category: str, text: str, responsible: str,
                   target: str = Finding.Target.COMPOUND, org: Organization | None = None, fixed_on_spot: bool = False,
                   deadline=None, client_key: str = "", now: dt.datetime | None = None) -> tuple[Finding, bool]:
    """An inspector of the plan's team records what was found at `place` (and unit `org`):
    fixed on the spot (then to verify), or with a rectification deadline. Idempotent on the
    device's client_key (an offline resend is stored once). Returns (finding, created)."""
    now = now or timezone.now()
    if not is_member(acting_user, plan.team_id):
        raise Invalid({"plan": _("Only the members of this plan's team record findings for it")})
    if not place.path.startswith(plan.place_path):
        raise Invalid({"place": _("Choose a place of this headquarters' area")})
    if org is not None and org.place_path != place.path and not org.place_path.startswith(place.path):
        raise Invalid({"org": _("The unit is not at this place")})
    if target not in Finding.Target.values:
        raise Invalid({"target": _("Choose what was visited")})
    if category not in Finding.Category.values:
        raise Invalid({"category": _("Choose a category")})
    text = _text(text, "text", max_length=500)
    responsible = _text(responsible, "responsible", max_length=120)
    deadline = None if fixed_on_spot else _date(deadline, "deadline")
    if deadline is not None and deadline < timezone.localdate(now):
        raise Invalid({"deadline": _("The deadline cannot be in the past")})
    key = str(client_key or "").strip()[:64] or None
    if key:
        existing = Finding.objects.filter(client_key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                plan=plan, place=place, org=org, target=target, category=category, text=text, responsible=responsible,
                fixed_on_spot=bool(fixed_on_spot), deadline=deadline, state=F.FIXED if fixed_on_spot else F.OPEN,
                place_path=place.path, org_id_scope=org.pk if org else None, found_at=now, found_by=_user(acting_user),
                fixed_at=now if fixed_on_spot else None, fixed_note=_("Fixed on the spot") if fixed_on_spot else "",
                client_key=key)
            record(acting_user, "command.finding.record", obj=finding, detail={
                "category": category, "fixed_on_spot": bool(fixed_on_spot), "plan": plan.pk})
            _tell_unit(finding, "found", acting_user)
    except IntegrityError:
        existing = Finding.objects.filter(client_key=key).first() if key else None
        if existing is None:
            raise
        return existing, False
    if org is not None and target == Finding.Target.ENTERPRISE:
        transaction.on_commit(lambda: registry.raise_alert(registry.Alert(
            kind="command.finding", place_path=finding.place_path, text=f"{finding.get_category_display()}: {text[:80]}",
            perms=("command.rectify",), obj_type="command.finding", obj_id=finding.pk, org_id=org.pk)))
    return finding, True


FINDING_TRANSITIONS: dict[str, Transition] = {
    "rectified": Transition("command.rectify", (F.OPEN,), F.FIXED, gettext_lazy("Report rectified")),
    "verify": Transition("command.inspect", (F.FIXED,), F.VERIFIED, gettext_lazy("Verify")),
    "reject": Transition("command.inspect", (F.FIXED,), F.OPEN, gettext_lazy("Not fixed: reopen")),
}


def finding_action(*, acting_user, finding: Finding, action: str, note: str = "", deadline=None) -> Finding:
    t = FINDING_TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    note = _text(note, "note", max_length=300, required=action == "rectified", label=_("Say what was done"))
    if t.perm == "command.inspect" and not is_member(acting_user, finding.plan.team_id):
        raise Invalid({"plan": _("Only the members of this plan's team verify its findings")})
    now = timezone.now()
    changes = {"rectified": {"fixed_at": now, "fixed_note": note},
               "verify": {"verified_at": now, "verified_by": _user(acting_user)},
               "reject": {"fixed_at": None, "fixed_note": note,
                          "deadline": _date(deadline, "deadline", required=False) or timezone.localdate(now) + dt.timedelta(days=1)}}[action]
    with transaction.atomic():
        current = apply_transition(Finding.objects.all(), finding, t, refused=REFUSED, changed=CHANGED, lower=True,
                                   changes=changes)
        record(acting_user, f"command.finding.{action}", obj=current, detail={"note": note[:100]})
        _tell_unit(current, {"rectified": "rectified", "verify": "verified", "reject": "reopened"}[action], acting_user,
                   note=note)
    return current


def _tell_unit(finding: Finding, event: str, acting_user, note: str = "") -> None:
    """A finding at a unit (an organization): the modules following that unit hear of it
    through lib.registry (work resumption keeps it in the enterprise's problems log)."""
    if finding.org_id is None:
        return
    registry.report_finding(registry.UnitFinding(
        source=f"command.finding:{finding.pk}", event=event, org_id=finding.org_id, place_path=finding.place_path,
        category=str(finding.get_category_display()), text=finding.text, due=finding.deadline, note=note,
        acting_user=acting_user))


def escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Findings past their deadline and not fixed: the HQ's commanders are told, once."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    n = 0
    for f in Finding.objects.filter(state=F.OPEN, deadline__lt=today, escalated_at__isnull=True).select_related("place"):
        with transaction.atomic():
            if not Finding.objects.filter(pk=f.pk, escalated_at__isnull=True).update(escalated_at=now):
                continue
            record(None, "command.finding.escalate", obj=f, detail={"deadline": f.deadline.isoformat()})
            transaction.on_commit(lambda f=f: registry.raise_alert(registry.Alert(
                kind="command.finding_overdue", place_path=f.place_path, perms=("command.verify",),
                text=_("Finding overdue since %(date)s at %(place)s: %(text)s") % {
                    "date": f.deadline, "place": f.place.name, "text": f.text[:80]},
                obj_type="command.finding", obj_id=f.pk)))
            n += 1
    return n


# --- Entrances ----------------------------------------------------------------------------

def point_for(place: Place) -> AccessPoint:
    """The entrance record of a checkpoint (or compound gate), made open and guarded on first use."""
    if place.kind not in POINT_KINDS:
        raise Invalid({"place": _("Choose an entrance (a checkpoint or a compound)")})
    point, _created = AccessPoint.objects.get_or_create(place=place, defaults={"place_path": place.path})
    return point


def set_point(*, acting_user, point: AccessPoint, state: str, notice: Notice | None = None, decision: Decision | None = None,
              note: str = "", now: dt.datetime | None = None) -> AccessPoint:
    """Seal, reopen or switch an entrance to emergency passage, naming why: a notice in force, a
    decision of the HQ, or (at least) a note."""
    now = now or timezone.now()
    if state not in P.values:
        raise Invalid({"state": _("Choose open, sealed or emergency only")})
    note = _text(note, "note", max_length=300, required=False)
    if notice is not None and (notice.state != N.PUBLISHED or not point.place_path.startswith(notice.place_path)):
        raise Invalid({"notice": _("Choose a notice in force for this area")})
    if decision is not None and not point.place_path.startswith(decision.place_path):
        raise Invalid({"decision": _("Choose a decision of this area's headquarters")})
    if notice is None and decision is None and not note:
        raise Invalid({"note": _("Name the notice or decision, or give the reason")})
    with transaction.atomic():
        current = AccessPoint.objects.select_for_update().get(pk=point.pk)
        if current.state == state:
            raise Conflict(_("This entrance is %(state)s already") % {"state": current.get_state_display()})
        AccessPoint.objects.filter(pk=current.pk, version=current.version).update(
            state=state, version=current.version + 1, changed_at=now, changed_by=_user(acting_user), notice=notice,
            decision=decision, note=note)
        PointChange.objects.create(point=current, from_state=current.state, to_state=state, at=now,
                                   by=_user(acting_user), notice=notice, decision=decision, note=note)
        record(acting_user, f"command.point.{state}", obj=current, detail={
            "from": current.state, "notice": notice.serial if notice else "", "decision": decision.pk if decision else None,
            "note": note[:100]})
        current.refresh_from_db()
    return current


def seal_named(*, acting_user, notice: Notice) -> int:
    """Seal every entrance the notice names (those open now), citing the notice."""
    n = 0
    for place in notice.entrances.all():
        point = point_for(place)
        if point.state != P.SEALED:
            set_point(acting_user=acting_user, point=point, state=P.SEALED, notice=notice)
            n += 1
    return n


def closure(place_id: int):
    """For the gates (registry.closure): why the entrance is closed now, or None.

    Asked on every gate check-in, and nearly always open: the state is read first by one
    statement built once (fastsql), and only a closed entrance pays for the ORM's query
    with its notice and decision (compiling it was 38 % of a check-in's profiled time:
    `python -m bench.profile W4`, bench/RESULTS.md)."""
    from fangkong.lib.db import fastsql

    point = fastsql.get(AccessPoint, ("state",), place_id=place_id)
    if point is None or point.state == P.OPEN:
        return None
    row = AccessPoint.objects.filter(place_id=place_id).exclude(state=P.OPEN).select_related("notice", "decision__meeting").first()
    if row is None:
        return None
    basis = row.basis()
    if row.state == P.SEALED:
        text = _("Sealed under %(basis)s") % {"basis": basis} if basis else str(_("This entrance is sealed"))
    else:
        text = _("Emergency passage only (%(basis)s)") % {"basis": basis} if basis else str(_("Emergency passage only"))
    return registry.Closure(code="sealed" if row.state == P.SEALED else "emergency", text=text)
