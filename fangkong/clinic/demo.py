"""The clinic triage in the demo (M18): the first community's health station has a
pre-screening post at its gate; 2,000 visitors over the story's days, each recorded through
the post's own action at the moment they came (registry residents by ID, walk-ins from
elsewhere by ID or by name and phone); the fevers routed to the fever clinic or the isolation
ward and followed to an outcome (tested, admitted, released) when older than a day; the
gates' fevers older than a day routed by the medic; an export token for the district CDC."""
from __future__ import annotations

import datetime as dt
import random
import uuid

VISITORS = 2000
HOURLY = (1, 1, 1, 1, 1, 1, 2, 6, 10, 10, 9, 7, 5, 6, 8, 8, 7, 5, 3, 2, 2, 1, 1, 1)  # a clinic's day
SYMPTOMS = ["fever", "cough", "fatigue", "sore_throat", "short_breath", "muscle_pain"]
HISTORY_NOTES = ["湖北武汉返回", "与武汉返乡人员同住", "参加家庭聚餐", "外地出差返回"]


def build(rng: random.Random, tree: dict, staff: dict, days: list, real_now: dt.datetime, *, kit) -> dict:
    """`kit`: the demo's own module (fangkong.core.demo), for its patched clock and synthetic
    people (passed in: the clinic app imports nothing of core, which imports it)."""
    from fangkong.places.actions import create_organization
    from fangkong.residents.models import Person

    from . import actions
    from .models import Visit

    clock, _at = kit.clock, kit._at
    synthetic_id, synthetic_name, synthetic_phone = kit.synthetic_id, kit.synthetic_name, kit.synthetic_phone
    community = tree["communities"][0]
    medic = staff["medic"]
    with clock(_at(days[0], 6 * 60 + 50)):
        station = create_organization(acting_user=staff["admin"], kind="clinic", name=f"{community.name}卫生服务站",
                                      code="DEMO-CLINIC1", place=community)
        post = actions.create_post(acting_user=staff["commander"], clinic=station, name="正门预检分诊点")
        actions.create_token(acting_user=staff["admin"], name="区疾控中心数据平台", place=tree["street"], unmasked=True)

    residents = list(Person.objects.filter(place_path__under=community.path).order_by("?")
                     .values_list("pk", flat=True)[:600])
    by_pk = Person.objects.in_bulk(residents)
    used: set[str] = set()
    # The visitors' moments, spread over the days by the clinic's hours; none after now.
    span_days = [d for d in days if _at(d, 0) < real_now]
    # Only the hours already begun: the 2,000 visitors whatever the hour the demo is built at.
    slots = [(d, h) for d in span_days for h in range(24) if _at(d, h * 60) < real_now]
    weights = [HOURLY[h] for _d, h in slots]
    moments = []
    for d, h in rng.choices(slots, weights=weights, k=VISITORS):
        moment = _at(d, h * 60 + rng.random() * 60)
        if moment < real_now:
            moments.append(moment)
    moments.sort()
    routed = 0
    for moment in moments:
        data: dict = {"client_id": str(uuid.UUID(int=rng.getrandbits(128)))}
        kind = rng.random()
        if kind < 0.4 and residents:
            person = by_pk.get(rng.choice(residents))
            data["id_number"] = person.id_number() if person else synthetic_id(rng, used)
        elif kind < 0.85:
            data.update(id_number=synthetic_id(rng, used), name=synthetic_name(rng), phone=synthetic_phone(rng),
                        address=rng.choice(["外省务工人员", "邻街道居民", "过路人员", "邻县居民"]))
        else:  # no ID card with them: name and phone
            data.update(name=synthetic_name(rng), phone=synthetic_phone(rng), sex=rng.choice("MF"),
                        age=str(rng.randint(5, 85)), address="本街道")
        roll = rng.random()
        if roll < 0.04:  # fever
            data.update(temperature=f"{rng.uniform(37.4, 39.4):.1f}", route="isolation_ward" if rng.random() < 0.2
                        else "fever_clinic", symptoms=["fever"] + rng.sample(SYMPTOMS[1:], rng.randint(0, 2)))
            if rng.random() < 0.4:
                data.update(source_area=True, history_note=rng.choice(HISTORY_NOTES))
        elif roll < 0.07:  # a risky history, no fever: home with observation
            data.update(temperature=f"36.{rng.randint(2, 9)}", route="home_observation",
                        contact_source=True, history_note=rng.choice(HISTORY_NOTES))
        else:
            data.update(temperature=f"36.{rng.randint(0, 9)}", route="sent_away" if rng.random() < 0.02 else "general",
                        symptoms=rng.sample(SYMPTOMS[1:], 1) if rng.random() < 0.1 else [])
        with clock(moment):
            actions.record_visit(acting_user=medic, post=post, data=data, now=moment)
    # The fever patients older than a day: tested within hours, then admitted or released.
    for visit in Visit.objects.filter(post=post, state=Visit.State.TRACKING,
                                      occurred_at__lt=real_now - dt.timedelta(days=1)).order_by("pk"):
        tested_at = visit.occurred_at + dt.timedelta(hours=rng.uniform(1, 4))
        with clock(tested_at):
            actions.record_outcome(acting_user=medic, visit=visit, action="test",
                                   result="negative" if rng.random() < 0.9 else "positive")
        with clock(tested_at + dt.timedelta(hours=rng.uniform(4, 12))):
            visit.refresh_from_db()
            actions.record_outcome(acting_user=medic, visit=visit,
                                   action="admit" if visit.test_result == "positive" else "release",
                                   note="核酸检测阳性，收治入院" if visit.test_result == "positive" else "核酸阴性，离院")
    # The gates' fevers older than a day: the medics route them within the hour (the latest wait).
    for visit in Visit.objects.filter(origin=Visit.Origin.GATE, state=Visit.State.WAITING,
                                      place_path__under=tree["street"].path,
                                      occurred_at__lt=real_now - dt.timedelta(days=1)).order_by("pk"):
        with clock(visit.occurred_at + dt.timedelta(minutes=rng.randint(10, 50))):
            actions.route_visit(acting_user=medic if visit.place_path.startswith(community.path) else None, visit=visit, data={
                "route": "fever_clinic", "note": "复测体温后引导至发热门诊", "source_area": False, "contact_source": False})
        routed += 1
    return {"clinic_visits": Visit.objects.filter(post=post).count(), "gate_fevers_routed": routed}

