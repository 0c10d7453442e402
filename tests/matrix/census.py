"""Matrix objects of the census: a running campaign over grid A1, and an open follow-up of
a risky answer in household A1 (compound A1Y)."""
from __future__ import annotations

from fangkong.census import actions
from fangkong.census.models import Campaign, FollowUp
from fangkong.census.standard import standard


def campaign(cast):
    import datetime as dt

    c = actions.create_campaign(acting_user=None, name="矩阵普查", place=cast.grid_a1, start_date=dt.date.today(),
                                end_date=dt.date.today(), questionnaire=standard())
    return actions.transition(acting_user=None, campaign=c, action="start")


def followup(cast):
    c = campaign(cast)
    answers = {"source_area": "yes", "contact_source": "no", "contact_confirmed": "no", "gathering": "no"}
    visit = actions.record_visit(acting_user=None, campaign=c, household=cast.hh_a1, outcome="reached",
                                 members={cast.person_a1.pk: answers})
    return visit.followups.get()


OBJECTS = {Campaign: campaign, FollowUp: followup}
