"""The demo's resident services, hardship register and hotline (called from core.demo.build_activity).

The first community is served by 4 distribution points of 2 cadres and 6 volunteers each,
each point a named supplies holder (第N发放点, receiving a week's living supplies packs
when it has less than 4 days' left); a week (the 7 days up to today) has a group order (接龙) per day and a round
per point and day, every hand-over issuing its pack from the point's holder in the ledger;
60 service requests in every state; the hardship register with pairings, revisits (some
overdue) issuing masks from the community's station and aid; the hotline's week of calls,
staffed 24 hours by four duty officers on the duty module's shifts of the post "hotline" at
the street's hotline site (assigned by its responsible person the evening before, checked in
and out), with the reference list. Nothing happens after the real now."""
from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.db import transaction

from fangkong.accounts.actions import add_grant
from fangkong.places.actions import create_place
from fangkong.residents.models import Household, Person

SEED_HOUSEHOLDS = 6777
POINTS = 4
WEEK = 7  # the group orders, rounds and hotline rota cover the 7 days up to today
HOTLINE_SHIFTS = ((0, 8 * 60), (8 * 60, 16 * 60), (16 * 60, 24 * 60))  # three 8-hour shifts cover the day


def _account(username, display, role, target):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"first_name": display})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if not user.grants.filter(role=role).exists():
        add_grant(acting_user=None, user=user, role=role, target=target)
    return user


def build(rng: random.Random, tree: dict, staff: dict, days: list[dt.date], real_now, clock, at) -> dict:
    from . import actions
    from .models import Handover, Round

    from fangkong.supplies import actions as supplies
    from fangkong.supplies.models import Holder, Item

    community = tree["communities"][0]
    grids = [g for g in tree["grids"] if g.parent_id == community.pk]
    first, today = days[0], days[-1]
    week = [today - dt.timedelta(days=WEEK - 1 - n) for n in range(WEEK)]
    out = {}
    packs = Item.objects.filter(code="necessities").first()  # 生活用品包 of the supplies catalogue

    # --- Enlarge the community to the seed's households: new buildings in its grids ---------
    with clock(at(week[0], 6 * 60)):
        # Not enlarged: a registry household comes with its residents, and empty ones would
        # stand in every registry page and count (the demo's size is DEMO_PERSONS; at the
        # default 90,000 the first community has about 2,500 households, at the seed's
        # 6,777 only with DEMO_PERSONS of about 245,000).
        missing = 0
        buildings = []
        per_building = 72  # 6 units, 6 floors, 2 flats a floor
        for n in range((missing + per_building - 1) // per_building):
            grid = grids[n % len(grids)]
            buildings.append(create_place(acting_user=None, kind="building", name=f"{grid.name}{n + 1}号楼",
                                          code=f"{grid.code}-B{n + 1:03d}", parent=grid, audit=False))
        new = []
        for i in range(missing):
            b = buildings[i // per_building]
            k = i % per_building
            new.append(Household(place=b, place_path=b.path, tenure="owned",
                                 address=f"{community.name}{b.name}{k // 12 + 1}单元{(k % 12) // 2 + 1}0{k % 2 + 1}室"))
        with transaction.atomic():
            Household.objects.bulk_create(new, batch_size=2000)
        out["households_added"] = missing

        # 4 points, each serving a quarter of the grids (their buildings and compounds), 2 cadres and 6 volunteers.
        points = []
        for p in range(POINTS):
            cadres = [staff["committee"] if p == 0 and c == 0 else
                      _account(f"svc_cadre_{p + 1}_{c + 1}", f"发放点{p + 1}干部{c + 1}", "committee", community) for c in range(2)]
            vols = [_account(f"svc_vol_{p + 1}_{v + 1}", f"发放点{p + 1}志愿者{v + 1}", "volunteer", community) for v in range(6)]
            point = actions.create_point(acting_user=staff["committee"], community=community,
                                         name=f"第{p + 1}发放点", buildings=grids[p::POINTS], staff=cadres + vols)
            # The point's own supplies holder (named after it), supplied by the community's station.
            station = Holder.objects.filter(organization=tree["stations"][0]).first() if tree.get("stations") else None
            holder = supplies.create_holder(acting_user=staff["committee"], kind=Holder.Kind.SITE, name=point.name,
                                            place=community, supplier=station)
            points.append(actions.set_point_holder(acting_user=staff["committee"], point=point, holder=holder))
        duty = [_account("demo_duty", "热线值班员", "duty_officer", tree["street"])] + [
            _account(f"svc_duty_{n}", f"热线值班员{'二三四'[n - 2]}", "duty_officer", tree["street"]) for n in (2, 3, 4)]
        volunteers = [_account(f"svc_vol_{p + 1}_{v + 1}", "", "volunteer", community) for p in range(POINTS) for v in range(6)]
        volunteers.append(staff["volunteer"])  # the demo volunteer (granted over the site): given tasks by the committee

    # --- Distribution rounds: one per point and day over the week --------------------------
    # A point's holder receives a week's packs for its households (the district's allocation)
    # whenever it has less than 4 days' left in the morning; every hand-over issues one pack
    # from it in the ledger.
    rounds = issued = 0
    for day in week:
        for p, point in enumerate(points):
            if at(day, 8 * 60 + p * 5) > real_now:  # today's round opens at eight: not before it is eight
                continue
            households = list(actions.point_households(point).values_list("pk", flat=True))
            item = packs if packs is not None and households else None
            if item is not None:
                with clock(at(day, 7 * 60 + 30 + p)):
                    have = supplies.on_hand(point.holder, item)
                    if have < 4 * len(households):
                        supplies.receive(acting_user=staff["committee"], holder=point.holder, item=item,
                                         quantity=WEEK * len(households) - have, source="allocation",
                                         counterpart="区商务局保供物资")
            with clock(at(day, 8 * 60 + p * 5)):
                rnd = actions.open_round(acting_user=staff["committee"], point=point, day=day, what="蔬菜包、生活用品包",
                                         item=item, quantity_each=1 if item else None)
            rate = 0.93 if day != today else min(0.9, max(0.0, (real_now - at(day, 8 * 60)).total_seconds() / 36000))
            taken = [h for h in households if rng.random() < rate]
            # The first few through the action (as the volunteers' phones do: each issues its
            # pack), the rest of the day's sheet in one go (the marks themselves: one row per
            # household, counted once) and its packs in one ledger entry at the sheet's last mark.
            vol = point.staff.filter(grants__role="volunteer").first()
            marked = 0
            for j, hh_id in enumerate(taken[:5]):
                if at(day, 8 * 60 + 30 + j) > real_now:
                    break
                with clock(at(day, 8 * 60 + 30 + j)):
                    actions.hand_over(acting_user=vol, rnd=rnd, household=Household.objects.get(pk=hh_id))
                marked += 1
            rest = taken[5:] if marked == 5 else []
            marks = [Handover(round=rnd, household_id=h, at=min(at(day, 9 * 60 + (i % 480)), real_now), by=vol)
                     for i, h in enumerate(rest)]
            Handover.objects.bulk_create(marks, batch_size=2000)
            if marks and item is not None:
                with clock(max(m.at for m in marks)):
                    supplies.use_for_task(acting_user=vol, holder=point.holder, item=item, quantity=len(marks),
                                          task="services.round", task_id=rnd.pk, consume=False, recipient=point.name)
            issued += (marked + len(marks)) if item is not None else 0
            if day != today:
                with clock(at(day, 18 * 60)):
                    actions.close_round(acting_user=staff["committee"], rnd=rnd)
            rounds += 1
    out["rounds"] = rounds
    out["handovers"] = Handover.objects.filter(round__in=Round.objects.filter(point__in=points)).count()
    out["packs_issued"] = issued

    # --- Group orders: one per day for a building, households adding quantities ---------------
    orders = 0
    for d, day in enumerate(week):
        b = buildings[d % len(buildings)] if buildings else grids[d % len(grids)]
        opened = at(day, 7 * 60)
        if opened > real_now:
            continue
        with clock(opened):
            order = actions.open_order(acting_user=staff["committee"], place=b, title=f"{day:%m月%d日}蔬菜肉蛋接龙",
                                       items=["蔬菜包", "鸡蛋(30枚)", "猪肉(1斤)", "大米(10斤)"],
                                       closes_at=at(day, 20 * 60))
        hhs = list(Household.objects.filter(place_path__startswith=b.path).order_by("pk")[:40])
        for i, hh in enumerate(hhs):
            moment = at(day, 7 * 60 + 10 + i * 5)
            if moment > real_now:
                break
            with clock(moment):
                for item in rng.sample(order.items, rng.randint(1, 3)):
                    actions.set_quantity(acting_user=None, order=order, household=hh, item=item, quantity=rng.randint(1, 3))
        if at(day, 20 * 60) <= real_now:
            with clock(at(day, 20 * 60 + 1)):
                actions.close_order(acting_user=staff["committee"], order=order)
        orders += 1
    out["group_orders"] = orders

    # --- Service requests: 60, ten in each state -------------------------------------------
    persons = list(Person.objects.filter(place_path__startswith=community.path, tags__contains=",elderly_alone,")[:40])
    persons += list(Person.objects.filter(place_path__startswith=community.path).exclude(
        tags__contains=",elderly_alone,").order_by("pk")[:60 - len(persons)])
    kinds = ["medicine", "groceries", "meals", "errand", "other"]
    texts = {"medicine": "降压药（硝苯地平缓释片）一盒", "groceries": "蔬菜、鸡蛋、挂面", "meals": "午餐一份（少盐）",
             "errand": "代缴水电费", "other": "帮忙取快递"}
    states = ["requested", "accepted", "bought", "delivered", "settled", "cancelled"]
    made = 0
    for i, person in enumerate(persons[:60]):
        target = states[i % len(states)]
        day = days[min(len(days) - 1, i % len(days))] if target != "requested" else today
        start = at(day, 8 * 60 + i * 7)
        if start > real_now:
            start = real_now - dt.timedelta(minutes=60 - i % 60)
        kind = kinds[i % len(kinds)]
        with clock(start):
            req = actions.create_request(acting_user=staff["grid_worker"], person=person, kind=kind, text=texts[kind],
                                         source="staff" if i % 3 else "link")
        vol = volunteers[i % len(volunteers)]
        steps = {"accepted": ["accept"], "bought": ["accept", "bought"], "delivered": ["accept", "bought", "deliver"],
                 "settled": ["accept", "bought", "deliver", "settle"], "cancelled": ["cancel"]}.get(target, [])
        for s, step in enumerate(steps):
            moment = min(start + dt.timedelta(minutes=20 * (s + 1)), real_now)
            with clock(moment):
                if step == "accept" and vol == staff["volunteer"]:
                    req = actions.transition(acting_user=staff["committee"], request=req, action="assign", assignee=vol)
                elif step == "cancel":
                    req = actions.transition(acting_user=staff["committee"], request=req, action="cancel", note="居民已自行解决")
                else:
                    req = actions.transition(acting_user=vol, request=req, action=step, amount="36.50", code=req.code)
        made += 1
    out["service_requests"] = made

    # --- Hardship register: 30 cases, paired, revisited (a few overdue), aid ------------------
    partners = [staff["committee"], staff["grid_worker"]] + [_account(f"svc_party_{n + 1}", f"党员{n + 1}", "volunteer", community)
                                                             for n in range(4)]
    categories = ["elderly_alone", "subsistence", "child", "illness", "disabled"]
    cases = 0
    with clock(at(first, 9 * 60)):
        for i, person in enumerate(persons[:30]):
            case = actions.register_case(acting_user=staff["committee"], person=person, category=categories[i % 5],
                                         cause=["独居，子女在外地", "低保户", "父母务工在外", "重病治疗", "残疾"][i % 5],
                                         degree=1 + i % 3, health=["高血压", "糖尿病", "良好", "术后康复", "行动不便"][i % 5],
                                         revisit_days=3)
            actions.pair(acting_user=staff["committee"], case=case, partner=partners[i % len(partners)], start=first)
            if i % 4:
                actions.apply_aid(acting_user=staff["committee"], case=case, kind="慰问金", amount="500",
                                  source="工会帮扶基金")
            cases += 1
    from fangkong.lib.workflow import Conflict

    from .models import AidGrant, HardshipCase

    # The revisits bring masks issued from the community's station (a named holder of the ledger).
    station = Holder.objects.filter(organization=tree["stations"][0]).first() if tree.get("stations") else None
    masks = Item.objects.filter(code="masks").first()
    for i, case in enumerate(HardshipCase.objects.filter(person__in=persons[:30]).order_by("pk")):
        if station is not None:
            with clock(at(first, 9 * 60 + 5)):
                actions.set_case_holder(acting_user=staff["committee"], case=case, holder=station)
        if i % 5 == 0:
            continue  # never revisited since the first day: overdue
        moment = at(days[min(len(days) - 1, 1 + i % 3)], 15 * 60)
        if moment > real_now:
            continue
        with clock(moment):
            given = dict(given="大米、面粉、食用油、口罩", notes="身体状况稳定")
            try:
                actions.revisit(acting_user=case.partner, case=case, item=masks if station else None, quantity=20, **given)
            except Conflict:  # the station ran out of masks: the visit without them
                actions.revisit(acting_user=case.partner, case=case, **given)
    with clock(at(first, 16 * 60)):
        for grant in AidGrant.objects.filter(case__person__in=persons[:30])[:10]:
            actions.approve_aid(acting_user=staff["committee"], grant=grant)
    out["hardship_cases"] = cases

    # --- Hotline: the reference list, the week's 24-hour rota and calls ------------------------
    with clock(at(week[0], 6 * 60 + 10)):
        for title, body, address, hours, keywords in (
            ("发热门诊", "区人民医院发热门诊，发热患者请戴口罩前往，勿乘公共交通", "人民路1号", "24小时", "发烧 发热 fever"),
            ("核酸检测点", "社区卫生服务中心核酸采样点", "建设路88号", "8:00-17:00", "核酸 检测"),
            ("返程报备", "外地返回须提前向社区报备，并按要求进行健康监测", "", "", "返回 报备 返程"),
            ("购药", "可通过社区帮办代购药品，或由热线转居委会", "", "", "药 买药 代购"),
        ):
            actions.save_reference(acting_user=duty[0], place_path=tree["street"].path, title=title, body=body,
                                   address=address, hours=hours, keywords=keywords)
    on_shift, assignments = _hotline_rota(tree, duty, week, real_now, clock, at, rng)
    out["hotline_shifts"] = assignments
    topics = ["fever_clinic", "medicine", "supplies", "policy", "travel", "complaint", "other"]
    questions = {"fever_clinic": "发热门诊在哪里？", "medicine": "家里老人的药吃完了，怎么买？", "supplies": "小区什么时候发菜？",
                 "policy": "外地回来要隔离几天？", "travel": "返程需要什么手续？", "complaint": "楼道里有人不戴口罩",
                 "other": "快递能送进小区吗？"}
    calls = 0
    for day in week:
        for n in range(8):
            received = at(day, 7 * 60 + n * 100 + rng.randint(0, 40))
            if received > real_now:
                break
            topic = topics[(n + day.day) % len(topics)]
            officer = on_shift(received)  # whoever is on the hotline answers, and owns the call
            with clock(received):
                call = actions.new_call(acting_user=officer, topic=topic, question=questions[topic],
                                        answer="已答复并告知地址和时间" if topic == "fever_clinic" else "",
                                        caller_name=rng.choice("王李张刘陈") + "先生", phone=f"139{rng.randint(0, 99999999):08d}")
            closes = received + dt.timedelta(minutes=rng.randint(5, 600))
            if closes <= real_now and n % 4:
                with clock(closes):
                    actions.close_call(acting_user=officer, call=call, outcome="已答复，来电人满意")
            calls += 1
    if duty and real_now > at(today, 6 * 60 + 20):
        with clock(at(today, 6 * 60 + 20)):
            actions.ring(acting_user=on_shift(at(today, 6 * 60 + 20)), phone="13900000001", caller_name="未接来电")
    out["calls"] = calls
    return out


def _hotline_rota(tree, officers, week, real_now, clock, at, rng):
    """The street's hotline on the duty module: a site at the street with its responsible
    person, the officers deployed there, three 8-hour shifts of the post "hotline" a day over
    the week and tomorrow, each day's planned and assigned the evening before (in turn, so no
    one passes the 48-hour weekly limit), checked into on arrival and out at the end. Returns
    (who is on shift at a moment, the assignments made)."""
    from fangkong.duty import actions as duty
    from fangkong.places.actions import create_organization

    street = tree["street"]
    eve = at(week[0] - dt.timedelta(days=1), 17 * 60 + 50)
    with clock(eve):
        site = create_organization(acting_user=None, kind="site", name=f"{street.name}热线值守点", code="DEMO-HOTLINE",
                                   place=street, audit=False)
        lead = _account("svc_hotline_lead", "热线值班负责人", "site_lead", site)
        for officer in officers:
            duty.deploy(acting_user=lead, user=officer, site=site, kind="cadre", starts_on=week[0])
    plan = {}
    made = []
    for d, day in enumerate(week + [week[-1] + dt.timedelta(days=1)]):
        planned_at = at(day - dt.timedelta(days=1), 18 * 60)
        if planned_at > real_now:
            continue
        with clock(planned_at):
            for k, (start, end) in enumerate(HOTLINE_SHIFTS):
                officer = officers[(d * len(HOTLINE_SHIFTS) + k) % len(officers)]
                shift = duty.create_shift(acting_user=lead, site=site, post="hotline", post_name="24小时热线",
                                          starts_at=at(day, start), ends_at=at(day, end), slots=1)
                made.append(duty.assign(acting_user=lead, shift=shift, user=officer))
                plan[(shift.starts_at, shift.ends_at)] = officer
    for a in made:
        arrive = a.shift.starts_at - dt.timedelta(minutes=rng.randint(2, 10))
        if arrive > real_now:
            continue
        with clock(arrive):
            duty.check(acting_user=a.user, assignment_id=a.pk, direction="in", client_id=f"demo-hotline-in-{a.pk}")
        leave = a.shift.ends_at + dt.timedelta(minutes=rng.randint(0, 5))
        if leave > real_now:
            continue
        with clock(leave):
            duty.check(acting_user=a.user, assignment_id=a.pk, direction="out", client_id=f"demo-hotline-out-{a.pk}",
                       note=rng.choice(["", "", "接听来电，均已答复", "交接未结来电"]))

    def on_shift(moment):
        for (start, end), officer in plan.items():
            if start <= moment < end:
                return officer
        return officers[0]

    return on_shift, len(made)
