"""W9: a testing day. `size` persons registered in 10-in-1 tubes, sealed and resulted, then
the coverage per building (DESIGN.md §5, issue 18).

Setup (not timed): the demo street (12 communities, 141 grids, 8 compounds), one building
per BUILDING_PERSONS persons under its grids and compounds, `size` persons living in the
buildings (raw bulk insert, as W7), a running round over the street with 10-in-1 pooling,
a site, a laboratory, a registrar, a lab account and a commander of the street.

Timed:

* load — the day's rows bulk-loaded as the lab's import and the phones' sync end up
  storing them: 95 % of the persons registered (every 20th one is not: coverage is not
  100 %) into tubes of 10, sealed and resulted (a few positive), each registration with
  its client id, person path and times (raw executemany on SQLite, COPY on PostgreSQL;
  `load_rows_per_s`);
* module paths, per core (one process): SYNC_SAMPLE offline registrations of untested
  persons through the module's own batch sync (actions.sync: person lookup, tube fill and
  seal, audit; `sync_rows_per_s`), and their tubes' results through the lab's result rows
  (results.apply_rows, as the file import and POST /api/testing/results/batch do;
  `result_rows_per_s`);
* value — the module's coverage per building (testing.queries.coverage, level
  "building", as the commander of the street reads it: scoped, rolled up);
* baseline — one hand-written SQL statement over the same rows: persons per building
  path LEFT JOIN distinct tested persons per building path of the round.

Coverage and baseline run once to warm the caches, then ROUNDS times; the best of each is
reported, and their per-building counts must be the same.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid

ROUNDS = 3
BUILDING_PERSONS = 300  # persons a building (a 6-floor building of 3 units, 2 flats a floor, ~8 a flat)
SYNC_SAMPLE = 5000  # registrations through the module's sync (at most size / 40: half the untested ones)
BASELINE_SQL = (
    "SELECT b.path, m.n, COALESCE(t.n, 0) FROM places_place b "
    "JOIN (SELECT place_path, COUNT(*) AS n FROM residents_person WHERE place_path LIKE %s GROUP BY place_path) m "
    "ON m.place_path = b.path "
    "LEFT JOIN (SELECT person_path, COUNT(DISTINCT person_id) AS n FROM testing_registration "
    "WHERE round_id = %s AND conflict = %s AND recall_id IS NULL GROUP BY person_path) t ON t.person_path = b.path "
    "WHERE b.kind = 'building' AND b.path LIKE %s"
)


def log(msg: str) -> None:
    import sys

    print(f"[w9 {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def setup(size: int) -> dict:
    import random

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bench.w7 import Loader, insert_persons
    from fangkong.accounts.actions import add_grant
    from fangkong.core.demo import build_tree
    from fangkong.places.actions import create_organization
    from fangkong.places.models import Place, segment
    from fangkong.testing import actions

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    tree = build_tree(random.Random(9))
    street = tree["street"]
    homes = tree["grids"] + tree["compounds"]
    n_buildings = max(len(homes), -(-size // BUILDING_PERSONS))
    # The buildings in bulk (create_place's one statement pair per place took minutes at 1M
    # persons), each with its path from its own id as create_place makes it.
    buildings = Place.objects.bulk_create([
        Place(kind="building", name=f"{i // len(homes) + 1}号楼", code=f"W9-B{i}", parent=homes[i % len(homes)],
              path="", depth=homes[i % len(homes)].depth + 1) for i in range(n_buildings)], batch_size=1000)
    for b in buildings:
        b.path = b.parent.path + segment(b.pk)
    Place.objects.bulk_update(buildings, ["path"], batch_size=1000)
    log(f"{n_buildings} buildings in {time.perf_counter() - t0:.0f}s")

    loader = Loader()
    V = loader.value
    I = (lambda x: x) if loader.vendor == "sqlite" else str  # noqa: E731
    now = timezone.now()
    none, masked = V(None), V("370102********0000")
    pid0 = insert_persons(loader, buildings, size, "w9", now)
    log(f"persons: {size} in {time.perf_counter() - t0:.0f}s")

    today = timezone.localdate()
    rnd = actions.create_round(acting_user=None, name="W9", place=street, start_date=today, end_date=today)
    actions.transition(acting_user=None, round=rnd, action="start")
    site_org = create_organization(acting_user=None, kind="site", name="W9 site", code="W9SITE", place=street, audit=False)
    site = actions.create_site(acting_user=None, round=rnd, name="W9", place=street, opens=dt.time(0),
                               closes=dt.time(23, 59), organization=site_org)
    lab_org = tree["stations"][0]
    User = get_user_model()
    registrar = User.objects.create(username="w9registrar")
    add_grant(acting_user=None, user=registrar, role="registrar", target=site_org)
    lab = User.objects.create(username="w9lab")
    add_grant(acting_user=None, user=lab, role="lab", target=lab_org)
    commander = User.objects.create(username="w9commander")
    add_grant(acting_user=None, user=commander, role="commander", target=street)
    with connection.cursor() as cur:
        cur.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
    return {"persons": size, "pid0": pid0, "buildings": n_buildings, "round": rnd.pk, "site": site.pk,
            "lab_org": lab_org.pk, "seconds": round(time.perf_counter() - t0, 1)}


def load(size: int, prep: dict) -> dict:
    """The day's registrations, tubes (sealed, resulted) bulk-loaded: rows and seconds."""
    from django.db import connection
    from django.utils import timezone

    from bench.w7 import Loader
    from fangkong.testing.models import Site

    site = Site.objects.select_related("round").get(pk=prep["site"])
    loader = Loader()
    V = loader.value
    I = (lambda x: x) if loader.vendor == "sqlite" else str  # noqa: E731
    pid0 = prep["pid0"]
    with connection.cursor() as cur:
        cur.execute("SELECT id, place_path FROM residents_person WHERE id >= %s ORDER BY id", [pid0])
        people = [(pid, path) for pid, path in cur.fetchall() if (pid - pid0) % 20 != 0]  # every 20th not tested
    day = timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(7)))
    n_tubes = -(-len(people) // 10)
    t0 = time.perf_counter()
    tube_cols = ["code", "round_id", "site_id", "place_path", "capacity", "filled", "single", "state", "result",
                 "box_id", "lab_id", "opened_at", "sealed_at", "resulted_at", "version"]
    rid, sid, spath, lab = I(site.round_id), I(site.pk), V(site.place_path), I(prep["lab_org"])
    ten, false, resulted, none, two = I(10), V(False), V("resulted"), V(None), I(3)
    neg, pos = V("negative"), V("positive")

    def stamp(i: int, minutes: int = 0):
        return V(start + dt.timedelta(seconds=(i * 36_000 // max(1, n_tubes)) + minutes * 60))  # 07:00-17:00

    def tubes():
        for i in range(n_tubes):
            filled = min(10, len(people) - 10 * i)
            yield (f"W9T{i:08d}", rid, sid, spath, ten, I(filled), false, resulted, pos if i % 5000 == 4999 else neg,
                   none, lab, stamp(i), stamp(i, 5), stamp(i, 300), two)

    loader.insert("testing_tube", tube_cols, tubes())
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id) FROM testing_tube")
        tid0 = cur.fetchone()[0]
    reg_cols = ["client_id", "round_id", "round_created", "site_id", "lane_id", "tube_id", "person_id", "person_path", "masked", "via",
                "recall_id", "conflict", "offline", "occurred_at", "received_at", "registrar_id"]
    uid = (lambda n: uuid.UUID(int=n).hex) if loader.vendor == "sqlite" else (lambda n: str(uuid.UUID(int=n)))
    mask, link, created = V("居*"), V("link"), V(site.round.created_at)

    def regs():
        for j, (pid, path) in enumerate(people):
            ts = stamp(j // 10)
            yield (uid(j + 1), rid, created, sid, none, I(tid0 + j // 10), I(pid), path, mask, link, none, false, false, ts, ts, none)

    loader.insert("testing_registration", reg_cols, regs())
    seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
    return {"registrations": len(people), "tubes": n_tubes, "seconds": seconds}


def module_paths(size: int, prep: dict) -> dict:
    """Offline registrations of untested persons through the module's sync, then their
    tubes' results through the lab's result rows: rows per second of each (one process)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from fangkong.testing import actions, results
    from fangkong.testing.models import Site, Tube

    connection.close()  # a new connection with the product's settings (the load turned SQLite's fsync off)
    site = Site.objects.select_related("round", "place").get(pk=prep["site"])
    User = get_user_model()
    registrar, lab = User.objects.get(username="w9registrar"), User.objects.get(username="w9lab")
    pid0 = prep["pid0"]
    n = min(SYNC_SAMPLE, size // 40)  # half the untested: coverage stays under 100 %
    untested = [pid0 + 20 * k for k in range(n)]
    now = timezone.now()
    entries = []
    for j, pid in enumerate(untested):
        entries.append({"op": "register", "client_id": str(uuid.uuid4()), "tube": f"W9S{j // 10:07d}", "person": pid,
                        "occurred_at": (now - dt.timedelta(minutes=30)).isoformat()})
    for k in range(0, n, 10):  # the last tube may not be full: sealed by hand
        if n - k < 10:
            entries.append({"op": "seal", "client_id": str(uuid.uuid4()), "tube": f"W9S{k // 10:07d}"})
    stored = 0
    t0 = time.perf_counter()
    for k in range(0, len(entries), actions.MAX_BATCH):
        out = actions.sync(acting_user=registrar, site=site, entries=entries[k:k + actions.MAX_BATCH])
        stored += out["stored"]
        if out["rejected"]:
            log(f"sync rejected {len(out['rejected'])}: {out['rejected'][:3]}")
    sync_seconds = time.perf_counter() - t0
    codes = list(Tube.objects.filter(code__startswith="W9S").values_list("code", flat=True))
    Tube.objects.filter(code__in=codes).update(lab=prep["lab_org"])  # the box's handover, not measured
    rows = [(i, {"tube": c, "result": "阴性", "time": ""}) for i, c in enumerate(codes, start=1)]
    t0 = time.perf_counter()
    res = results.apply_rows(lab, rows)
    result_seconds = time.perf_counter() - t0
    if res["errors"]:
        log(f"result rows refused: {res['errors'][:3]}")
    return {"sync_rows": stored, "sync_seconds": sync_seconds, "result_rows": res["stored"],
            "result_seconds": result_seconds}


def run(prep: dict) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from fangkong.places.models import Place
    from fangkong.testing.models import Round
    from fangkong.testing.queries import coverage

    from bench.w7 import best

    rnd = Round.objects.select_related("place").get(pk=prep["round"])
    commander = get_user_model().objects.get(username="w9commander")
    prefix = rnd.place_path + "%"
    params = [prefix, rnd.pk, False, prefix]

    def module():
        return coverage(commander, rnd, level="building")

    def baseline():
        with connection.cursor() as cur:
            cur.execute(BASELINE_SQL, params)
            return cur.fetchall()

    rows = module()  # warm-up, and the figures to check
    sql = baseline()
    mine = {r["place"].path: (r["must"], r["tested"]) for r in rows}
    theirs = {path: (must, tested) for path, must, tested in sql}
    value, vt = best(module, ROUNDS)
    base, bt = best(baseline, ROUNDS)
    log(f"coverage {['%.3f' % t for t in vt]} s; baseline {['%.3f' % t for t in bt]} s")
    return {"seconds": value, "baseline_seconds": base, "buildings": len(mine),
            "places": Place.objects.filter(kind="building").count(), "same": mine == theirs,
            "must": sum(m for m, _t in mine.values()), "tested": sum(t for _m, t in mine.values())}
