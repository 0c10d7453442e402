"""Mass testing on the demo street (issue 18): one completed round of the whole street with
10-in-1 pooling (a site per community, about 97 % of the registered persons tested, one
positive tube whose persons are recalled, results back for every tube, a door-knock reason
for some of the households not tested), and a round of the first community in progress
today, registered through the registration action.

The completed round has ~90,000 registrations: they are loaded in bulk (as a site's
synced batches would leave them, one audit event per site and batch), so the demo build
stays short; everything that decides something (the positive result and its recall, the
round's states, the door-knocks, today's registrations) goes through the module's actions
at the moment it claims (core.demo.clock)."""
from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from fangkong.accounts.actions import add_grant
from fangkong.audit.actions import record
from fangkong.lib.identity import mask_name
from fangkong.places.models import Organization
from fangkong.residents.models import Household, Person

from . import actions, queries
from .models import Box, Knock, Registration, Tube

COVERAGE = 0.97


def _account(username, display, role, target):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"first_name": display})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if not user.grants.filter(role=role).exists():
        add_grant(acting_user=None, user=user, role=role, target=target)
    return user


def _insert(model, objs) -> None:
    """Rows of `model` written with one executemany (the ORM's bulk_create spends most of
    the demo's time building statements for ~90,000 registrations)."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    prep = [(f.attname, f.get_db_prep_save) for f in fields]
    rows = [[fn(getattr(o, attname), connection) for attname, fn in prep] for o in objs]
    with connection.cursor() as cur:
        for n in range(0, len(rows), 5000):
            cur.executemany(sql, rows[n:n + 5000])


def build(rng, tree: dict, staff: dict, days: list, *, clock, at) -> int:
    real_now = timezone.now()
    street = tree["street"] if "street" in tree else tree["communities"][0].parent
    communities = tree["communities"]
    coordinator = staff["coordinator"]
    day = days[-3] if len(days) >= 3 else days[0]
    with clock(at(day, 6 * 60)):
        lab = Organization.objects.get_or_create(code="DEMO-LAB", defaults={
            "kind": "clinic", "name": "区疾控检测实验室", "place": street, "place_path": street.path})[0]
        lab_user = _account("demo_lab", "检测实验室", "lab", lab)
        rnd = actions.create_round(acting_user=coordinator, name=f"{street.name}第一轮全员核酸检测", place=street,
                                   start_date=day, end_date=day, pooling=10)
        rnd = actions.transition(acting_user=coordinator, round=rnd, action="start")
        sites = []
        for c in communities:
            org = Organization.objects.get_or_create(code=f"SITE-{c.code}", defaults={
                "kind": "site", "name": f"{c.name}采样点", "place": c, "place_path": c.path})[0]
            sites.append(actions.create_site(acting_user=coordinator, round=rnd, name=f"{c.name}核酸采样点", place=c,
                                             opens=dt.time(7), closes=dt.time(21), organization=org,
                                             lanes=["ordinary", "ordinary", "elderly", "children"]))
        registrar = _account("demo_registrar", "采样点登记员", "registrar", sites[0].organization)
    # As every new account: the admin sends each its one-time sign-in link (to the inbox).
    from fangkong.accounts.actions import issue_signin_link

    for n, user in enumerate((lab_user, registrar)):
        with clock(at(day, 6 * 60 + 5 + n)):
            issue_signin_link(acting_user=staff["admin"], user=user, send=True)
    total = 0
    positive_tube = None
    for site in sites:
        lanes = list(site.lanes.all())
        persons = list(Person.objects.filter(place_path__under=site.place_path).values_list("pk", "place_path", "name"))
        tested = [p for p in persons if rng.random() < COVERAGE]
        tubes, regs = [], []
        # The day's tubes travel in one box: packed at closing, with the courier, at the lab by night.
        box = Box.objects.create(site=site, place_path=site.place_path, lab=lab, state=Box.State.RECEIVED,
                                 packed_at=at(day, 21 * 60), courier_at=at(day, 21 * 60 + 20), received_at=at(day, 22 * 60))
        for n in range(0, len(tested), 10):
            chunk = tested[n:n + 10]
            minute = 7 * 60 + (n // 10) * (13 * 60 / max(1, len(tested) // 10))
            moment = at(day, minute)
            tube = Tube(code=f"D{rnd.pk}S{site.pk}T{n // 10:05d}", round=rnd, site=site, place_path=site.place_path,
                        capacity=10, filled=len(chunk), state=Tube.State.SEALED, opened_at=moment,
                        sealed_at=moment + dt.timedelta(minutes=4), lab=lab, box=box)
            tubes.append(tube)
            for i, (pid, path, name) in enumerate(chunk):
                regs.append(Registration(client_id=uuid.UUID(int=rng.getrandbits(128)), round=rnd, round_created=rnd.created_at,
                                         site=site, lane=lanes[(n // 10) % len(lanes)], person_id=pid, person_path=path,
                                         masked=mask_name(name), via=Registration.Via.PASS, offline=False,
                                         occurred_at=moment + dt.timedelta(seconds=20 * i),
                                         received_at=moment + dt.timedelta(seconds=20 * i + 1), registrar=registrar))
        Tube.objects.bulk_create(tubes, batch_size=2000)
        by_code = dict(Tube.objects.filter(site=site).values_list("code", "pk"))
        k = 0
        for tube in tubes:
            for _ in range(tube.filled):
                regs[k].tube_id = by_code[tube.code]
                k += 1
        _insert(Registration, regs)
        with clock(at(day, 21 * 60)):
            record(registrar, "testing.register", obj=site, place_path=site.place_path,
                   detail={"batch": len(regs), "tubes": len(tubes)})
        total += len(regs)
        if positive_tube is None and tubes:
            positive_tube = Tube.objects.get(code=tubes[len(tubes) // 2].code)
    # Results the next morning: every tube negative but one, through the lab's action for that one.
    with clock(at(day + dt.timedelta(days=1), 6 * 60)):
        later = timezone.now()
        Tube.objects.filter(round=rnd).exclude(pk=positive_tube.pk).update(
            state=Tube.State.RESULTED, result=Tube.Result.NEGATIVE, resulted_at=later)
        record(lab_user, "testing.result", obj=rnd, place_path=rnd.place_path, detail={"batch": "negative"})
        actions.post_result(acting_user=lab_user, tube=positive_tube, result="positive")
    # The recalled persons' single tests, that afternoon: negative.
    recalls = list(positive_tube.recalls.select_related("person"))
    site = positive_tube.site
    with clock(at(day + dt.timedelta(days=1), 9 * 60)):
        for n, rc in enumerate(recalls):
            reg, _created = actions.register(acting_user=registrar, site=site, raw={
                "client_id": str(uuid.UUID(int=rng.getrandbits(128))), "tube": f"S{rnd.pk}R{n:03d}", "person": rc.person_id})
    with clock(at(day + dt.timedelta(days=1), 15 * 60)):
        for n, _rc in enumerate(recalls):
            actions.post_result(acting_user=lab_user, tube=Tube.objects.get(code=f"S{rnd.pk}R{n:03d}"), result="negative")
    # Door-knocks: the first community's grid workers record why some households were not tested.
    community = communities[0]
    with clock(at(day + dt.timedelta(days=1), 10 * 60)):
        households = list(Household.objects.filter(place_path__under=community.path, members__in=queries.must_test(rnd).exclude(
            id__in=queries.tested_ids(rnd))).distinct().order_by("pk")[:120])
        for n, hh in enumerate(households):
            if n % 3 == 2:
                continue  # still to knock
            worker = staff["grid_workers"].get(next((g.pk for g in tree["grids"] if hh.place_path.startswith(g.path)), None),
                                               staff["grid_worker"])
            actions.knock(acting_user=worker, round=rnd, household=hh, reason=Knock.Reason.values[n % 4])
    with clock(at(day + dt.timedelta(days=1), 18 * 60)):
        actions.transition(acting_user=coordinator, round=rnd, action="close")
    # Today: a round of the first community in progress, registered through the action.
    today = days[-1]
    # Opened at a quarter to seven, registering from seven; in the small hours (a demo built just
    # after midnight) the round opens at midnight and registers at night, as tents did (seed 002):
    # never a moment after the real one.
    opened = max(at(today, 0), min(at(today, 6 * 60 + 45), real_now - dt.timedelta(minutes=30)))
    first = opened + min(dt.timedelta(minutes=15), (real_now - opened) / 4)
    with clock(opened):
        now_round = actions.create_round(acting_user=staff["committee"], name=f"{community.name}第二轮核酸检测",
                                         place=community, start_date=today, end_date=today + dt.timedelta(days=1), pooling=10)
        now_round = actions.transition(acting_user=staff["committee"], round=now_round, action="start")
        now_site = actions.create_site(acting_user=staff["committee"], round=now_round, name=f"{community.name}核酸采样点",
                                       place=community, opens=dt.time(7), closes=dt.time(21),
                                       organization=sites[0].organization, lanes=["ordinary", "elderly", "children"])
    lanes = list(now_site.lanes.all())
    people = list(Person.objects.filter(place_path__under=community.path).values_list("pk", flat=True)[:150])
    for n, pid in enumerate(people):
        with clock(min(at(today, 7 * 60 + n * 0.6), first + (real_now - first) * n / len(people))):
            actions.register(acting_user=registrar, site=now_site, raw={
                "client_id": str(uuid.UUID(int=rng.getrandbits(128))), "tube": f"N{now_round.pk}T{n // 10:04d}",
                "person": pid, "lane": lanes[n % len(lanes)].pk})
    return total + len(people)
