"""Work resumption in the demo street, at seed 004's scale: about 220 enterprises and shops
registered in the grid, 108 applications in every state (78 approved: resumed, approved or
suspended since), 267 returning workers on the staff lists, those back from elsewhere within
their days under home or centralized observation, a few supervision inspections with a
failed item and its problem, problems answered at the morning meeting. Everything through
the module's own actions, each at the time it claims (core.demo.clock)."""
from __future__ import annotations

import datetime as dt

from fangkong.lib.workflow import Conflict, Invalid

# (state, how many): 108 applications, 78 of them approved (resumed, approved, suspended).
PLAN = [("resumed", 66), ("approved", 8), ("suspended", 4), ("onsite", 7), ("review", 8), ("submitted", 5),
        ("returned", 6), ("withdrawn", 2), ("draft", 2)]
ENTERPRISES = 220
RETURNING = 267
SECTORS = ["firm", "shop", "shop", "hotel", "factory", "building"]
NAMES = {"firm": "科技有限公司", "shop": "商行", "hotel": "酒店", "factory": "制造厂", "building": "商务楼"}
PROBLEMS = ["缺少员工健康档案", "消毒记录不全", "未落实错峰就餐", "口罩储备不足", "进出登记簿未建立", "防疫专员未培训"]


def build(rng, tree, staff, days, real_now, *, kit) -> dict:
    _at, clock = kit._at, kit.clock  # kit: fangkong.core.demo, passed in (a module never imports the demo above it)
    synthetic_id, synthetic_name, synthetic_phone = kit.synthetic_id, kit.synthetic_name, kit.synthetic_phone
    from fangkong.inflow.models import Origin

    from . import actions
    from .models import Application, SiteCheck

    first = days[0]
    community = tree["communities"][0]
    home_grids = [g for g in tree["grids"] if g.parent_id == community.pk]
    other_grids = [g for g in tree["grids"] if g.parent_id != community.pk]
    committee, liaison = staff["committee"], staff["unit_liaison"]

    # Enterprises: the applicants in the first community's grids (its committee reviews,
    # its grid workers check), the others across the street; the demo liaison's unit is one.
    ents = []
    with clock(_at(first, 7 * 60 + 50)):
        ents.append(actions.register_enterprise(
            acting_user=committee, name="", code="", place=tree["grids"][0], organization=tree["employers"][0],
            sector="factory", size=120, priority="key", pilot=True, officer_name="王防疫", address="示范路1号", audit=False))
        for i in range(1, ENTERPRISES):
            applicant = i < sum(n for _s, n in PLAN)
            grid = home_grids[i % len(home_grids)] if applicant else other_grids[i % len(other_grids)]
            sector = SECTORS[i % len(SECTORS)]
            ents.append(actions.register_enterprise(
                acting_user=committee, name=f"示范{i:03d}{NAMES[sector]}", code=f"DEMO-QY{i:03d}", place=grid, sector=sector,
                size=rng.randint(3, 300), priority="essential" if i % 9 == 0 else "key" if i % 4 == 0 else "ordinary",
                pilot=i % 25 == 0, officer_name=synthetic_name(rng), address=f"{grid.name}{i}号", audit=False))

    def worker_for(ent):
        return staff["grid_workers"].get(ent.place_id) or staff["grid_worker"]

    states = [s for s, n in PLAN for _ in range(n)]
    apps = []
    for i, (ent, state) in enumerate(zip(ents, states)):
        # Applied on one of the past days (never today: nothing happens after now), decided the same day.
        day = days[0] if state == "suspended" else days[i % (len(days) - 1)]
        t = _at(day, 8 * 60 + (i * 13) % 420)
        actor = liaison if ent.organization_id == tree["employers"][0].pk else None
        with clock(t):
            app = actions.create_application(acting_user=actor, enterprise=ent, planned_date=day + dt.timedelta(days=1),
                                             headcount=rng.randint(2, 80), measures="每日两次消毒；入口测温；分批错峰就餐",
                                             submit=state != "draft")
        steps = {"draft": [], "submitted": [], "withdrawn": ["withdraw"], "review": ["review"],
                 "returned": ["review", "return"], "onsite": ["review", "assign"]}.get(state, ["review", "assign", "check"])
        if state in ("resumed", "approved", "suspended") and i % 5 == 0:
            steps = ["review", "return", "answer", "resubmit", "assign", "check"]  # returned once, then approved
        for step in steps:
            t += dt.timedelta(minutes=rng.randint(15, 50))
            with clock(t):
                if step == "return":
                    app = actions.transition(acting_user=committee, app=app, action="return",
                                             problems=rng.sample(PROBLEMS, 2))
                elif step == "answer":
                    for p in app.problems.filter(state="open"):
                        p = actions.answer_problem(acting_user=actor, problem=p, answer="已整改，补充材料已上传")
                        actions.close_problem(acting_user=committee, problem=p)
                elif step == "assign":
                    app = actions.transition(acting_user=committee, app=app, action="assign", checkers=[worker_for(ent)],
                                             check_date=day)
                elif step == "check":
                    check = SiteCheck.objects.get(application=app, state="assigned")
                    answers = {item["key"]: {"result": "pass", "quantity": rng.randint(50, 2000) if item["quantity"] else None}
                               for item in check.checklist.items}
                    actions.finish_check(acting_user=worker_for(ent), check=check, answers=answers)
                    app.refresh_from_db()
                else:
                    app = actions.transition(acting_user=actor if step in ("withdraw", "resubmit") else committee, app=app,
                                             action=step)
        if state in ("resumed", "suspended"):
            with clock(min(_at(day + dt.timedelta(days=1), 7 * 60 + i % 50), real_now - dt.timedelta(minutes=1))):
                app = actions.transition(acting_user=actor, app=app, action="resume", restart_date=day + dt.timedelta(days=1))
        apps.append(app)

    # Supervision: some resumed enterprises inspected on the later days; one failed item each
    # for a few (a problem with its rectification deadline, some answered); the suspended
    # ones failed twice.
    resumed = [a for a in apps if a.state == "resumed"]
    inspected = 0
    for j, app in enumerate(resumed[:40]):
        day = days[-2] if j % 2 else days[-3]
        if app.resumed_on is None or app.resumed_on >= day or inspected >= 24:
            continue
        ent = app.enterprise
        with clock(_at(day, 14 * 60 + j * 7)):
            try:
                check = actions.start_inspection(acting_user=worker_for(ent), enterprise=ent, due_date=day)
            except Conflict:
                continue
            answers = {item["key"]: {"result": "pass", "quantity": rng.randint(50, 2000) if item["quantity"] else None}
                       for item in check.checklist.items}
            if j % 4 == 0:
                answers["canteen"] = {"result": "fail", "note": "未错峰就餐"}
            actions.finish_check(acting_user=worker_for(ent), check=check, answers=answers)
            inspected += 1
    for app in [a for a, s in zip(apps, states) if s == "suspended"]:
        with clock(_at(days[-2], 17 * 60)):
            app = actions.transition(acting_user=committee, app=app, action="suspend", reason="两次督查不合格，停工整改")

    # Returning workers on the staff lists of the enterprises that applied: from elsewhere,
    # back over the past three weeks; within the policy's days they are observed.
    origins = {o.risk: o for o in Origin.objects.filter(name__in=["湖北省", "河南省", "广东省", "山东省"])}
    pool = [origins[r] for r in ("medium", "medium", "low", "none", "high") if r in origins]
    staffed = [a.enterprise for a in apps if a.state in ("resumed", "approved", "suspended", "onsite", "review")]
    used: set[str] = set()
    added = isolated = 0
    today = days[-1]
    for n in range(RETURNING if pool else 0):
        ent = ents[0] if n < 6 else staffed[n % len(staffed)]
        origin = pool[n % len(pool)]
        back = today - dt.timedelta(days=(n * 7) % 45 + 1)
        with clock(_at(back, 20 * 60) if back >= first else _at(first, 8 * 60 + n % 60)):
            try:
                rec = actions.add_staff(acting_user=liaison if ent is ents[0] else None, enterprise=ent,
                                        name=synthetic_name(rng), id_number=synthetic_id(rng, used),
                                        phone=synthetic_phone(rng), origin=origin, return_date=back, address=f"{ent.name}宿舍")
            except (Conflict, Invalid):
                continue
        added += 1
        isolated += rec.observation_id is not None
    # The demo liaison reports its isolated workers' temperatures twice a day.
    from fangkong.observation import actions as observation

    for rec in ents[0].staff.filter(observation__state="active"):
        day = max(rec.observation.start_date, first)
        while day < today:
            for w, (opens, _closes) in enumerate(observation.windows()):
                moment = _at(day, opens.hour * 60 + opens.minute + 40 + w)
                if moment > real_now:
                    continue
                with clock(moment):
                    try:
                        actions.report_temperature(acting_user=liaison, staff=rec, temperature=f"36.{rng.randint(2, 7)}", at=moment)
                    except (Conflict, Invalid):
                        pass
            day += dt.timedelta(days=1)
    counts = {s: Application.objects.filter(state=s).count() for s, _n in PLAN}
    return {"enterprises": len(ents), "resumption_applications": len(apps), "resumption_states": counts,
            "returning_workers": added, "staff_isolated": isolated, "inspections": inspected}
