"""JSON API of the census: the same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from fangkong.lib.apitypes import Offset
from fangkong.audit.actions import record
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, places_in_scope
from fangkong.residents.models import Household
from fangkong.residents.api import PersonRef

from . import actions, queries
from .models import Campaign, FollowUp, Questionnaire

router = Router(tags=["census"])


class CampaignOut(Schema):
    id: int
    name: str
    place_id: int
    questionnaire_id: int
    start_date: dt.date
    end_date: dt.date
    state: str


class CampaignIn(Schema):
    name: str = ""
    place_id: int | None = None
    questionnaire_id: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class CoverageRowOut(Schema):
    place_id: int
    name: str
    kind: str
    households: int
    reached: int


class CoverageOut(Schema):
    campaign_id: int
    household_visits: int
    person_visits: int
    households: int
    reached: int
    followups_open: int
    communities: list[CoverageRowOut]
    grids: list[CoverageRowOut]


class VisitIn(Schema):
    household_id: int | None = None
    outcome: str = ""
    # {person id: {question key: value}}; multiple choice: a list of values
    members: dict[str, dict[str, str | float | int | list[str] | None]] = {}
    note: str = ""
    client_key: str = ""


class VisitOut(Schema):
    id: int
    campaign_id: int
    household_id: int
    outcome: str
    persons: int
    visited_at: dt.datetime
    followups: int

    @staticmethod
    def resolve_followups(obj):
        return obj.followups.count()


@router.get("/census/campaigns", response=list[CampaignOut], summary="Census campaigns visible to the user",
            auth=api_perm("census.view"))
def list_campaigns(request):
    return list(queries.campaigns(request.user).order_by("-start_date", "-id")[:200])


@router.post("/census/campaigns", response={201: CampaignOut}, summary="Create a census campaign (draft)",
             auth=api_perm("census.manage"))
def create_campaign(request, payload: CampaignIn):
    place = places_in_scope(request.user, "census.manage").filter(pk=payload.place_id).first() if payload.place_id else None
    questionnaire = Questionnaire.objects.filter(pk=payload.questionnaire_id).first() if payload.questionnaire_id else \
        Questionnaire.objects.filter(key="standard").first()
    campaign = actions.create_campaign(acting_user=request.user, name=payload.name, place=place,
                                       start_date=payload.start_date, end_date=payload.end_date,
                                       questionnaire=questionnaire)
    return Status(201, campaign)


def _transition(request, pk: int, action: str):
    campaign = get_in_scope(Campaign.objects.all(), request.user, "census.manage", pk=pk)
    return actions.transition(acting_user=request.user, campaign=campaign, action=action)


@router.post("/census/campaigns/{pk}/start", response=CampaignOut, auth=api_perm("census.manage", obj=Campaign))
def start_campaign(request, pk: int):
    return _transition(request, pk, "start")


@router.post("/census/campaigns/{pk}/close", response=CampaignOut, auth=api_perm("census.manage", obj=Campaign))
def close_campaign(request, pk: int):
    return _transition(request, pk, "close")


@router.get("/census/campaigns/{pk}/coverage", response=CoverageOut,
            summary="户次, 人次 and coverage per community and grid, within the user's scope",
            auth=api_perm("census.view", obj=Campaign))
def coverage(request, pk: int):
    campaign = queries.get_campaign(request.user, "census.view", pk)
    p = queries.progress(request.user, campaign)

    def rows(rs):
        return [{"place_id": r.place.pk, "name": r.place.name, "kind": r.place.kind, "households": r.households,
                 "reached": r.reached} for r in rs]

    return {"campaign_id": campaign.pk, "household_visits": p.household_visits, "person_visits": p.person_visits,
            "households": p.households, "reached": p.reached, "followups_open": p.followups_open,
            "communities": rows(p.communities), "grids": rows(p.grids)}


@router.post("/census/campaigns/{pk}/visits", response={201: VisitOut, 200: VisitOut},
             summary="Record a visit of a household with the answers of each member present",
             auth=api_perm("census.visit", obj=Campaign))
def record_visit(request, pk: int, payload: VisitIn):
    campaign = queries.get_campaign(request.user, "census.visit", pk)
    if payload.household_id is None:
        raise Invalid({"household_id": "required"})
    household = get_in_scope(Household.objects.filter(place_path__under=campaign.place_path), request.user,
                             "census.visit", pk=payload.household_id)
    visit = actions.record_visit(acting_user=request.user, campaign=campaign, household=household,
                                 outcome=payload.outcome, members=payload.members, note=payload.note,
                                 client_key=payload.client_key)
    return Status(201 if visit.created else 200, visit)


# --- Questionnaires ---------------------------------------------------------------------

class QuestionIO(Schema):
    key: str = ""
    text: str = ""
    kind: str = ""
    required: bool = True
    choices: list[str] = []
    risk_values: list[str] = []
    risk_at_least: float | str | None = None


class QuestionnaireOut(Schema):
    id: int
    name: str
    key: str | None
    questions: list[QuestionIO]

    @staticmethod
    def resolve_questions(obj):
        return [{"key": q.key, "text": q.text, "kind": q.kind, "required": q.required, "choices": q.choices,
                 "risk_values": q.risk_values, "risk_at_least": float(q.risk_at_least) if q.risk_at_least is not None else None}
                for q in obj.questions.all()]


class QuestionnaireIn(Schema):
    name: str = ""
    questions: list[QuestionIO] = []


@router.get("/census/questionnaires", response=list[QuestionnaireOut], auth=api_perm("census.view"))
def list_questionnaires(request):
    return list(Questionnaire.objects.prefetch_related("questions"))


@router.post("/census/questionnaires", response={201: QuestionnaireOut},
             summary="A questionnaire: questions with type, required, choices and risk rule", auth=api_perm("census.manage"))
def create_questionnaire(request, payload: QuestionnaireIn):
    q = actions.create_questionnaire(acting_user=request.user, name=payload.name,
                                     questions=[x.dict() for x in payload.questions])
    return Status(201, q)


# --- Follow-ups -------------------------------------------------------------------------

class FollowUpOut(PersonRef):
    id: int
    campaign_id: int
    reason: str
    state: str
    created_at: dt.datetime
    done_note: str


class DoneIn(Schema):
    note: str = ""


class ObserveIn(Schema):
    kind: str = "home_observation"
    days: int = actions.PROPOSED_DAYS


class ObserveOut(Schema):
    followup: FollowUpOut
    observation_id: int


@router.get("/census/followups", response=list[FollowUpOut], auth=api_perm("census.view"))
def list_followups(request, state: str = "open", limit: int = 100, offset: Offset = 0):
    limit, offset = min(max(limit, 1), 500), max(offset, 0)
    record(request.user, "census.followups.list", detail={"state": state, "api": True})
    return list(queries.followups(request.user, state)[offset: offset + limit])


@router.post("/census/followups/{pk}/done", response=FollowUpOut, auth=api_perm("census.visit", obj=FollowUp))
def followup_done(request, pk: int, payload: DoneIn):
    fu = get_in_scope(FollowUp.objects.select_related("person"), request.user, "census.visit", pk=pk)
    return actions.close_followup(acting_user=request.user, followup=fu, note=payload.note)


@router.post("/census/followups/{pk}/observe", response={201: ObserveOut},
             auth=api_perm("observation.start", obj=FollowUp))
def followup_observe(request, pk: int, payload: ObserveIn):
    """Take a follow-up's proposal: start a control measure for its person; the follow-up is done."""
    fu = get_in_scope(FollowUp.objects.select_related("person"), request.user, "observation.start", pk=pk)
    obs = actions.observe_followup(acting_user=request.user, followup=fu, kind=payload.kind, days=payload.days)
    return Status(201, {"followup": fu, "observation_id": obs.pk})
