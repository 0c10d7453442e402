"""JSON API of command: the same actions and access checks as the pages. The hotline's
reference list is GET /api/command/notices/in-force."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, in_scope, scope
from fangkong.places.models import Organization, Place
from fangkong.web.operations import transition_ops

from . import actions
from .models import AccessPoint, Decision, Finding, InspectionPlan, Notice, Receipt
from .views import notices_in_force

router = Router(tags=["command"])


class CommandNoticeOut(Schema):
    id: int
    serial: str
    title: str
    kind: str
    state: str
    body: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    published_at: dt.datetime | None
    issuer: str

    @staticmethod
    def resolve_issuer(obj):
        return obj.hq.name


class CommandNoticeIn(Schema):
    title: str = ""
    body: str = ""
    kind: str = Notice.Kind.ANNOUNCEMENT
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    places: list[int] = []
    orgs: list[int] = []
    entrances: list[int] = []
    supersedes: int | None = None


class NoticeReasonIn(Schema):
    reason: str = ""


class CommandNoteIn(Schema):
    note: str = ""


class InspectionFindingNoteIn(Schema):
    note: str = ""
    deadline: dt.date | None = None


class NoticeReceiptOut(Schema):
    id: int
    notice_id: int
    serial: str
    title: str
    recipient: str
    state: str
    read_at: dt.datetime | None
    done_at: dt.datetime | None
    done_note: str
    reminders: int

    @staticmethod
    def resolve_serial(obj):
        return obj.notice.serial

    @staticmethod
    def resolve_title(obj):
        return obj.notice.title

    @staticmethod
    def resolve_recipient(obj):
        return obj.recipient()


class CommandDecisionOut(Schema):
    id: int
    meeting_id: int
    text: str
    deadline: dt.date
    state: str
    done_note: str


class InspectionFindingIn(Schema):
    place: int = 0
    org: int | None = None
    target: str = Finding.Target.COMPOUND
    category: str = ""
    text: str = ""
    responsible: str = ""
    fixed_on_spot: bool = False
    deadline: dt.date | None = None
    client_key: str = ""


class InspectionFindingOut(Schema):
    id: int
    plan_id: int
    place_id: int
    category: str
    text: str
    responsible: str
    fixed_on_spot: bool
    deadline: dt.date | None
    state: str
    created: bool = True


class EntranceStateIn(Schema):
    state: str = ""
    notice: int | None = None
    note: str = ""


class EntranceStateOut(Schema):
    place_id: int
    state: str
    changed_at: dt.datetime | None
    basis: str

    @staticmethod
    def resolve_basis(obj):
        return obj.basis()


class CommandBoardOut(Schema):
    decisions_open: int
    decisions_overdue: int
    notices_in_force: int
    receipts_unread: int
    receipts_undone: int
    findings_open: int
    findings_overdue: int
    findings_fixed_on_spot: int
    points_sealed: int
    points_emergency: int


@router.get("/command/board", response=CommandBoardOut, auth=api_perm("command.view"))
def board(request):
    """The HQ board's figures over the user's area."""
    user, today = request.user, timezone.localdate()
    dec = scope(Decision.objects.filter(state=Decision.State.OPEN), user, "command.view")
    rec = scope(Receipt.objects.filter(notice__state=Notice.State.PUBLISHED), user, "command.view")
    fin = scope(Finding.objects.all(), user, "command.view")
    pts = dict(scope(AccessPoint.objects.all(), user, "command.view").values_list("state").annotate(n=Count("id")))
    return {
        "decisions_open": dec.count(), "decisions_overdue": dec.filter(deadline__lt=today).count(),
        "notices_in_force": actions.in_force(scope(Notice.objects.all(), user, "command.view")).count(),
        "receipts_unread": rec.filter(state=Receipt.State.SENT).count(),
        "receipts_undone": rec.exclude(state=Receipt.State.DONE).count(),
        "findings_open": fin.filter(state=Finding.State.OPEN).count(),
        "findings_overdue": fin.filter(state=Finding.State.OPEN, deadline__lt=today).count(),
        "findings_fixed_on_spot": fin.filter(fixed_on_spot=True).count(),
        "points_sealed": pts.get("sealed", 0), "points_emergency": pts.get("emergency", 0)}


@router.get("/command/notices/in-force", response=list[CommandNoticeOut], auth=api_perm("command.in_force"))
def notices_in_force_api(request):
    """The notices in force that concern the user (the hotline's reference list)."""
    return list(notices_in_force(request.user)[:200])


@router.get("/command/notices", response=list[CommandNoticeOut], auth=api_perm("command.notices"))
def notice_list(request, state: str = ""):
    qs = scope(Notice.objects.select_related("hq"), request.user, "command.notices")
    if state:
        qs = qs.filter(state=state)
    return list(qs[:200])


def _all(model, ids, field: str, message):
    """Every object the ids name, or Invalid naming the field (an unknown id is not dropped)."""
    ids = [i for i in set(ids) if 0 < i < 2**63]
    found = list(model.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise Invalid({field: message})
    return found


@router.post("/command/notices", response={201: CommandNoticeOut}, auth=api_perm("command.draft"))
def notice_create(request, payload: CommandNoticeIn):
    """A draft notice of the user's headquarters."""
    hq = actions.hq_for(request.user, "command.draft")
    if hq is None:
        raise Invalid({"hq": _("Set up the headquarters first")})
    sup = Notice.objects.filter(pk=payload.supersedes, hq=hq).first() if payload.supersedes else None
    if payload.supersedes and sup is None:
        raise Invalid({"supersedes": _("Only a notice of this headquarters in force can be superseded")})
    notice = actions.draft_notice(
        acting_user=request.user, hq=hq, title=payload.title, body=payload.body, kind=payload.kind,
        valid_from=payload.valid_from, valid_until=payload.valid_until,
        places=_all(Place, payload.places, "places", _("Choose communities of this headquarters' area")),
        orgs=_all(Organization, payload.orgs, "orgs", _("Choose units of this headquarters' area")),
        entrances=_all(Place, payload.entrances, "entrances", _("Choose entrances of this headquarters' area")),
        supersedes=sup)
    return Status(201, notice)


transition_ops(router, actions.NOTICE_TRANSITIONS, Notice.objects.select_related("hq"), path="/command/notices/{pk}/",
               module=__name__, prefix="notice", schema=NoticeReasonIn, response=CommandNoticeOut,
               take=lambda request, n, name, payload: actions.notice_action(acting_user=request.user, notice=n, action=name,
                                                                             reason=payload.reason))


@router.get("/command/receipts", response=list[NoticeReceiptOut], auth=api_perm("command.receipt"))
def receipt_list(request):
    """The user's committee's or unit's receipts of notices in force."""
    return list(scope(Receipt.objects.filter(notice__state=Notice.State.PUBLISHED), request.user, "command.receipt")
                .select_related("notice", "place", "org")[:500])


transition_ops(router, actions.RECEIPT_TRANSITIONS, Receipt.objects.select_related("notice"),
               path="/command/receipts/{pk}/", module=__name__, prefix="receipt", schema=CommandNoteIn, response=NoticeReceiptOut,
               take=lambda request, r, name, payload: actions.confirm(acting_user=request.user, receipt=r, step=name,
                                                                      note=payload.note))

transition_ops(router, actions.DECISION_TRANSITIONS, Decision.objects.all(), path="/command/decisions/{pk}/",
               module=__name__, prefix="decision", schema=CommandNoteIn, response=CommandDecisionOut,
               take=lambda request, d, name, payload: actions.decide(acting_user=request.user, decision=d, action=name,
                                                                     note=payload.note))


@router.post("/command/plans/{pk}/findings", response={201: InspectionFindingOut, 200: InspectionFindingOut},
             auth=api_perm("command.inspect", obj=InspectionPlan))
def finding_create(request, pk: int, payload: InspectionFindingIn):
    """A finding of the plan's team at a place (idempotent on client_key: an offline resend answers 200)."""
    user = request.user
    plan = get_in_scope(InspectionPlan.objects.select_related("team"), user, "command.inspect", pk=pk)
    place = Place.objects.filter(pk=payload.place).first() if 0 < payload.place < 2**63 else None
    if place is None or not in_scope(place, user, "command.inspect"):
        raise Invalid({"place": _("Choose the place visited")})
    org = Organization.objects.filter(pk=payload.org).first() if payload.org and 0 < payload.org < 2**63 else None
    finding, created = actions.record_finding(
        acting_user=user, plan=plan, place=place, org=org, target=payload.target, category=payload.category,
        text=payload.text, responsible=payload.responsible, fixed_on_spot=payload.fixed_on_spot,
        deadline=payload.deadline, client_key=payload.client_key)
    finding.created = created
    return Status(201 if created else 200, finding)


transition_ops(router, actions.FINDING_TRANSITIONS, Finding.objects.select_related("plan"), path="/command/findings/{pk}/",
               module=__name__, prefix="finding", schema=InspectionFindingNoteIn, response=InspectionFindingOut,
               take=lambda request, f, name, payload: actions.finding_action(acting_user=request.user, finding=f, action=name,
                                                                             note=payload.note, deadline=payload.deadline))


@router.post("/command/points/{pk}", response=EntranceStateOut, auth=api_perm("command.seal", obj=Place))
def point_set(request, pk: int, payload: EntranceStateIn):
    """Seal, reopen or switch to emergency passage the entrance at place {pk}, naming the notice or reason."""
    user = request.user
    place = get_in_scope(Place.objects.all(), user, "command.seal", pk=pk)
    notice = None
    if payload.notice:
        notice = actions.in_force(scope(Notice.objects.all(), user, "command.in_force", ancestors=True)).filter(
            pk=payload.notice).first()
        if notice is None:
            raise Invalid({"notice": _("Choose a notice in force for this area")})
    return actions.set_point(acting_user=user, point=actions.point_for(place), state=payload.state, notice=notice,
                             note=payload.note)


class RemindOut(Schema):
    reminded: int


@router.get("/command/notices/{pk}/receipts", response=list[NoticeReceiptOut], auth=api_perm("command.notices", obj=Notice))
def notice_receipts(request, pk: int):
    """The receipt tracking of a notice: every recipient's state, laggards first."""
    n = get_in_scope(Notice.objects.all(), request.user, "command.notices", pk=pk)
    return list(n.receipts.select_related("notice", "place", "org").order_by("-state", "place_path"))


@router.post("/command/notices/{pk}/remind", response=RemindOut, auth=api_perm("command.notices", obj=Notice))
def notice_remind(request, pk: int):
    """Remind every recipient not yet read or not yet carried out (the notification channels)."""
    n = get_in_scope(Notice.objects.all(), request.user, "command.notices", pk=pk)
    return {"reminded": actions.remind(acting_user=request.user, notice=n)}
