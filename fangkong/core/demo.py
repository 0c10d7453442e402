"""A synthetic street modelled on the seeds: 12 communities, 141 grids, 8 compounds,
66 employer units, 12 stations, about 30,000 households and 90,000 persons by default.
ID numbers are synthetic but checksum-valid (python-stdnum's check digit, real region
codes valid for the birth year); phone numbers are synthetic."""
from __future__ import annotations

import random
import secrets
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from stdnum.cn import ric

from fangkong.accounts.actions import add_grant
from fangkong.places.actions import create_organization, create_place
from fangkong.places.models import Organization, Place
from fangkong.residents.actions import encrypted_fields
from fangkong.residents.models import TAG_KEYS, Household, Person

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
    targets = {
        "admin": None,
        "commander": tree["street"],
        "coordinator": tree["street"],
        "committee": tree["communities"][0],
        "grid_worker": tree["grids"][0],
        "medic": tree["communities"][0],
        "gate_guard": tree["compounds"][0],
        "unit_liaison": tree["employers"][0],
        "volunteer": tree["site"],
    }
    User = get_user_model()
    rows = []
    with transaction.atomic():
        for role, username, display in ROLE_ACCOUNTS:
            password = "fk-" + secrets.token_urlsafe(9)
            user, _created = User.objects.get_or_create(username=username, defaults={"first_name": display})
            user.set_password(password)
            user.is_active = True
            user.save()
            user.grants.all().delete()
            add_grant(acting_user=None, user=user, role=role, target=targets[role])
            rows.append((role, username, password, str(targets[role] or "*")))
    return rows


def build_activity(rng: random.Random, tree: dict) -> dict:
    """A few days of the closed loop on the demo street, so every board has something on
    it: origins with risk levels, rooms at the observation site, inflow applications in
    every state, and observations of the first community with twice-daily reports (one
    fever, some missed windows). Runs through the modules' own actions."""
    import datetime as dt

    from django.utils import timezone

    from fangkong.inflow import actions as inflow
    from fangkong.inflow.models import Origin
    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation

    origins = []
    for name, risk in (("湖北省", "high"), ("河南省", "medium"), ("广东省", "low"), ("山东省", "none")):
        origin, _created = Origin.objects.get_or_create(name=name, defaults={"risk": risk})
        Origin.objects.filter(pk=origin.pk).update(risk=risk)
        origins.append(origin)
    for n in range(1, 11):
        observation.add_room(acting_user=None, site=tree["site"], number=f"{n:03d}", capacity=2 if n % 3 else 1)

    community = tree["communities"][0]
    grids = [g for g in tree["grids"] if g.parent_id == community.pk]
    used: set[str] = set()
    apps = []
    for i in range(24):
        grid = grids[i % len(grids)]
        employer = tree["employers"][i % 6 * 12 % len(tree["employers"])] if i % 4 else None
        app = inflow.apply(acting_user=None, employer=employer, place=grid, address=f"{grid.name}返程{i + 1}号",
                           origin=origins[i % len(origins)], purpose="返岗", transport=rng.choice(["自驾", "高铁", "长途客车"]),
                           person_fields={"name": synthetic_name(rng), "id_number": synthetic_id(rng, used),
                                          "phone": synthetic_phone(rng)})
        steps = ["forward", "approve", "travel", "arrive"][: i % 5]
        for step in steps:
            kwargs = {}
            if step == "travel":
                kwargs["planned_arrival"] = timezone.localdate()
            if step == "arrive":
                kwargs.update(temperature="36.5", healthy=True)
            app = inflow.transition(acting_user=None, app=app, action=step, **kwargs)
        apps.append(app)

    # Transfer requests: residents of the first community moving to the second one's grids
    # (two waiting for the first committee's decision, one declined).
    from fangkong.residents import transfers

    others = [g for g in tree["grids"] if g.parent_id == tree["communities"][1].pk] if len(tree["communities"]) > 1 else []
    moving = list(Person.objects.filter(place_path__under=community.path).order_by("-pk")[:3]) if others else []
    for i, person in enumerate(moving):
        t = transfers.request(acting_user=None, person=person, typed_name=person.name, to_place=others[i % len(others)],
                              address=f"{others[i % len(others)].name}迁入{i + 1}号", reason="已在本社区租房居住，申请迁入")
        if i == 2:
            transfers.decide(acting_user=None, transfer=t, action="decline", reason="本人仍在本社区居住")

    # Observations that began some days ago, with their reports so far.
    today = timezone.localdate()
    persons = list(Person.objects.filter(place_path__under=community.path).order_by("pk")[:12])
    started = 0
    for i, person in enumerate(persons):
        began = today - dt.timedelta(days=3 + i % 8)
        kind = Observation.Kind.CENTRAL if i % 6 == 0 else (Observation.Kind.MONITORING if i % 5 == 0 else Observation.Kind.HOME)
        try:
            obs = observation.start(acting_user=None, person=person, kind=kind, days=14 if kind != Observation.Kind.MONITORING else 7,
                                    start_date=began, reason="密切接触者排查")
        except observation.Conflict:
            continue
        Observation.objects.filter(pk=obs.pk).update(created_at=timezone.make_aware(dt.datetime.combine(began, dt.time(5, 0))))
        started += 1
        day = began
        while day <= min(today, obs.planned_end):
            for w, (opens, closes) in enumerate(observation.windows()):
                moment = timezone.make_aware(dt.datetime.combine(day, opens)) + dt.timedelta(minutes=30)
                if moment > timezone.now() or rng.random() < 0.04:
                    continue  # not yet, or a missed window
                temp = "38.2" if (i == 3 and day == today - dt.timedelta(days=1) and w == 1) else f"36.{rng.randint(1, 8)}"
                observation.report(acting_user=None, observation=obs, temperature=temp, source="self", at=moment)
            day += dt.timedelta(days=1)
    observation.check_missed()
    return {"applications": len(apps), "observations": started}
