"""The demo street's command (issue 21 item 11): an HQ with 8 working groups, a meeting
every morning of the story's days (five, as every module's story) whose decisions are followed up (a few left open, one overdue),
notices No. 1-3 with their receipts (two communities late on No. 3, reminded), 4 inspection
teams visiting unannounced every day with findings (some fixed on the spot, some rectified
and verified, some overdue), and the compounds' entrances: 40 checkpoints, 35 of them sealed
over three days under notice No. 3. Each action at the time it claims (core.demo.clock)."""
from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model

from fangkong.places.actions import create_place

from . import actions
from .models import AccessPoint, Finding  # noqa: F401

GROUPS = [
    ("综合协调组", "统筹协调、会议组织、信息汇总"), ("社区防控组", "小区封闭管理、网格排查"),
    ("医疗救治组", "预检分诊、发热病人转运"), ("宣传舆情组", "通告发布、舆情引导"),
    ("物资保障组", "防护物资、生活物资保障"), ("督导检查组", "督导检查、问题整改"),
    ("复工复产组", "企业复工审核与指导"), ("安全稳定组", "治安巡逻、矛盾化解"),
]
NOTICES = [
    ("关于暂停营业性场所经营活动的通告", "辖区内网吧、KTV、棋牌室等营业性场所一律暂停营业，恢复时间另行通知。"),
    ("关于减少人员流动的通告", "居民非必要不外出，确需外出的须佩戴口罩、配合测温登记。"),
    ("关于实行小区半封闭管理的通告", "辖区各小区实行半封闭管理，只保留一个出入口，其余出入口一律封闭；出入人员一律测温、登记、查验通行证。"),
]
DECISIONS = [
    ("各社区当日完成独居老人走访", 0), ("补充测温枪和口罩各200件到各卡口", 4), ("核查返岗人员名单并反馈协调站", 1),
    ("督导组重点检查农贸市场和诊所", 5), ("小区次要出入口完成封闭", 1), ("发布疫情防控告知书", 3),
    ("企业复工申请当日审核完毕", 6), ("夜间巡逻增加一个班次", 7),
]
FINDINGS = [
    ("gate", "次要出入口未封闭且无人值守", "物业"), ("check", "门岗未测体温、未查验通行证", "门岗值守人员"),
    ("register", "外来人员登记不全", "门岗值守人员"), ("mask", "商户未佩戴口罩", "市场管理方"),
    ("disinfect", "公共区域未按要求消毒", "物业"), ("crowd", "广场有人员聚集", "社区居委会"),
    ("supplies", "卡口测温枪不足", "社区居委会"),
]
ENTRANCES_PER_COMPOUND = 5
SEALED = 35


def build(rng: random.Random, tree: dict, staff: dict, days: list[dt.date], *, kit) -> dict:
    """`days`: the story's days, the last one today (up to now: nothing later happens);
    `kit`: fangkong.core.demo, passed in (a module never imports the demo above it)."""
    _at, clock = kit._at, kit.clock
    from django.utils import timezone

    street, communities, compounds = tree["street"], tree["communities"], tree["compounds"]
    commander, coordinator, committee = staff["commander"], staff["coordinator"], staff["committee"]
    real_now = timezone.now()
    first, today = days[0], days[-1]
    User = get_user_model()

    def at(day, minutes):
        moment = _at(day, minutes)
        return moment if moment <= real_now else None

    def own(place):  # the demo committee acts for its own community; the rest by the system
        return committee if place.path.startswith(communities[0].path) else None

    def colleague(username, display, role, target):
        from fangkong.accounts.actions import add_grant

        user, created = User.objects.get_or_create(username=username, defaults={"first_name": display})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            add_grant(acting_user=None, user=user, role=role, target=target)
        return user

    with clock(_at(first, 7 * 60)):
        hq = actions.create_hq(acting_user=commander, place=street, name=f"{street.name}新冠肺炎疫情防控指挥部",
                               commanders="街道党工委书记、街道办事处主任")
        groups = [actions.add_group(acting_user=coordinator, hq=hq, name=name, remit=remit,
                                    leader=coordinator if i == 0 else commander, members=[coordinator, commander])
                  for i, (name, remit) in enumerate(GROUPS)]
        inspectors = [staff.get("inspector") or colleague("inspector_1", "第一督导组督导员", "inspector", street)]
        inspectors += [colleague(f"inspector_{n}", f"第{'一二三四'[n - 1]}督导组督导员", "inspector", street) for n in (2, 3, 4)]
        teams = [actions.create_team(acting_user=coordinator, hq=hq, name=f"第{'一二三四'[i]}督导组", members=[inspectors[i]])
                 for i in range(4)]
        entrances = []
        for c in compounds:
            for k in range(ENTRANCES_PER_COMPOUND):
                side = ["东门", "南门", "西门", "北门", "车行出入口"][k]
                entrances.append(create_place(acting_user=None, kind="checkpoint", name=f"{c.name}{side}",
                                              code=f"{c.code}-E{k + 1}", parent=c, audit=False))

    # A meeting every morning; its decisions done (most verified the next morning).
    decisions = []
    for n, day in enumerate(days):
        if at(day, 8 * 60 + 30) is None:
            continue
        with clock(_at(day, 8 * 60)):
            m = actions.create_meeting(acting_user=coordinator, hq=hq, date=day,
                                       agenda="一、通报疫情形势；二、研究部署当日工作；三、督办上次会议决定",
                                       attendees="总指挥、副总指挥、各工作组组长")
            for k in range(2):
                text, g = DECISIONS[(n * 2 + k) % len(DECISIONS)]
                decisions.append(actions.add_decision(acting_user=coordinator, meeting=m, text=text,
                                                      deadline=day + dt.timedelta(days=1), owner_group=groups[g]))
            actions.update_minutes(acting_user=coordinator, meeting=m, minutes="会议听取各组汇报，逐项研究问题并明确责任组和完成时限。")
    for i, d in enumerate(decisions):
        if d.meeting.date >= days[-2] or i == 3:  # the last two days' decisions open; one overdue
            continue
        with clock(_at(d.meeting.date, 17 * 60 + i)):
            d = actions.decide(acting_user=coordinator, decision=d, action="done", note="已按时完成")
        if i % 3:
            with clock(_at(d.meeting.date + dt.timedelta(days=1), 8 * 60 + 30)):
                actions.decide(acting_user=commander, decision=d, action="verify")

    # Notices No. 1-3 in the first two days, to every community; two communities late on No. 3.
    notices = []
    for n, (title, body) in enumerate(NOTICES):
        day, minutes = (days[0], 9 * 60) if n == 0 else (days[0], 14 * 60) if n == 1 else (days[1], 9 * 60)
        with clock(_at(day, minutes)):
            draft = actions.draft_notice(acting_user=coordinator, hq=hq, title=title, body=body, places=communities,
                                         orgs=tree["employers"][:1] if n == 1 else (),
                                         entrances=entrances[:SEALED] if n == 2 else ())
            draft = actions.notice_action(acting_user=coordinator, notice=draft, action="submit")
        with clock(_at(day, minutes + 40)):
            notice = actions.publish(acting_user=commander, notice=draft)
        notices.append(notice)
        for r in notice.receipts.filter(org__isnull=False):  # the unit read it, not yet carried out
            with clock(_at(day, minutes + 90)):
                actions.confirm(acting_user=staff["unit_liaison"], receipt=r, step="read")
        for i, r in enumerate(notice.receipts.filter(place__isnull=False).select_related("place").order_by("place__code")):
            if n == 2 and i >= len(communities) - 2:
                continue  # late: reminded below
            with clock(_at(day, minutes + 60 + i * 7)):
                actions.confirm(acting_user=own(r.place), receipt=r, step="read")
            with clock(_at(day, minutes + 180 + i * 11)):
                actions.confirm(acting_user=own(r.place), receipt=r, step="done", note="已在小区公告栏张贴并落实")
    with clock(_at(days[2], 9 * 60)):
        actions.remind(acting_user=commander, notice=notices[2])

    # 35 entrances sealed in three days under notice No. 3; the other five stay open and guarded.
    for i, place in enumerate(entrances[:SEALED]):
        day = days[1 + i * 3 // SEALED]
        with clock(_at(day, 12 * 60 + (i % 12) * 20)):
            actions.set_point(acting_user=commander, point=actions.point_for(place),
                              state=AccessPoint.State.SEALED, notice=notices[2])

    # Every day each team visits unannounced: compounds, clinics, markets, enterprises, roads.
    targets = [("compound", None), ("market", None), ("enterprise", tree["employers"][0]), ("road", None), ("clinic", None)]
    findings = 0
    for n, day in enumerate(days):
        for t, team in enumerate(teams):
            if at(day, 9 * 60 + t * 40 + 30) is None:
                continue
            with clock(_at(day, 7 * 60 + 30)):
                plan = actions.create_plan(acting_user=coordinator, team=team, day=day, announced=False,
                                           focus="直奔问题，立说立改")
            for k in range(2):
                category, text, responsible = FINDINGS[(n + t + k) % len(FINDINGS)]
                target, org = targets[(t + k) % len(targets)]
                place = org.place if org is not None else compounds[(n + t + k) % len(compounds)]
                on_spot = (n + t + k) % 3 == 0
                with clock(_at(day, 9 * 60 + t * 40 + k * 15)) as now:
                    f, _created = actions.record_finding(
                        acting_user=team.members.first(), plan=plan, place=place, org=org, target=target,
                        category=category, text=text, responsible=responsible, fixed_on_spot=on_spot,
                        deadline=None if on_spot else timezone.localdate(now) + dt.timedelta(days=1 + k), now=now)
                findings += 1
                if f.state == Finding.State.OPEN and day < days[-3] and (t + k) % 4 != 3:
                    with clock(_at(day + dt.timedelta(days=1), 10 * 60)):
                        f = actions.finding_action(acting_user=own(place), finding=f, action="rectified", note="已整改到位")
                if f.state == Finding.State.FIXED and at(day + dt.timedelta(days=1), 16 * 60):
                    with clock(_at(day + dt.timedelta(days=1), 16 * 60)):
                        actions.finding_action(acting_user=team.members.first(), finding=f, action="verify")
    with clock(min(real_now, _at(today, 6 * 60))):
        actions.escalate_overdue()
    return {"meetings": sum(1 for d in days if at(d, 8 * 60 + 30)), "decisions": len(decisions), "notices": len(notices),
            "findings": findings, "sealed": SEALED}
