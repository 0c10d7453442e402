"""JSON API of work resumption: the same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from ninja import Field, File, Router, Schema, Status, UploadedFile

from fangkong.audit.actions import record
from fangkong.inflow.models import Origin
from fangkong.lib.apitypes import Offset
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.places.models import Place
from fangkong.web.operations import transition_ops

from . import actions
from .models import Application, Enterprise, Problem, SiteCheck, StaffRecord
from .views import board_queryset

router = Router(tags=["resumption"])


class ResumptionEnterpriseOut(Schema):
    id: int
    name: str = Field(..., alias="organization.name")
    organization_id: int
    place_id: int
    sector: str
    size: int
    priority: str
    pilot: bool
    officer_name: str
    address: str
    last_inspected: dt.date | None


class ResumptionEnterpriseIn(Schema):
    name: str
    code: str
    place_id: int
    sector: str = "firm"
    size: int = 0
    priority: str = "ordinary"
    pilot: bool = False
    officer_name: str = ""
    address: str = ""


class ResumptionOut(Schema):
    id: int
    serial: str
    enterprise_id: int
    enterprise: str = Field(..., alias="enterprise.organization.name")
    state: str
    planned_date: dt.date
    headcount: int
    measures: str
    checklist_version: int | None = Field(None, alias="checklist.number")
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    escalated_at: dt.datetime | None
    decided_at: dt.datetime | None
    resumed_on: dt.date | None
    suspended_at: dt.datetime | None
    suspend_reason: str


class ResumptionApplyIn(Schema):
    enterprise_id: int
    planned_date: dt.date
    headcount: int = 0
    measures: str = ""
    submit: bool = True


class ResumptionStepIn(Schema):
    """submit, review, resubmit, withdraw: no fields."""


class ResumptionReturnIn(Schema):
    problems: list[str] = []  # at least one


class ResumptionAssignIn(Schema):
    checker_ids: list[int] = []  # grid workers of the enterprise's grid
    check_date: dt.date | None = None


class ResumptionResumeIn(Schema):
    restart_date: dt.date | None = None  # default today


class ResumptionReasonIn(Schema):
    reason: str = ""  # suspend: required


TRANSITION_BODIES = {"submit": ResumptionStepIn, "review": ResumptionStepIn, "resubmit": ResumptionStepIn,
                     "withdraw": ResumptionStepIn, "reinstate": ResumptionStepIn, "return": ResumptionReturnIn,
                     "assign": ResumptionAssignIn, "resume": ResumptionResumeIn, "suspend": ResumptionReasonIn}

APP_QS = Application.objects.select_related("enterprise__organization", "checklist")


@router.get("/resumption/enterprises", response=list[ResumptionEnterpriseOut], summary="Enterprises in the grid, in scope",
            auth=api_perm("resumption.view"))
def list_enterprises(request, limit: int = 100, offset: Offset = 0):
    limit = min(max(limit, 1), 500)
    qs = scope(Enterprise.objects.select_related("organization"), request.user, "resumption.view").order_by("place_path", "id")
    return list(qs[max(offset, 0): max(offset, 0) + limit])


@router.post("/resumption/enterprises", response={201: ResumptionEnterpriseOut}, summary="Register an enterprise in a grid",
             auth=api_perm("resumption.register"))
def create_enterprise(request, payload: ResumptionEnterpriseIn):
    place = scope(Place.objects.filter(kind__in=actions.PLACE_KINDS), request.user, "resumption.register").filter(
        pk=payload.place_id).first()
    if place is None:
        raise Invalid({"place_id": "unknown place, or outside your jurisdiction"})
    data = payload.dict()
    data.pop("place_id")
    ent = actions.register_enterprise(acting_user=request.user, place=place, **data)
    return Status(201, Enterprise.objects.select_related("organization").get(pk=ent.pk))


# --- Imports (the pages' reader: CSV in UTF-8 or GBK, XLSX; Chinese headers; all or nothing) ---

class ResumptionImportOut(Schema):
    added: int


class ResumptionImportErrorOut(Schema):
    field: str = "file"
    row: int  # the spreadsheet's row number (0: the file as a whole, e.g. a missing column)
    column: str  # the column's label as the reader knows it ("" when the row as a whole)
    message: str


class ResumptionImportRefusedOut(Schema):
    detail: list[ResumptionImportErrorOut]  # every error of every row; nothing was stored


def _import_answer(result):
    if result["errors"]:
        return Status(422, {"detail": [{"field": "file", "row": r, "column": str(c), "message": str(m)}
                                       for r, c, m in result["errors"]]})
    return Status(201, {"added": result["added"]})


@router.post("/resumption/enterprises/import", response={201: ResumptionImportOut, 422: ResumptionImportRefusedOut},
             summary="Register enterprises from a spreadsheet (multipart `file`): all rows or none, each error with its "
                     "row and column", auth=api_perm("resumption.register"))
def import_enterprises(request, file: File[UploadedFile]):
    """Columns: 企业名称, 统一社会信用代码, 网格 (a grid's or compound's code or name in your
    area), 行业, 员工人数, 分类 (保供/重点/一般), 防疫专员, 地址."""
    from . import imports
    from .views import _register_places

    result = imports.import_enterprises(acting_user=request.user, places=_register_places(request.user), upload=file)
    record(request.user, "resumption.import", detail={"kind": "enterprises", "added": result["added"],
                                                      "errors": len(result["errors"]), "api": True})
    return _import_answer(result)


@router.get("/resumption/enterprises/{pk}", response=ResumptionEnterpriseOut, auth=api_perm("resumption.view", obj=Enterprise))
def get_enterprise(request, pk: int):
    return get_in_scope(Enterprise.objects.select_related("organization"), request.user, "resumption.view", pk=pk)


@router.get("/resumption", response=list[ResumptionOut], summary="Applications in scope, overdue first",
            auth=api_perm("resumption.view"))
def list_applications(request, state: str = "open", limit: int = 100, offset: Offset = 0):
    if state not in ("open", "queue", "overdue", "all"):
        raise Invalid({"state": "state must be open, queue, overdue or all"})
    limit = min(max(limit, 1), 500)
    record(request.user, "resumption.list", detail={"state": state, "api": True})
    return list(board_queryset(request.user, state).select_related("checklist")[max(offset, 0): max(offset, 0) + limit])


@router.post("/resumption", response={201: ResumptionOut}, summary="Apply (and submit) for work resumption",
             auth=api_perm("resumption.apply"))
def create_application(request, payload: ResumptionApplyIn):
    ent = scope(Enterprise.objects.all(), request.user, "resumption.apply").filter(pk=payload.enterprise_id).first()
    if ent is None:
        raise Invalid({"enterprise_id": "unknown enterprise, or not yours"})
    app = actions.create_application(acting_user=request.user, enterprise=ent, planned_date=payload.planned_date,
                                     headcount=payload.headcount, measures=payload.measures, submit=payload.submit)
    return Status(201, APP_QS.get(pk=app.pk))


@router.get("/resumption/{pk}", response=ResumptionOut, auth=api_perm("resumption.view", obj=Application))
def get_application(request, pk: int):
    app = get_in_scope(APP_QS, request.user, "resumption.view", pk=pk)
    record(request.user, "resumption.view", obj=app, detail={"api": True})
    return app


def _take(request, app, name: str, payload):
    kwargs = {}
    if name == "return":
        kwargs["problems"] = payload.problems
    elif name == "assign":
        kwargs["checkers"] = list(get_user_model().objects.filter(pk__in=payload.checker_ids[:50]))
        if len(kwargs["checkers"]) != len(set(payload.checker_ids)):
            raise Invalid({"checker_ids": "unknown user"})
        kwargs["check_date"] = payload.check_date
    elif name == "resume":
        kwargs["restart_date"] = payload.restart_date
    elif name == "suspend":
        kwargs["reason"] = payload.reason
    app = actions.transition(acting_user=request.user, app=app, action=name, **kwargs)
    return APP_QS.get(pk=app.pk)


transition_ops(router, actions.TRANSITIONS, Application.objects.all(), path="/resumption/{pk}/", module=__name__,
               prefix="resumption", schema=TRANSITION_BODIES, response=ResumptionOut, take=_take)


# --- Checks -------------------------------------------------------------------------------------

class ResumptionPhotoIn(Schema):
    """A photo of the item: JPEG, PNG or WebP, base64 (a `data:image/...;base64,` URL is
    accepted too); type and size checked like every upload (UPLOAD_MAX_BYTES), re-encoded,
    stored privately as an attachment of the item's answer."""
    name: str = "photo.jpg"
    data: str


class ResumptionAnswerIn(Schema):
    result: str = ""  # pass | fail | na
    note: str = ""
    quantity: int | None = None
    photos: list[ResumptionPhotoIn] = []  # at most 5; a bad one: 422 naming photo_<key>, nothing stored


class ResumptionCheckIn(Schema):
    answers: dict[str, ResumptionAnswerIn] = {}  # every item of the check's version (422 naming the missing ones)
    note: str = ""
    # The device's id of these answers (a UUID): the same answers sent again (a resend after
    # a lost answer, an offline queue's second sync) are stored once and answered like the first.
    client_id: str = ""
    offline: bool = False  # answered without network on the device, sent later


class ResumptionPhotoOut(Schema):
    id: int
    url: str


class ResumptionAnswerOut(Schema):
    id: int
    key: str
    label: str
    result: str
    quantity: int | None
    note: str
    photos: list[ResumptionPhotoOut]  # the item's photos (GET /api/uploads/{id} serves one to those in scope)

    @staticmethod
    def resolve_photos(obj):
        from django.urls import reverse

        from fangkong.uploads import queries as uploads

        return [{"id": a.pk, "url": reverse("uploads_file", args=[a.pk])} for a in uploads.of(obj)]


class ResumptionCheckOut(Schema):
    id: int
    kind: str
    state: str
    enterprise_id: int
    application_id: int | None
    checklist_version: int = Field(..., alias="checklist.number")
    items: list[dict] = Field(..., alias="checklist.items")
    due_date: dt.date
    done_at: dt.datetime | None
    answers: list[ResumptionAnswerOut] = Field(..., alias="answer_list")


def _check_out(check):
    check.answer_list = list(check.answers.all())
    return check


@router.get("/resumption-checks", response=list[ResumptionCheckOut], summary="Checks assigned to me, waiting first",
            auth=api_perm("resumption.check"))
def my_checks(request):
    qs = scope(SiteCheck.objects.filter(assignees=request.user, state=SiteCheck.State.ASSIGNED).select_related("checklist"),
               request.user, "resumption.check").order_by("due_date", "id")
    return [_check_out(c) for c in qs[:200]]


@router.get("/resumption-checks/{pk}", response=ResumptionCheckOut, auth=api_perm("resumption.view", obj=SiteCheck))
def get_check(request, pk: int):
    return _check_out(get_in_scope(SiteCheck.objects.select_related("checklist"), request.user, "resumption.view", pk=pk))


def _photo_files(payload) -> dict:
    """{key: [ContentFile]} of the answers' base64 photos; a photo that is no base64 or
    larger than the upload limit: Invalid naming photo_<key>."""
    import base64
    import binascii

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.utils.translation import gettext as _

    out = {}
    limit = settings.UPLOAD_MAX_BYTES
    for key, answer in payload.answers.items():
        for photo in answer.photos:
            raw = photo.data.split(",", 1)[1] if photo.data.startswith("data:") and "," in photo.data else photo.data
            if len(raw) > (limit * 4) // 3 + 8:
                raise Invalid({f"photo_{key}": _("The file is larger than %(mb)d MB") % {"mb": limit // (1024 * 1024)}})
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise Invalid({f"photo_{key}": _("The photo is not readable (base64 expected)")}) from None
            out.setdefault(key, []).append(ContentFile(data, name=photo.name[:100] or "photo.jpg"))
    return out


@router.post("/resumption-checks/{pk}/finish", response=ResumptionCheckOut,
             summary="Record the check: every item pass / fail / not applicable, with its photos; a resend of the same "
                     "client_id is stored once",
             auth=api_perm("resumption.check", obj=SiteCheck))
def finish_check(request, pk: int, payload: ResumptionCheckIn):
    """Photos travel with the answers (base64, per item) and are stored privately as
    attachments of each item's answer, all or nothing with the answers. Photos may also be
    added afterwards through POST /api/uploads (owner_type `resumption.checkanswer`, owner_id
    an answer's id from this response) by a grid worker of the enterprise's grid."""
    check = get_in_scope(SiteCheck.objects.select_related("checklist"), request.user, "resumption.check", pk=pk)
    answers = {k: v.dict(exclude={"photos"}) for k, v in payload.answers.items()}
    done = actions.finish_check(acting_user=request.user, check=check, answers=answers, photos=_photo_files(payload),
                                note=payload.note, client_id=payload.client_id, offline=payload.offline)
    return _check_out(SiteCheck.objects.select_related("checklist").get(pk=done.pk))


@router.post("/resumption/enterprises/{pk}/inspect", response={201: ResumptionCheckOut}, summary="Start a supervision inspection",
             auth=api_perm("resumption.check", obj=Enterprise))
def inspect(request, pk: int):
    ent = get_in_scope(Enterprise.objects.all(), request.user, "resumption.check", pk=pk)
    return Status(201, _check_out(actions.start_inspection(acting_user=request.user, enterprise=ent)))


# --- Problems ----------------------------------------------------------------------------------

class ResumptionProblemOut(Schema):
    id: int
    enterprise_id: int
    application_id: int | None
    text: str
    owner: str
    due_date: dt.date
    state: str
    answer: str
    answered_at: dt.datetime | None


class ResumptionProblemAnswerIn(Schema):
    answer: str = ""  # required (422 naming it)


@router.get("/resumption-problems", response=list[ResumptionProblemOut], summary="Open problems (the morning meeting's list)",
            auth=api_perm("resumption.view"))
def list_problems(request, limit: int = 200, offset: Offset = 0):
    limit = min(max(limit, 1), 500)
    qs = scope(Problem.objects.exclude(state=Problem.State.CLOSED), request.user, "resumption.view").order_by("due_date", "id")
    return list(qs[max(offset, 0): max(offset, 0) + limit])


@router.post("/resumption-problems/{pk}/answer", response=ResumptionProblemOut, auth=api_perm("resumption.answer", obj=Problem))
def answer_problem(request, pk: int, payload: ResumptionProblemAnswerIn):
    p = get_in_scope(Problem.objects.all(), request.user, "resumption.answer", pk=pk)
    return actions.answer_problem(acting_user=request.user, problem=p, answer=payload.answer)


@router.post("/resumption-problems/{pk}/close", response=ResumptionProblemOut, auth=api_perm("resumption.review", obj=Problem))
def close_problem(request, pk: int):
    p = get_in_scope(Problem.objects.all(), request.user, "resumption.review", pk=pk)
    return actions.close_problem(acting_user=request.user, problem=p)


# --- Staff health records --------------------------------------------------------------------

class ResumptionStaffOut(Schema):
    id: int
    enterprise_id: int
    name: str
    id_masked: str
    origin: str | None = Field(None, alias="origin.name")
    return_date: dt.date | None
    health: str
    measure: str | None = Field(None, alias="observation.kind")
    measure_state: str | None = Field(None, alias="observation.state")
    measure_end: dt.date | None = Field(None, alias="observation.planned_end")


class ResumptionStaffIn(Schema):
    # Required (422 naming them): checked by the action, after the enterprise's scope.
    name: str = ""
    id_number: str = ""
    phone: str = ""
    origin_id: int | None = None
    return_date: dt.date | None = None
    address: str = ""


class ResumptionTemperatureIn(Schema):
    temperature: float | None = None
    client_key: str = ""


class ResumptionHealthIn(Schema):
    health: str = ""  # required (422 naming it)


class ResumptionTemperatureOut(Schema):
    day: dt.date
    window: int
    temperature: float | None
    fever: bool
    created: bool


@router.get("/resumption/enterprises/{pk}/staff", response=list[ResumptionStaffOut], summary="The employee health records",
            auth=api_perm("resumption.view", obj=Enterprise))
def list_staff(request, pk: int):
    ent = get_in_scope(Enterprise.objects.all(), request.user, "resumption.view", pk=pk)
    return list(ent.staff.filter(active=True).select_related("origin", "observation"))


@router.post("/resumption/enterprises/{pk}/staff", response={201: ResumptionStaffOut}, summary="Add a worker to the staff list",
             auth=api_perm("resumption.staff", obj=Enterprise))
def add_staff(request, pk: int, payload: ResumptionStaffIn):
    ent = get_in_scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.staff", pk=pk)
    origin = None
    if payload.origin_id is not None:
        origin = Origin.objects.filter(pk=payload.origin_id).first()
        if origin is None:
            raise Invalid({"origin_id": "unknown origin"})
    rec = actions.add_staff(acting_user=request.user, enterprise=ent, name=payload.name, id_number=payload.id_number,
                            phone=payload.phone, origin=origin, return_date=payload.return_date, address=payload.address)
    return Status(201, StaffRecord.objects.select_related("origin", "observation").get(pk=rec.pk))


@router.post("/resumption/enterprises/{pk}/staff/import", response={201: ResumptionImportOut, 422: ResumptionImportRefusedOut},
             summary="The staff list from a spreadsheet (multipart `file`): all rows or none, each error with its row "
                     "and column", auth=api_perm("resumption.staff", obj=Enterprise))
def import_staff(request, pk: int, file: File[UploadedFile] = None):  # optional: the scope first (404), then the file
    """Columns: 姓名, 身份证号, 联系电话, 返回前所在地 (an origin of the inflow table), 返回日期, 居住地址.
    A worker back within the policy's days starts the observation module's measure, as one
    added by hand."""
    from . import imports

    ent = get_in_scope(Enterprise.objects.select_related("organization", "place"), request.user, "resumption.staff", pk=pk)
    if file is None:
        from django.utils.translation import gettext

        raise Invalid({"file": gettext("A CSV or XLSX file with the columns 姓名, 身份证号, and optionally 联系电话, 返回前所在地, "
                                       "返回日期, 居住地址.")})
    result = imports.import_staff(acting_user=request.user, enterprise=ent, upload=file)
    record(request.user, "resumption.import", obj=ent, detail={"kind": "staff", "added": result["added"],
                                                               "errors": len(result["errors"]), "api": True})
    return _import_answer(result)


@router.post("/resumption-staff/{pk}/report", response=ResumptionTemperatureOut, summary="Report an isolated worker's temperature",
             auth=api_perm("resumption.staff", obj=StaffRecord))
def report(request, pk: int, payload: ResumptionTemperatureIn):
    rec = get_in_scope(StaffRecord.objects.select_related("observation"), request.user, "resumption.staff", pk=pk)
    rep = actions.report_temperature(acting_user=request.user, staff=rec, temperature=payload.temperature,
                                     client_key=payload.client_key)
    return {"day": rep.day, "window": rep.window, "temperature": rep.temperature, "fever": rep.fever, "created": rep.created}


@router.post("/resumption-staff/{pk}/health", response=ResumptionStaffOut, summary="Set a worker's health state (medic)",
             auth=api_perm("resumption.health", obj=StaffRecord))
def set_health(request, pk: int, payload: ResumptionHealthIn):
    rec = get_in_scope(StaffRecord.objects.all(), request.user, "resumption.health", pk=pk)
    actions.set_health(acting_user=request.user, staff=rec, health=payload.health)
    return StaffRecord.objects.select_related("origin", "observation").get(pk=rec.pk)


# --- Checklist (admin) ----------------------------------------------------------------------

class ResumptionChecklistItemIn(Schema):
    key: str
    label: str
    quantity: bool = False


class ResumptionChecklistIn(Schema):
    items: list[ResumptionChecklistItemIn]


class ResumptionChecklistOut(Schema):
    id: int
    number: int
    items: list[dict]


@router.get("/resumption-checklist", response=ResumptionChecklistOut, summary="The current checklist version",
            auth=api_perm("resumption.view"))
def get_checklist(request):
    return actions.current_checklist()


@router.post("/resumption-checklist", response={201: ResumptionChecklistOut}, summary="Edit the checklist: a new version",
             auth=api_perm("resumption.checklist"))
def edit_checklist(request, payload: ResumptionChecklistIn):
    return Status(201, actions.edit_checklist(acting_user=request.user, items=[i.dict() for i in payload.items]))


# --- Turnaround -----------------------------------------------------------------------------

class ResumptionTurnaroundOut(Schema):
    key: str
    label: str
    applications: int
    decided: int
    median_minutes: float | None
    review_minutes: float | None
    links: dict[str, float | None]  # median minutes of each link (queries.LINKS)


@router.get("/resumption-turnaround", response=list[ResumptionTurnaroundOut],
            summary="Turnaround per community: submission to decision (median minutes)", auth=api_perm("resumption.view"))
def turnaround(request):
    from . import queries

    return queries.turnaround(request.user)

