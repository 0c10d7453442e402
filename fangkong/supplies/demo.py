"""The supplies part of the demo street (seeds 000, 001, 002, 004): the street's warehouse
receives the district's allocation and the donations (nearly 3,000 masks and 12 buckets of
disinfectant from a business; a thermometer and 300 masks from a deputy for one compound),
sends each of the 12 stations its share (received that evening, one with a shortfall),
the stations issue masks to the night's volunteers and consume disinfectant and powder
every day (1,000+ jin of disinfectant over the story), a station asks for more and the
street approves part of it, another asks today and waits, and one station runs short of
masks (its keeper and the coordinator are alerted). Every step through actions.py at the
moment it claims (core.demo.clock)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from fangkong.accounts.actions import add_grant

from . import actions
from .catalogue import install
from .models import Holder, Item, Package

KEEPER = ("demo_storekeeper", "街道物资仓库保管员")


def _keeper(street):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=KEEPER[0], defaults={"first_name": KEEPER[1]})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        add_grant(acting_user=None, user=user, role="storekeeper", target=street)
    return user


def build(rng, tree: dict, staff: dict, days: list[dt.date], real_now, *, kit) -> dict:
    _at, clock = kit._at, kit.clock  # kit: fangkong.core.demo, passed in (a module never imports the demo above it)

    install(Item, Package)
    items = {i.code: i for i in Item.objects.all()}
    first = days[0]
    coordinator = staff["coordinator"]
    with clock(_at(first, 7 * 60 + 50)):
        keeper = _keeper(tree["street"])
        wh = actions.create_holder(acting_user=coordinator, kind=Holder.Kind.WAREHOUSE, name="街道物资仓库",
                                   place=tree["street"])
        stations = [actions.create_holder(acting_user=coordinator, kind=Holder.Kind.STATION, organization=s, supplier=wh)
                    for s in tree["stations"]]
        site = actions.create_holder(acting_user=coordinator, kind=Holder.Kind.SITE, organization=tree["site"], supplier=wh)
        by_community = {s.organization.place_id: s for s in stations}
        compounds = []
        for c in tree["compounds"]:
            community_id = int(c.path.strip("/").split("/")[1], 36)
            compounds.append(actions.create_holder(acting_user=coordinator, kind=Holder.Kind.COMPOUND, place=c,
                                                   supplier=by_community.get(community_id, wh)))
        for s in stations:
            actions.set_threshold(acting_user=coordinator, holder=s, item=items["masks"], minimum=300)
    # The district's allocation, early on the first day.
    with clock(_at(first, 8 * 60 + 10)):
        for code, n, pkg in (("masks", 8, "箱"), ("disinfectant", 60, "桶"), ("disinfectant_powder", 14, "袋"),
                             ("suits", 20, "箱"), ("gloves", 40, "盒"), ("thermometers", 60, None), ("alcohol", 40, "桶"),
                             ("goggles", 100, None), ("sprayers", 24, None), ("gel", 10, "箱")):
            actions.receive(acting_user=keeper, holder=wh, item=items[code], quantity=n, package=pkg,
                            source="allocation", counterpart="区疫情防控指挥部")
    with clock(_at(first, 10 * 60 + 5)):
        actions.record_donation(acting_user=keeper, holder=wh, donor="银座商城", donor_kind="business",
                                lines=[(items["masks"], 2950, None), (items["disinfectant"], 12, "桶")])
    # Each station's share, sent in the afternoon and received in the evening.
    share = {"masks": 1000, "disinfectant": 100, "disinfectant_powder": 50, "suits": 20, "thermometers": 4, "gloves": 2}
    transfers = []
    with clock(_at(first, 14 * 60)):
        for s in stations:
            for code, n in share.items():
                transfers.append(actions.send(acting_user=keeper, source=wh, target=s, item=items[code], quantity=n,
                                              package="盒" if code == "gloves" else None))
    for n, t in enumerate(transfers):
        moment = _at(first, 19 * 60 + n // len(share) * 7)
        if moment > real_now:
            continue
        short = t.item.code == "masks" and n // len(share) == 4
        with clock(moment):
            actions.receive_transfer(acting_user=None, transfer=t, received=t.quantity - 50 if short else t.quantity,
                                     note="一盒在途破损" if short else "")
    # A deputy's gift for one compound.
    if len(days) > 1:
        with clock(_at(days[1], 9 * 60 + 30)):
            actions.record_donation(acting_user=coordinator, holder=compounds[0], donor="区人大代表王某", donor_kind="deputy",
                                    lines=[(items["thermometers"], 1, None), (items["masks"], 300, None)])
    # Every day: disinfection at the stations, masks to the night's volunteers; the last
    # station goes through its masks quickly (the shortage).
    consumed = 0
    for d_i, day in enumerate(days):
        for s_i, s in enumerate(stations):
            moment = _at(day, 8 * 60 + s_i * 3)
            if moment > real_now or (d_i == 0 and moment < _at(first, 20 * 60)):
                continue
            with clock(moment):
                n = rng.randint(14, 22)
                actions.issue(acting_user=None, holder=s, item=items["disinfectant"], quantity=n, kind="consume",
                              task="sanitation.round")
                consumed += n
                actions.issue(acting_user=None, holder=s, item=items["disinfectant_powder"], quantity=rng.randint(5, 9),
                              kind="consume", task="sanitation.round")
            night = _at(day, 21 * 60 + s_i * 4)
            if night > real_now:
                continue
            with clock(night):
                masks = 160 if s_i == len(stations) - 1 else rng.randint(40, 90)
                have = actions.on_hand(s, items["masks"])
                if have >= masks:
                    actions.issue(acting_user=None, holder=s, item=items["masks"], quantity=masks,
                                  recipient="夜间分装配送志愿者", task="delivery")
    # Requests: the second station asks on day 3 and gets part; the third asks today and waits.
    out = {"holders": 2 + len(stations) + len(compounds), "disinfectant_consumed": consumed}
    if len(days) > 2:
        with clock(_at(days[2], 9 * 60)):
            req = actions.create_request(acting_user=None, holder=stations[1],
                                         lines=[(items["masks"], 20, "盒"), (items["suits"], 40, None)], note="楼道消杀人员增加")
        with clock(_at(days[2], 10 * 60 + 30)):
            lines = {line.item.code: line for line in req.lines.all()}
            actions.decide_request(acting_user=coordinator, request=req, action="approve",
                                   approved={lines["masks"].pk: 1000, lines["suits"].pk: 20}, note="防护服库存紧张，先拨一半")
        for t in req.transfers.all():
            moment = _at(days[2], 16 * 60)
            if moment <= real_now:
                with clock(moment):
                    actions.receive_transfer(acting_user=None, transfer=t)
    ask = _at(days[-1], 8 * 60 + 40)
    if ask <= real_now:
        with clock(ask):
            actions.create_request(acting_user=None, holder=stations[2], lines=[(items["disinfectant"], 5, "桶")])
    return out
