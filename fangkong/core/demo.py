"""A synthetic street modelled on the seeds: 12 communities, 141 grids, 8 compounds,
66 employer units, 12 stations, about 30,000 households and 90,000 persons by default.
ID numbers are synthetic but checksum-valid (python-stdnum's check digit, real region
codes valid for the birth year); phone numbers are synthetic."""
from __future__ import annotations

import datetime as dt
import logging
import random
import secrets
import sys
from collections.abc import Callable
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone as django_timezone
from stdnum.cn import ric

from fangkong.accounts.actions import add_grant
from fangkong.clinic import demo as clinic_demo
from fangkong.command import demo as command_demo
from fangkong.disinfection import demo as disinfection_demo
from fangkong.duty import demo as duty_demo
from fangkong.resumption import demo as resumption_demo
from fangkong.supplies import demo as supplies_demo
from fangkong.testing import demo as testing_demo
from fangkong.places.actions import create_organization, create_place
from fangkong.places.models import Organization, Place
from fangkong.residents.actions import encrypted_fields
from fangkong.residents.models import TAG_KEYS, Household, Person
from fangkong.services import demo as services_demo

log = logging.getLogger(__name__)

STREET_CODE = "DEMO"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪梓涵子轩浩然雨桐思远一诺欣然子墨梦瑶文博晨曦"
# Region codes that python-stdnum knows as valid for every birth year used below.
REGIONS = ["370102", "370103", "370104", "370105", "370112", "110101", "110105", "310101", "420102", "440103", "510104", "320102"]
COMMUNITY_NAMES = ["东风", "建设", "幸福", "和平", "胜利", "光明", "红旗", "新华", "长青", "文化", "团结", "朝阳"]
COMPOUND_NAMES = ["阳光花园", "金色家园", "翠苑小区", "锦绣华庭", "御景湾", "绿洲新城", "丽景苑", "书香名邸"]
ROLE_ACCOUNTS = [
    ("admin", "demo_admin", "系统管理员"),
    ("commander", "demo_commander", "指挥部"),
    ("coordinator", "demo_coordinator", "协调站"),
    ("committee", "demo_committee", "东风社区居委会"),
    ("grid_worker", "demo_grid", "东风社区第1网格网格员"),
    ("medic", "demo_medic", "社区卫生服务站"),
    ("gate_guard", "demo_guard", "阳光花园门岗"),
    ("unit_liaison", "demo_liaison", "单位联络员"),
    ("volunteer", "demo_volunteer", "志愿者"),
    ("inspector", "demo_inspector", "第一督导组督导员"),
    ("storekeeper", "demo_storekeeper", "街道物资仓库保管员"),
    ("duty_officer", "demo_duty", "热线值班员"),
    ("property", "demo_property", "阳光花园物业"),
    ("registrar", "demo_registrar", "采样点登记员"),
    ("lab", "demo_lab", "检测实验室"),
]


def synthetic_id(rng: random.Random, used: set[str]) -> str:
    while True:
        region = rng.choice(REGIONS)
        year = rng.randint(1940, 2020)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        body = f"{region}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in used:
            used.add(number)
            return number


def synthetic_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def synthetic_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def build_tree(rng: random.Random) -> dict:
    street = create_place(acting_user=None, kind="street", name="示范街道", code=STREET_CODE, parent=None, audit=False)
    communities, grids, compounds = [], [], []
    for i, cname in enumerate(COMMUNITY_NAMES):
        c = create_place(acting_user=None, kind="community", name=f"{cname}社区", code=f"DEMO-C{i + 1:02d}", parent=street, audit=False)
        communities.append(c)
    # 141 grids: the first nine communities get 12, the last three 11.
    for i, c in enumerate(communities):
        for g in range(12 if i < 9 else 11):
            grids.append(create_place(acting_user=None, kind="grid", name=f"第{g + 1}网格", code=f"{c.code}-G{g + 1:02d}", parent=c, audit=False))
    for i, name in enumerate(COMPOUND_NAMES):
        grid = grids[i * 17]
        compounds.append(create_place(acting_user=None, kind="compound", name=name, code=f"DEMO-Y{i + 1}", parent=grid, audit=False))
    employers = [
        create_organization(acting_user=None, kind="employer", name=f"示范二级单位{i + 1:02d}", code=f"DEMO-E{i + 1:02d}",
                            place=communities[i % len(communities)], audit=False)
        for i in range(66)
    ]
    stations = [
        create_organization(acting_user=None, kind="station", name=f"{c.name}协调站", code=f"DEMO-S{i + 1:02d}", place=c, audit=False)
        for i, c in enumerate(communities)
    ]
    site = create_organization(acting_user=None, kind="site", name="集中医学观察点", code="DEMO-SITE1", place=street, audit=False)
    return {"street": street, "communities": communities, "grids": grids, "compounds": compounds,
            "employers": employers, "stations": stations, "site": site}


def build_people(rng: random.Random, tree: dict, persons: int, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    households_n = max(1, persons // 3)
    grids, compounds = tree["grids"], tree["compounds"]
    # Households live in compounds (about a third) or directly in grids.
    hh_objs = []
    counters: dict[int, int] = {}
    for i in range(households_n):
        place = compounds[i % len(compounds)] if i % 3 == 0 else grids[i % len(grids)]
        n = counters[place.pk] = counters.get(place.pk, -1) + 1
        if place.kind == "compound":
            # 3 units a building, 6 floors, 2 flats a floor.
            address = f"{place.name}{n // 36 + 1}号楼{(n // 12) % 3 + 1}单元{(n % 12) // 2 + 1}0{n % 2 + 1}室"
        else:
            address = f"{place.parent.name}{place.name}{n + 1}号"
        hh_objs.append(Household(place=place, place_path=place.path, address=address,
                                 tenure="rented" if rng.random() < 0.2 else "owned"))
    with transaction.atomic():
        Household.objects.bulk_create(hh_objs, batch_size=2000)
    hh_objs = list(Household.objects.filter(place_path__under=tree["street"].path).order_by("id"))
    used: set[str] = set()
    made = 0
    batch = []
    for i in range(persons):
        hh = hh_objs[i % len(hh_objs)]
        number = synthetic_id(rng, used)
        tags = []
        age = 2022 - int(number[6:10])
        if age >= 70 and rng.random() < 0.25:
            tags.append("elderly_alone")
        if hh.tenure == "rented":
            tags.append("tenant")
            if rng.random() < 0.5:
                tags.append("floating")
        if rng.random() < 0.02:
            tags.append(rng.choice(TAG_KEYS[3:]))
        batch.append(Person(
            household=hh, place_id=hh.place_id, place_path=hh.place_path, name=synthetic_name(rng),
            sex="M" if int(number[16]) % 2 else "F",
            birth_date=f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
            employer=rng.choice(tree["employers"]) if 18 <= age <= 60 and rng.random() < 0.3 else None,
            tags="," + ",".join(dict.fromkeys(tags)) + "," if tags else "",
            **encrypted_fields(number, synthetic_phone(rng) if rng.random() < 0.9 else ""),
        ))
        if len(batch) >= 2000:
            with transaction.atomic():
                Person.objects.bulk_create(batch)
            made += len(batch)
            batch = []
            if progress:
                progress(made)
    if batch:
        with transaction.atomic():
            Person.objects.bulk_create(batch)
        made += len(batch)
        if progress:
            progress(made)
    return households_n, made


def role_targets(tree: dict) -> dict:
    """Where each demo account's grant lies: the first community, grid, compound and unit."""
    return {
        "admin": None,
        "commander": tree["street"],
        "coordinator": tree["street"],
        "committee": tree["communities"][0],
        "grid_worker": tree["grids"][0],
        "medic": tree["communities"][0],
        "gate_guard": tree["compounds"][0],
        "unit_liaison": tree["employers"][0],
        "volunteer": tree["site"],
        "inspector": tree["street"],
        # Made by the modules' stories (built after the tree): looked up, absent in a build without them.
        "site_lead": Organization.objects.filter(code="DEMO-DP1").first(),
        "police": tree["communities"][0],
        "storekeeper": tree["street"],
        "registrar": Organization.objects.filter(code=f"SITE-{tree['communities'][0].code}").first(),
        "lab": Organization.objects.filter(code="DEMO-LAB").first(),  # the street's warehouse (a grant on a place covers that place's holder only)
        "duty_officer": tree["street"],
        "property": tree["compounds"][0],
    }


def demo_accounts(tree: dict | None = None) -> list[tuple[str, str, str, str]]:
    """(Re)create one account per role with a fresh random password; returns
    (role, username, password, scope) rows."""
    if tree is None:
        street = Place.objects.get(code=STREET_CODE)
        tree = {
            "street": street,
            "communities": list(Place.objects.filter(code__startswith="DEMO-C", kind="community").order_by("code")),
            "grids": list(Place.objects.filter(code__startswith="DEMO-C01-G", kind="grid").order_by("code")),
            "compounds": list(Place.objects.filter(code__startswith="DEMO-Y").order_by("code")),
            "employers": list(Organization.objects.filter(code__startswith="DEMO-E").order_by("code")),
            "site": Organization.objects.get(code="DEMO-SITE1"),
        }
    targets = role_targets(tree)
    User = get_user_model()
    rows = []
    with transaction.atomic():
        for role, username, display in ROLE_ACCOUNTS:
            if role != "admin" and targets[role] is None:
                continue
            password = "fk-" + secrets.token_urlsafe(9)
            user, _created = User.objects.get_or_create(username=username, defaults={"first_name": display})
            user.set_password(password)
            user.is_active = True
            user.save()
            user.grants.all().delete()
            add_grant(acting_user=None, user=user, role=role, target=targets[role])
            rows.append((role, username, password, str(targets[role] or "*")))
    return rows


# --- The story: several days of every module ------------------------------------------------

STORY_DAYS = 5  # the first day of the story is four days ago; the last one is today, up to now


@contextmanager
def clock(moment: dt.datetime):
    """Run the actions inside as if it were `moment`: timezone.now() (and so localdate())
    answers it, and what they leave for after the commit (messages, alerts) happens then
    too, instead of at the end of the whole build (which runs in one transaction)."""
    original = django_timezone.now
    django_timezone.now = lambda: moment
    try:
        yield moment
        _run_on_commit()
    finally:
        django_timezone.now = original


def _run_on_commit() -> None:
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        return
    pending, conn.run_on_commit = conn.run_on_commit, []
    for _sids, func, robust in pending:
        if robust:
            try:
                func()
            except Exception:  # as after a real commit: a robust callback's failure is only logged
                log.exception("demo: on-commit callback failed")
        else:
            func()


def _at(day: dt.date, minutes: float) -> dt.datetime:
    """The local moment `minutes` after the start of `day`."""
    return django_timezone.make_aware(dt.datetime.combine(day, dt.time(0, 0))) + dt.timedelta(minutes=minutes)


def _staff(tree: dict) -> dict:
    """The demo accounts (their passwords are set by demo_accounts) and the colleagues they
    work with: a grid worker for each grid of the first community and a gate guard at each
    compound. Colleagues have no password (nobody signs in as them)."""
    User = get_user_model()
    community = tree["communities"][0]
    targets = role_targets(tree)

    def account(username, display, role, target):
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": display})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if not user.grants.filter(role=role).exists():
            add_grant(acting_user=None, user=user, role=role, target=target)
        return user

    # An account whose place or unit a module's story makes later (a site, the lab) is made
    # with its grant by demo_accounts at the end.
    staff = {role: account(username, display, role, targets[role]) for role, username, display in ROLE_ACCOUNTS
             if role == "admin" or targets[role] is not None}
    staff["grid_workers"] = {}
    for grid in tree["grids"]:
        if grid.parent_id != community.pk:
            continue
        staff["grid_workers"][grid.pk] = staff["grid_worker"] if grid.pk == tree["grids"][0].pk else account(
            f"grid_{grid.code.lower()}", f"{community.name}{grid.name}网格员", "grid_worker", grid)
    staff["guards"] = {c.pk: staff["gate_guard"] if i == 0 else account(f"guard_{c.code.lower()}", f"{c.name}门岗",
                                                                         "gate_guard", c)
                       for i, c in enumerate(tree["compounds"])}
    return staff


def build_activity(rng: random.Random, tree: dict) -> dict:
    """Several days of every module on the demo street, through the modules' own actions,
    each at the time it claims (`clock`): the staff's sign-in links, origins and rooms,
    inflow applications in every state (forwarded and decided minutes apart), transfer
    requests, observations with their twice-daily reports, health passes for the compounds'
    residents, the compounds' gate logs with fevers triaged, the census of the first
    community, self-declarations with their checks, a few found false and a grid-watch
    finding in the credit record with an appeal, and every station's and unit's daily
    figures with the days closed. Nothing happens after now or before what it belongs to."""
    real_now = django_timezone.now()
    today = django_timezone.localdate()
    first = today - dt.timedelta(days=STORY_DAYS - 1)
    days = [first + dt.timedelta(days=n) for n in range(STORY_DAYS)]
    with clock(_at(first, 6 * 60 + 30)):
        staff = _staff(tree)
    out = {}
    _signin_links(staff, first)
    out.update(_inflow_and_observation(rng, tree, staff, days, real_now))
    passes = _passes(rng, tree, staff, days, real_now)
    out["passes"] = sum(len(v) for v in passes.values())
    out["gate_entries"] = _gates(rng, tree, staff, passes, days, real_now)
    out["visits"] = _census(rng, tree, staff, days)
    out["declarations"] = _declarations(rng, tree, staff, days, real_now)
    out["submissions"] = _reports(rng, tree, staff, days, real_now)
    # The modules built after the first ones: each gets this module as `kit` (clock, names),
    # so that none of them imports the demo that imports it.
    kit = sys.modules[__name__]
    out["duty"] = duty_demo.build(rng, tree, staff, days, real_now, kit=kit)
    out.update(resumption_demo.build(rng, tree, staff, days, real_now, kit=kit))
    out["command"] = command_demo.build(rng, tree, staff, days, kit=kit)
    out.update(clinic_demo.build(rng, tree, staff, days, real_now, kit=kit))
    out["supplies"] = supplies_demo.build(rng, tree, staff, days, real_now, kit=kit)
    out["disinfection"] = disinfection_demo.build(rng, tree, staff, days, real_now, kit=kit)
    out.update(services_demo.build(rng, tree, staff, days, real_now, clock, _at))
    # Last: the street-wide testing round tests the people every story before it registered.
    out["testing"] = testing_demo.build(rng, tree, staff, days, clock=clock, at=_at)
    return out


def _signin_links(staff: dict, first: dt.date) -> None:
    """First day, early: the admin sends every new account its one-time sign-in link (to the inbox)."""
    from fangkong.accounts.actions import issue_signin_link

    for n, (role, _username, _display) in enumerate(ROLE_ACCOUNTS):
        if role == "admin" or role not in staff:
            continue
        with clock(_at(first, 7 * 60 + n * 3)):
            issue_signin_link(acting_user=staff["admin"], user=staff[role], send=True)


def _inflow_and_observation(rng, tree, staff, days, real_now) -> dict:
    from fangkong.inflow import actions as inflow
    from fangkong.inflow.models import Origin
    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation
    from fangkong.residents import transfers

    first, today = days[0], days[-1]
    with clock(_at(first, 7 * 60 + 40)):
        origins = []
        for name, risk in (("湖北省", "high"), ("河南省", "medium"), ("广东省", "low"), ("山东省", "none")):
            origin, _created = Origin.objects.get_or_create(name=name, defaults={"risk": risk})
            Origin.objects.filter(pk=origin.pk).update(risk=risk)
            origins.append(origin)
        for n in range(1, 11):
            observation.add_room(acting_user=staff["medic"], site=tree["site"], number=f"{n:03d}", capacity=2 if n % 3 else 1)

    # Inflow: applications of the past days, each link minutes to hours after the one before
    # (so the turnaround statistics have something to measure); i % 5 links taken.
    community = tree["communities"][0]
    grids = [g for g in tree["grids"] if g.parent_id == community.pk]
    used: set[str] = set()
    apps = []
    for i in range(24):
        grid = grids[i % len(grids)]
        employer = tree["employers"][i % 6 * 12 % len(tree["employers"])] if i % 4 else None
        day = today - dt.timedelta(days=1 + i % (len(days) - 1))
        moment = _at(day, 8 * 60 + (i * 37) % 540)
        liaison = staff["unit_liaison"] if employer is not None and employer.pk == tree["employers"][0].pk else None
        with clock(moment):
            app = inflow.apply(acting_user=liaison, employer=employer, place=grid, address=f"{grid.name}返程{i + 1}号",
                               origin=origins[i % len(origins)], purpose="返岗",
                               transport=rng.choice(["自驾", "高铁", "长途客车"]),
                               person_fields={"name": synthetic_name(rng), "id_number": synthetic_id(rng, used),
                                              "phone": synthetic_phone(rng)})
        for step in ["forward", "approve", "travel", "arrive"][: i % 5]:
            kwargs, actor = {}, staff["committee"]
            if step == "forward":
                moment += dt.timedelta(minutes=rng.randint(4, 14))
                actor = staff["coordinator"]
            elif step == "approve":
                moment += dt.timedelta(minutes=rng.randint(12, 55))
            elif step == "travel":
                moment += dt.timedelta(minutes=rng.randint(90, 240))
                kwargs["planned_arrival"] = day + dt.timedelta(days=1)
                actor = liaison
            else:
                arrival = _at(day + dt.timedelta(days=1), 9 * 60 + rng.randint(0, 240))
                moment = max(moment + dt.timedelta(minutes=30), min(arrival, real_now - dt.timedelta(minutes=5)))
                kwargs.update(temperature=f"36.{rng.randint(2, 7)}", healthy=True)
                actor = staff["grid_workers"].get(grid.pk, staff["committee"])
            with clock(moment):
                app = inflow.transition(acting_user=actor, app=app, action=step, **kwargs)
        apps.append(app)

    # Transfer requests: residents of the first community moving to the second one's grids
    # (two waiting for the first committee's decision, one declined).
    others = [g for g in tree["grids"] if g.parent_id == tree["communities"][1].pk] if len(tree["communities"]) > 1 else []
    moving = list(Person.objects.filter(place_path__under=community.path).order_by("-pk")[:3]) if others else []
    for i, person in enumerate(moving):
        with clock(_at(today - dt.timedelta(days=1), 10 * 60 + i * 47)):
            t = transfers.request(acting_user=None, person=person, typed_name=person.name,
                                  to_place=others[i % len(others)], address=f"{others[i % len(others)].name}迁入{i + 1}号",
                                  reason="已在本社区租房居住，申请迁入")
        if i == 2:
            with clock(_at(today - dt.timedelta(days=1), 16 * 60)):
                transfers.decide(acting_user=staff["committee"], transfer=t, action="decline", reason="本人仍在本社区居住")

    # Observations that began in the past days, with their reports so far.
    persons = list(Person.objects.filter(place_path__under=community.path).order_by("pk")[:12])
    started = 0
    for i, person in enumerate(persons):
        began = today - dt.timedelta(days=3 + i % 8)
        kind = Observation.Kind.CENTRAL if i % 6 == 0 else (Observation.Kind.MONITORING if i % 5 == 0 else Observation.Kind.HOME)
        try:
            with clock(_at(began, 5 * 60 + i * 7)):
                # Before the story's first day the accounts did not exist yet: the system started it.
                obs = observation.start(acting_user=staff["medic"] if began >= first else None, person=person, kind=kind,
                                        days=14 if kind != Observation.Kind.MONITORING else 7,
                                        start_date=began, reason="密切接触者排查")
        except observation.Conflict:
            continue
        started += 1
        day = began
        while day <= min(today, obs.planned_end):
            for w, (opens, _closes) in enumerate(observation.windows()):
                moment = django_timezone.make_aware(dt.datetime.combine(day, opens)) + dt.timedelta(minutes=rng.randint(10, 90))
                if moment > real_now or rng.random() < 0.04:
                    continue  # not yet, or a missed window
                temp = "38.2" if (i == 3 and day == today - dt.timedelta(days=1) and w == 1) else f"36.{rng.randint(1, 8)}"
                with clock(moment):
                    observation.report(acting_user=None, observation=obs, temperature=temp, source="self", at=moment)
            day += dt.timedelta(days=1)
    observation.check_missed()
    return {"applications": len(apps), "observations": started}


def _plate(rng: random.Random) -> str:
    return "鲁A" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(1)) + f"{rng.randint(0, 9999):04d}"


def _passes(rng, tree, staff, days, real_now) -> dict:
    """Health passes for a share of each compound's residents (printed on the first morning),
    a few vehicle passes, and visitor passes day by day. Returns {compound id: [(pass, token, issued at)]}."""
    from fangkong.passes import actions as passes

    first = days[0]
    out: dict = {}
    for ci, compound in enumerate(tree["compounds"]):
        issuer = staff["grid_worker"] if compound.parent_id == tree["grids"][0].pk else None
        residents = list(Person.objects.filter(place_path__under=compound.path).order_by("pk").only(
            "pk", "place_id", "place_path", "name"))
        chosen = [p for p in residents if rng.random() < 0.3][:170]  # seed 000: 1,381 cards
        rows = out[compound.pk] = []
        step = 120 / max(1, len(chosen))  # two hours of printing
        for n, person in enumerate(chosen):
            moment = _at(first, 7 * 60 + ci * 2 + n * step)
            with clock(moment):
                try:
                    pass_, token = passes.issue_resident_pass(acting_user=issuer, person=person)
                except passes.Conflict:
                    continue
            rows.append((pass_, token, moment))
        for n in range(min(12, max(1, len(chosen) // 10))):
            moment = _at(first, 9 * 60 + 30 + ci * 2 + n * 5)
            owner = chosen[n] if n < len(chosen) else None
            with clock(moment):
                try:
                    pass_, token = passes.issue_vehicle_pass(acting_user=issuer, plate=_plate(rng), place=compound, owner=owner)
                except (passes.Conflict, passes.Invalid):
                    continue
            rows.append((pass_, token, moment))
        hosts = list(Household.objects.filter(place_path__under=compound.path).order_by("pk")[:50])
        for day in days:
            for n in range(3 if hosts else 0):
                moment = _at(day, 9 * 60 + n * 150 + rng.randint(0, 60))
                if moment > real_now:
                    continue
                with clock(moment):
                    pass_, token = passes.issue_visitor_pass(
                        acting_user=issuer, name=synthetic_name(rng), phone=synthetic_phone(rng), reason="探望亲属",
                        host_household=rng.choice(hosts), hours=8, place=compound)
                rows.append((pass_, token, moment))
    return out


# Share of a day's gate traffic in each hour (0–23): quiet at night, busy mornings and evenings.
HOURLY = (1, 1, 1, 1, 1, 2, 5, 9, 9, 6, 5, 5, 6, 5, 5, 5, 6, 8, 9, 7, 5, 4, 2, 1)


def _gates(rng, tree, staff, passes: dict, days, real_now) -> int:
    """Each compound's gate log, around the clock: residents and vehicles in and out with
    their passes (only passes issued before, visitors within their hours), most vehicles
    logged by their plate, a few people without a pass turned away, a fever now and then and every evening at 19:30 one more
    (each opens a visit of the clinic triage, routed in fangkong.clinic.demo)."""
    import uuid

    from fangkong.gates import actions as gates

    persons = Person.objects.filter(place_path__under=tree["street"].path).count()
    per_day = max(24, min(400, persons // 200))  # people and vehicles at one compound's gate
    stored = 0
    for compound in tree["compounds"]:
        guard = staff["guards"][compound.pk]
        # Some residents come and go several times a day, most now and then.
        issued = [(p, tok, at, 1 / (1 + n / 8) if p.kind == "resident" else 1.0)
                  for n, (p, tok, at) in enumerate(passes.get(compound.pk, []))]
        for day in days:
            # Six shifts a day; the gate page's log of each is here sent as one batch at its end.
            for shift in range(6):
                start, end = _at(day, shift * 240), min(_at(day, (shift + 1) * 240), real_now)
                if end <= start:
                    continue
                items = []
                span = (end - start).total_seconds()
                count = max(1, round(per_day * sum(HOURLY[shift * 4:shift * 4 + 4]) / sum(HOURLY)
                                     * rng.uniform(0.8, 1.2) * span / 14400))
                for n in range(count):
                    fever = shift == 4 and n == 0
                    when = _at(day, 19 * 60 + 30) if fever else start + dt.timedelta(seconds=rng.random() * span)
                    if when > end:
                        continue
                    vehicle = not fever and rng.random() < 0.4
                    usable = [(p, tok, w) for p, tok, at, w in issued if at < when and (p.kind == "vehicle") == vehicle
                              and (p.kind != "visitor" or end < p.valid_until)]
                    item = {"client_id": str(uuid.UUID(int=rng.getrandbits(128))), "place": compound.pk,
                            "direction": "in" if fever else rng.choice(["in", "out"]), "occurred_at": when.isoformat(),
                            "subject": "vehicle" if vehicle else "person"}
                    # Most vehicles are registered by their plate alone; a few people come without a pass.
                    if usable and (fever or rng.random() > (0.8 if vehicle else 0.02)):
                        pass_, token, _w = rng.choices(usable, weights=[w for *_r, w in usable])[0]
                        item["token"] = token
                        if vehicle:
                            item["plate"] = pass_.plate
                    elif vehicle:
                        item["plate"] = _plate(rng)
                    if not vehicle and item["direction"] == "in":
                        item["temperature"] = "37.8" if fever or rng.random() < 0.002 else f"36.{rng.randint(1, 8)}"
                    items.append(item)
                if not items:
                    continue
                with clock(end):
                    result = gates.record_batch(acting_user=guard, items=items, now=end)
                stored += result["stored"]
    return stored


def _census(rng, tree, staff, days) -> int:
    """The census of the first community with the standard questionnaire: started on the
    first morning, its grid workers visit most households over the past days (a few nobody
    home or refusing), a few risky answers open follow-ups, the older ones done the next day.
    The campaign runs on (the households not yet reached are still to visit)."""
    from fangkong.census import actions as census
    from fangkong.census.models import FollowUp, Visit
    from fangkong.census.standard import standard

    community = tree["communities"][0]
    first, today = days[0], days[-1]
    with clock(_at(first, 8 * 60)):
        campaign = census.create_campaign(acting_user=staff["committee"], name=f"{community.name}入户摸排",
                                          place=community, start_date=first, end_date=today + dt.timedelta(days=3),
                                          questionnaire=standard())
    with clock(_at(first, 8 * 60 + 10)):
        campaign = census.transition(acting_user=staff["committee"], campaign=campaign, action="start")
    households = list(Household.objects.filter(place_path__under=community.path).order_by("pk"))
    members: dict = {}
    for pid, hid in Person.objects.filter(place_path__under=community.path).values_list("pk", "household_id"):
        members.setdefault(hid, []).append(pid)
    grid_of = {g.path: g for g in tree["grids"] if g.parent_id == community.pk}
    visit_days = days[:-1] or days
    visits = 0
    # Each grid worker goes through their households in order, the past days from 08:30 to 19:00.
    by_worker: dict = {}
    for hh in households:
        grid_path = next((p for p in grid_of if hh.place_path == p or hh.place_path.startswith(p)), None)
        if grid_path is None or rng.random() < 0.08:
            continue  # not reached yet
        by_worker.setdefault(grid_path, []).append(hh)
    for grid_path, hhs in by_worker.items():
        worker = staff["grid_workers"].get(grid_of[grid_path].pk)
        per_day = -(-len(hhs) // len(visit_days))
        for n, hh in enumerate(hhs):
            day = visit_days[min(n // per_day, len(visit_days) - 1)]
            moment = _at(day, 8 * 60 + 30 + (n % per_day) * (630 / per_day))
            roll = rng.random()
            people = members.get(hh.pk, [])
            if roll < 0.05 or not people:
                outcome, answers = Visit.Outcome.NOBODY, {}
            elif roll < 0.06:
                outcome, answers = Visit.Outcome.REFUSED, {}
            else:
                outcome, answers = Visit.Outcome.REACHED, {}
                for pid in people:
                    risky = rng.random() < 0.004
                    answers[pid] = {"source_area": "yes" if risky else "no", "contact_source": "no",
                                    "contact_confirmed": "no", "gathering": "yes" if rng.random() < 0.002 else "no",
                                    "temperature": f"36.{rng.randint(1, 9)}"}
            with clock(moment):
                census.record_visit(acting_user=worker, campaign=campaign, household=hh, outcome=outcome,
                                    members=answers, at=moment)
            visits += 1
    for fu in FollowUp.objects.filter(campaign=campaign, state=FollowUp.State.OPEN).order_by("pk"):
        if django_timezone.localdate(fu.created_at) >= today - dt.timedelta(days=1):
            continue  # the newest are still open
        grid = next((g for p, g in grid_of.items() if fu.place_path.startswith(p)), None)
        with clock(fu.created_at + dt.timedelta(hours=20)):
            census.close_followup(acting_user=staff["grid_workers"].get(grid.pk) if grid else staff["committee"],
                                  followup=fu, note="已电话随访，本人近期未离开本市，无发热，无需观察")
    return visits


def _declarations(rng, tree, staff, days, real_now) -> int:
    """Self-declarations through each community's QR code, tens a day in the first community
    (most in the first grid) and a few elsewhere; about one in eight risky. The grid worker
    (elsewhere the committee) matches the past days' declarations and verifies them; three
    are found false (credit entries), one person appeals and the committee upholds the entry,
    another appeal waits; a grid-watch finding is confirmed into the credit record."""
    from fangkong.declarations import actions as declarations
    from fangkong.declarations.models import CreditEntry, Finding

    first, today = days[0], days[-1]
    points = {}
    for n, community in enumerate(tree["communities"]):
        with clock(_at(first, 8 * 60 + 20 + n)):
            actor = staff["committee"] if n == 0 else None
            points[community.pk] = declarations.ensure_point(acting_user=actor, place=community)
    community = tree["communities"][0]
    grid1 = tree["grids"][0]
    people_g1 = list(Person.objects.filter(place_path__under=grid1.path).order_by("pk")[:400])
    people_c1 = list(Person.objects.filter(place_path__under=community.path).exclude(
        place_path__under=grid1.path).order_by("pk")[:800])
    people_else = list(Person.objects.exclude(place_path__under=community.path).filter(
        place_path__under=tree["street"].path).order_by("pk")[:400])
    persons = Person.objects.filter(place_path__under=tree["street"].path).count()
    per_day = max(8, min(40, persons // 2000))
    made: list = []
    used: set[int] = set()
    for day in days:
        for n in range(per_day):
            pool = people_g1 if n % 5 < 3 else (people_c1 if n % 5 == 3 else people_else)
            risky = n == 0 or rng.random() < 0.12  # the first of a day (in the first grid) and about one in eight
            pool = [p for p in pool if p.pk not in used]
            if not pool:
                continue
            person = rng.choice(pool)
            used.add(person.pk)
            moment = _at(day, 7 * 60 + rng.randint(0, 14 * 60))
            if moment > real_now:
                continue
            data = {"name": person.name, "id_number": person.id_number(), "phone": person.phone() or synthetic_phone(rng),
                    "address": f"{person.household.address}", "temperature": f"36.{rng.randint(1, 8)}",
                    "symptoms": ["none"], "risk_area": "no", "contact_case": "no", "contact_risk_area": "no",
                    "pledge": "yes"}
            if risky:
                kind = rng.choice(["travel", "contact", "fever"])
                if kind == "travel":
                    data["risk_area"] = "yes"
                    data["travel"] = [{"place": "湖北省武汉市", "from": (day - dt.timedelta(days=9)).isoformat(),
                                       "to": (day - dt.timedelta(days=6)).isoformat()}]
                elif kind == "contact":
                    data["contact_risk_area"] = "yes"
                else:
                    data["temperature"] = "37.6"
            point = points[next(c.pk for c in tree["communities"] if person.place_path.startswith(c.path))]
            ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            with clock(moment):
                decl = declarations.submit(acting_user=None, point=point, data=data, client_ip=ip, at=moment)
            made.append(decl)
    # The checks of the past days' declarations, one to five hours after each.
    false_left = 3
    false_entries = []
    for decl in sorted(made, key=lambda d: d.submitted_at):
        if django_timezone.localdate(decl.submitted_at) == today:
            continue  # today's wait in the queue
        if not decl.place_path.startswith(community.path):
            continue  # other communities: not checked in the demo
        checker = staff["grid_worker"] if decl.place_path.startswith(grid1.path) else staff["committee"]
        moment = decl.submitted_at + dt.timedelta(minutes=rng.randint(60, 300))
        if moment + dt.timedelta(minutes=10) > real_now:
            continue  # last night's: still to check
        with clock(moment):
            decl = declarations.match(acting_user=checker, declaration=decl)
        with clock(moment + dt.timedelta(minutes=10)):
            if decl.risk:
                declarations.check(acting_user=checker, declaration=decl, action="follow_up",
                                   note="已电话联系本人，安排上门核实")
            elif false_left and checker is staff["grid_worker"]:
                false_left -= 1
                declarations.check(acting_user=checker, declaration=decl, action="find_false",
                                   note="经核实本人申报期间曾外出至外省，与申报不符")
                false_entries.append(decl)
            else:
                declarations.check(acting_user=checker, declaration=decl, action="verify", note="")
    # Appeals: the first false declaration's person appeals and the committee upholds the
    # entry the next day; the second one's appeal waits for the committee.
    for n, decl in enumerate(false_entries[:2]):
        entry = CreditEntry.objects.get(declaration=decl)
        filed = entry.created_at + dt.timedelta(hours=3)
        if filed > real_now:
            continue
        with clock(filed):
            appeal = declarations.file_appeal(acting_user=None, person=entry.person, entry=entry,
                                              text="申报时漏填了外出记录，并非故意隐瞒，请求撤销")
        decided = filed + dt.timedelta(hours=18)
        if n == 0 and decided <= real_now:
            with clock(decided):
                declarations.decide_appeal(acting_user=staff["committee"], appeal=appeal, action="uphold",
                                           reason="经核实确有外出且未如实申报，维持记录")
    # Grid watch: the grid worker finds an undeclared trip, the committee confirms it.
    candidates = [p for p in people_g1 if p.pk not in used]
    if candidates and len(days) > 2:
        person = candidates[0]
        with clock(_at(today - dt.timedelta(days=2), 15 * 60)):
            finding = declarations.record_finding(acting_user=staff["grid_worker"], person=person,
                                                  kind=Finding.Kind.TRAVEL, evidence="邻居反映其近日自外省返回，本人未申报",
                                                  found_on=today - dt.timedelta(days=2))
        with clock(_at(today - dt.timedelta(days=1), 10 * 60)):
            declarations.decide_finding(acting_user=staff["committee"], finding=finding, action="confirm")
    return len(made)


def _reports(rng, tree, staff, days, real_now) -> int:
    """The daily figures (supplies on hand) of every station and unit, entered and confirmed
    in the afternoon (today's as far as now), a few late or missing (the late ones told
    after the deadline), and each past day closed the next morning."""
    from fangkong.reports import actions as reports

    orgs = list(reports.required_orgs(Organization.objects.filter(place_path__under=tree["street"].path)))
    stock = {o.pk: {"masks": rng.randint(200, 3000), "disinfectant": rng.randint(20, 300),
                    "thermometers": rng.randint(5, 60), "suits": rng.randint(0, 80)} for o in orgs}
    entered = 0
    for day in days:
        late: list = []
        for org in orgs:
            defs = [d.key for d in reports.definitions_for(org)]
            if not defs or rng.random() < 0.04:
                continue  # missing: the worker tells its liaison after the deadline
            if org.pk == tree["employers"][0].pk and day == days[-3 if len(days) > 2 else 0]:
                continue  # the demo liaison's unit forgot one day
            values = {}
            for key in defs:
                base = stock[org.pk].get(key, rng.randint(0, 100))
                base = stock[org.pk][key] = max(0, base - rng.randint(0, max(1, base // 10)) + (
                    rng.randint(0, 500) if rng.random() < 0.1 else 0))
                values[key] = base
            moment = _at(day, 14 * 60 + rng.randint(0, 170))
            if moment > real_now:
                continue  # today: not yet
            actor = staff["unit_liaison"] if org.pk == tree["employers"][0].pk else None
            with clock(moment):
                sub = reports.enter_values(acting_user=actor, organization=org, day=day, values=values)
            entered += 1
            if rng.random() < 0.05:
                late.append((sub, actor, reports.deadline(day) + dt.timedelta(minutes=rng.randint(60, 150))))
                continue  # confirmed after the deadline, once told
            confirm_at = moment + dt.timedelta(minutes=rng.randint(2, 8))
            if confirm_at > real_now:
                continue
            with clock(confirm_at):
                reports.transition(acting_user=actor, submission=sub, action="confirm")
        if day == days[-1]:
            break  # today's deadline and closing are still to come
        after_deadline = reports.deadline(day) + dt.timedelta(minutes=30)
        if after_deadline <= real_now:
            with clock(after_deadline):
                reports.notify_late(day=day, now=after_deadline)
        for sub, actor, moment in late:
            if moment <= real_now:
                with clock(moment):
                    reports.transition(acting_user=actor, submission=sub, action="confirm")
        closing = reports.close_time(day) + dt.timedelta(minutes=5)
        if closing <= real_now:
            with clock(closing):
                reports.close_day(acting_user=None, day=day)
    return entered
