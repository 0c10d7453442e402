"""The disinfection part of the demo street at the seed's Binnan scale (001, 004): across
the eight compounds about 1,350 stairwells (every 2 or 3 days; key stairwells of the
first compound three times a day), 62 garbage stations, 474 bins and 19 public toilets
(daily), each compound's gatehouse (twice a day); the property staff log the rounds of
every day of the story from their phones (a few left overdue, today's still going on),
with the disinfectant of the garbage stations and of the case rounds taken from the
supplies ledger; the fevers and positive tests of the other stories have made case
rounds (logged within hours, but for the latest); the isolated households' waste is
collected every day. Every step through actions.py at the moment it claims (core.demo.clock),
never after the real now."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from fangkong.accounts.actions import add_grant
from fangkong.lib.workflow import Conflict
from fangkong.residents.models import Person
from fangkong.supplies.models import Item

from . import actions
from .models import Round, Target

PROPERTY = ("demo_property", "阳光花园物业")
STAIRWELLS, STATIONS, BINS, TOILETS = 1350, 62, 474, 19
KEY_STAIRWELLS = 12
FULL_STREET = 90_000  # the default demo's persons: the seed's figures in full


def _property_staff(compounds):
    User = get_user_model()
    out = []
    for i, c in enumerate(compounds):
        username, name = PROPERTY if i == 0 else (f"demo_property_{i + 1}", f"{c.name}物业")
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": name})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            add_grant(acting_user=None, user=user, role="property", target=c)
        out.append(user)
    return out


def _share(total: int, n: int, i: int) -> int:
    return total // n + (1 if i < total % n else 0)


def _specs(i: int, n: int, scale: float) -> list[tuple]:
    """The targets of compound i of n: its share of the seed's figures (scaled down for a
    smaller street: `DEMO_PERSONS=9000` has a tenth of them)."""
    def share(total):
        return _share(max(n, round(total * scale)), n, i)

    specs = []
    stairwells = share(STAIRWELLS)
    for k in range(stairwells):
        building, unit = k // 3 + 1, k % 3 + 1
        key = i == 0 and k < KEY_STAIRWELLS
        specs.append(("stairwell", f"{building}号楼{unit}单元楼道", 1 if key else 2 + k % 2, 3 if key else 1, key))
    specs += [("garbage_station", f"{k + 1}号垃圾站", 1, 1, False) for k in range(share(STATIONS))]
    specs += [("bin", f"{k + 1}号垃圾桶", 1, 1, False) for k in range(share(BINS))]
    specs += [("toilet", f"{k + 1}号公厕", 1, 1, True) for k in range(share(TOILETS))]
    specs.append(("gatehouse", "小区门岗", 1, 2, True))
    return specs


def build(rng, tree: dict, staff: dict, days: list[dt.date], real_now, *, kit) -> dict:
    _at, clock = kit._at, kit.clock  # kit: fangkong.core.demo, passed in (a module never imports the demo above it)
    compounds = tree["compounds"]
    first = days[0]
    persons = Person.objects.filter(place_path__under=tree["street"].path).count()
    scale = min(1.0, persons / FULL_STREET)
    with clock(_at(first, 7 * 60 + 20)):
        workers = _property_staff(compounds)
        by_compound = {c.pk: w for c, w in zip(compounds, workers)}
        for i, c in enumerate(compounds):
            actions.add_targets(acting_user=staff["coordinator"], place=c, specs=_specs(i, len(compounds), scale))
    agent = Item.objects.filter(code="disinfectant").first()
    logged = skipped = 0
    for day in days:
        start = max(_at(day, 5), _at(first, 7 * 60 + 30)) if day == first else _at(day, 5)
        if start > real_now:
            break
        with clock(start):
            actions.generate(day)
        rounds = list(Round.objects.filter(day=day).select_related("target").order_by("due_at", "id"))
        for r in rounds:
            if r.state != Round.State.DUE:
                continue
            if r.kind == Round.Kind.CASE:
                moment = r.due_at - dt.timedelta(minutes=rng.randint(30, 150))
            else:
                moment = r.due_at - dt.timedelta(minutes=rng.randint(20, 300))
            # A few forgotten every day (bins and stairwells: overdue on the board), the latest case round still open.
            if r.kind == Round.Kind.SCHEDULED and r.target.kind in ("stairwell", "bin") and rng.random() < 0.02:
                skipped += 1
                continue
            moment = max(moment, start + dt.timedelta(minutes=rng.randint(10, 90)))  # not before the day's list
            if moment > real_now:
                continue
            user = by_compound.get(r.compound_id_copy) or workers[0]
            amount = 5 if r.kind == Round.Kind.CASE else (1 if r.target.kind == "garbage_station" else None)
            with clock(moment):
                try:
                    actions.log_round(acting_user=user, round=r, agent=agent if amount else None, amount=amount,
                                      client_id=f"demo-{r.pk}")
                except Conflict:  # the station ran out: logged without taking the agent
                    actions.log_round(acting_user=user, round=r, client_id=f"demo-{r.pk}")
            logged += 1
    return {"targets": Target.objects.count(), "rounds_logged": logged, "rounds_forgotten": skipped,
            "case_rounds": Round.objects.filter(kind=Round.Kind.CASE).count()}
