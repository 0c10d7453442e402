"""Matrix objects of command: the street's headquarters with a meeting, a decision, a working
group, a draft notice and an inspection plan (street scope: only street grants reach them); a receipt of
community A (a published notice) and a finding at compound A1Y."""
from __future__ import annotations

import datetime as dt
import itertools

from fangkong.command import actions
from fangkong.command.models import (Decision, Finding, Headquarters, InspectionPlan, Meeting, Notice, Receipt,
                                     WorkingGroup)
from tests.cast import make_user

_seq = itertools.count(1)


def hq(cast) -> Headquarters:
    found = Headquarters.objects.filter(place=cast.street).first()
    return found or actions.create_hq(acting_user=None, place=cast.street, name="测试街道疫情防控指挥部")


def meeting(cast) -> Meeting:
    return actions.create_meeting(acting_user=None, hq=hq(cast), date=dt.date(2020, 1, 1) + dt.timedelta(days=next(_seq)))


def decision(cast) -> Decision:
    m = meeting(cast)
    group = hq(cast).groups.first() or actions.add_group(acting_user=None, hq=hq(cast), name="综合协调组")
    return actions.add_decision(acting_user=None, meeting=m, text="封闭小区次要出入口", deadline=m.date, owner_group=group)


def group(cast) -> WorkingGroup:
    return actions.add_group(acting_user=None, hq=hq(cast), name=f"工作组{next(_seq)}")


def notice(cast) -> Notice:
    return actions.draft_notice(acting_user=None, hq=hq(cast), title="关于实行小区半封闭管理的通告", body="正文",
                                places=[cast.comm_a])


def receipt(cast) -> Receipt:
    n = notice(cast)
    actions.notice_action(acting_user=None, notice=n, action="submit")
    n = actions.publish(acting_user=None, notice=n)
    return n.receipts.get(place=cast.comm_a)


def _team(cast):
    h = hq(cast)
    team = h.teams.first()
    if team is None:
        team = actions.create_team(acting_user=None, hq=h, name="第一督导组",
                                   members=[make_user(f"matrix_inspector_{next(_seq)}", [("inspector", cast.street)])])
    return team


def plan(cast) -> InspectionPlan:
    return actions.create_plan(acting_user=None, team=_team(cast), day=dt.date.today())


def finding(cast) -> Finding:
    p = plan(cast)
    member = p.team.members.first()
    f, _created = actions.record_finding(acting_user=member, plan=p, place=cast.compound_a1, category="gate",
                                         text="东门无人值守", responsible="物业", deadline=dt.date.today() + dt.timedelta(days=1))
    return f


OBJECTS = {Meeting: meeting, WorkingGroup: group, Decision: decision, Notice: notice, Receipt: receipt, InspectionPlan: plan, Finding: finding}
