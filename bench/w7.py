"""W7: the daily report over 1M persons, 10M temperature reports and 5M gate rows.

Setup (not timed): the demo street (12 communities, 141 grids, 8 compounds, 66 units, 12
stations), then raw bulk inserts (executemany on SQLite, COPY on PostgreSQL):

* `size` persons over the grids and compounds;
* 10 × size temperature reports: size × 5/14 observations (at their persons' places), each
  reporting twice a day (two windows) on each of the DAYS days;
* 5 × size gate entries over the DAYS days at the compounds and grids, at every hour,
  a few refused and a few with fever.

Timed, on the middle day:

* value — the daily report: every registered metric's counts for the day, rolled up to every
  place of the tree (reports.figures.place_figures over all places), and the per-unit
  figures (org_figures over all organizations);
* baseline — one hand-written SQL statement over the same rows: the day's gate entries
  grouped by place path, UNION ALL the day's temperature reports joined to their
  observation grouped by place path.

Each is run once to warm the caches, then ROUNDS times; the best of each is reported.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import time

DAYS = 14
ROUNDS = 3


def best(fn, rounds: int = ROUNDS) -> tuple[float, list[float]]:
    """(the fastest of `rounds` timed calls of fn, all their times) in seconds."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times


def insert_persons(loader, places, size: int, tag: str, now) -> int:
    """`size` registry rows bulk-inserted over `places` in turn (the columns a registry row
    needs; numbers stand in for the encrypted ones, id_bidx "<tag>-<i>"): the first one's id."""
    from django.db import connection

    cols = ["household_id", "place_id", "place_path", "name", "id_enc", "id_bidx", "id_masked", "phone_enc",
            "phone_bidx", "phone_masked", "sex", "birth_date", "employer_id", "tags", "note", "created_at",
            "updated_at", "version"]
    V = loader.value  # constants converted once; I() for the values that vary per row
    I = (lambda x: x) if loader.vendor == "sqlite" else str  # noqa: E731
    birth, now_v, none, empty = V(dt.date(1980, 1, 1)), V(now), V(None), V("")
    place_of = [(I(p.pk), V(p.path)) for p in places]
    one, xbytes, masked, sexes = I(1), V(b"x"), V("370102********0000"), [V("M"), V("F")]

    def rows():
        for i in range(size):
            pk, path = place_of[i % len(place_of)]
            yield (none, pk, path, f"居民{i}", xbytes, f"{tag}-{i}", masked, none, empty, empty, sexes[i % 2],
                   birth, none, empty, empty, now_v, now_v, one)

    loader.insert("residents_person", cols, rows())
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id) FROM residents_person")
        return cur.fetchone()[0]
BASELINE_SQL = (
    "SELECT place_path, COUNT(*) FROM gates_gateentry WHERE occurred_at >= %s AND occurred_at < %s GROUP BY place_path "
    "UNION ALL "
    "SELECT o.place_path, COUNT(*) FROM observation_report r JOIN observation_observation o ON o.id = r.observation_id "
    "WHERE r.day = %s GROUP BY o.place_path"
)


def log(msg: str) -> None:
    import sys

    print(f"[w7 {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def first_day() -> dt.date:
    from django.utils import timezone

    return timezone.localdate() - dt.timedelta(days=DAYS + 1)  # all days over, none closed


def report_day() -> dt.date:
    return first_day() + dt.timedelta(days=DAYS // 2)


class Loader:
    """Raw bulk insert of tuples: executemany (SQLite) or COPY text (PostgreSQL)."""

    def __init__(self):
        from django.db import connection

        self.connection = connection
        self.vendor = connection.vendor
        connection.ensure_connection()
        if self.vendor == "sqlite":  # a scratch database: no fsync during the load, a large page cache
            with connection.cursor() as cur:
                cur.execute("PRAGMA synchronous=OFF")
                cur.execute("PRAGMA cache_size=-1000000")

    def value(self, v):
        """A value as the database takes it (rows are made of these, converted once)."""
        if self.vendor == "sqlite":
            if isinstance(v, dt.datetime):
                return self.connection.ops.adapt_datetimefield_value(v)
            if isinstance(v, dt.date):
                return v.isoformat()
            if isinstance(v, bool):
                return int(v)
            return v
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, bytes):
            return "\\\\x" + v.hex()
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        return str(v)

    def insert(self, table: str, cols: list[str], rows, chunk: int = 200_000) -> int:
        from django.db import transaction

        n = 0
        batch = []
        names = ",".join(f'"{c}"' for c in cols)  # "window" is a reserved word

        def flush():
            if not batch:
                return
            if self.vendor == "sqlite":
                cur = self.connection.connection.cursor()
                cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(cols))})", batch)
            else:
                buf = io.StringIO()
                for r in batch:
                    buf.write("\t".join(r))
                    buf.write("\n")
                with self.connection.cursor() as cur:
                    with cur.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                        cp.write(buf.getvalue().encode())
            batch.clear()

        with transaction.atomic():
            for r in rows:
                batch.append(r)
                n += 1
                if len(batch) >= chunk:
                    flush()
            flush()
        return n


def setup(size: int) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from fangkong.core.demo import build_tree

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    tree = build_tree(rng)
    grids, compounds = tree["grids"], tree["compounds"]
    homes = grids + compounds
    gate_places = compounds * 6 + grids  # busy compound gates, some grid checkpoints
    loader = Loader()
    now = timezone.now()
    day0 = first_day()

    def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))

    # Persons: insert_persons.
    V = loader.value  # constants converted once; I() for the values that vary per row
    I = (lambda x: x) if loader.vendor == "sqlite" else str  # noqa: E731
    none, empty, false = V(None), V(""), V(False)
    place_of = [(I(p.pk), V(p.path)) for p in homes]
    one, masked = I(1), V("370102********0000")

    pid0 = insert_persons(loader, homes, size, "w7", now)
    log(f"persons: {size} in {time.perf_counter() - t0:.0f}s")

    # Observations: each reports twice a day on every day; together 10 x size reports.
    n_reports = 10 * size
    n_obs = max(1, n_reports // (2 * DAYS))
    obs_cols = ["person_id", "kind", "state", "version", "place_path", "site_id", "room_id", "application_id",
                "start_date", "planned_end", "reason", "psych_support", "created_at", "created_by_id", "ended_at",
                "ended_by_id", "end_note"]
    obs_const = (V("home_observation"), V("active"), one)
    d0, dend, start_at = V(day0), V(day0 + dt.timedelta(days=DAYS)), V(at(day0, 8))

    def observations():
        for i in range(n_obs):
            pi = (i * 7) % size
            _pk, path = place_of[pi % len(place_of)]
            yield (I(pid0 + pi), *obs_const, path, none, none, none, d0, dend, empty, false, start_at, none, none,
                   none, empty)

    loader.insert("observation_observation", obs_cols, observations())
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id) FROM observation_observation")
        oid0 = cur.fetchone()[0]
    log(f"observations: {n_obs} in {time.perf_counter() - t0:.0f}s")

    rep_cols = ["observation_id", "day", "window", "temperature", "symptoms", "source", "reported_by_id", "reported_at",
                "client_key"]
    days = [day0 + dt.timedelta(days=d) for d in range(DAYS)]
    stamps = {(d, w): V(at(d, 8 if w == 0 else 16)) for d in days for w in (0, 1)}
    fever, normal, no_symptoms, self_ = V("37.6"), V("36.5"), V("[]"), V("self")
    obs_ids = [I(oid0 + i) for i in range(n_obs)]

    def reports():
        made = 0
        for d in days:
            dv = V(d)
            for w in (0, 1):
                ts, wv = stamps[(d, w)], I(w)
                for i in range(n_obs):
                    if made >= n_reports:
                        return
                    made += 1
                    yield (obs_ids[i], dv, wv, fever if i % 97 == 0 else normal, no_symptoms, self_, none, ts, none)

    n = loader.insert("observation_report", rep_cols, reports())
    log(f"temperature reports: {n} in {time.perf_counter() - t0:.0f}s")

    gate_cols = ["client_id", "place_id", "place_path", "direction", "subject", "pass_id", "pass_kind", "colour", "masked",
                 "plate", "temperature", "decision", "reason_code", "reason_text", "server_check", "flagged", "occurred_at",
                 "device_time", "clock_suspect", "received_at", "guard_id", "offline"]
    n_gates = 5 * size
    per_day = -(-n_gates // DAYS)
    hour_stamps = {(d, h): V(at(d, h, 30)) for d in days for h in range(24)}
    gp = [(I(p.pk), V(p.path)) for p in gate_places]
    g_in, g_out, person, resident, green, mask = V("in"), V("out"), V("person"), V("resident"), V("green"), V("张*")
    hot, ok_t, refused_v, allowed_v = V("37.9"), V("36.4"), V("refused"), V("allowed")

    def gates():
        made = 0
        for d in days:
            for j in range(per_day):
                if made >= n_gates:
                    return
                made += 1
                pk, path = gp[j % len(gp)]
                ts = hour_stamps[(d, j % 24)]
                yield (f"{made:032x}", pk, path, g_in if j % 2 else g_out, person, none, resident, green, mask,
                       empty, hot if j % 211 == 0 else ok_t, refused_v if j % 53 == 0 else allowed_v, empty, empty,
                       empty, false, ts, ts, false, ts, none, false)

    n = loader.insert("gates_gateentry", gate_cols, gates())
    log(f"gate entries: {n} in {time.perf_counter() - t0:.0f}s")
    with connection.cursor() as cur:  # fresh statistics (and PostgreSQL's visibility map, as autovacuum would)
        cur.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
    return {"persons": size, "observations": n_obs, "reports": n_reports, "gates": n_gates,
            "seconds": round(time.perf_counter() - t0, 1)}


def run() -> dict:
    from django.db import connection
    from django.utils import timezone

    from fangkong.places.models import Organization, Place
    from fangkong.reports.figures import org_figures, place_figures

    day = report_day()
    places = list(Place.objects.all())
    org_ids = list(Organization.objects.values_list("pk", flat=True))
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    params = [connection.ops.adapt_datetimefield_value(start), connection.ops.adapt_datetimefield_value(end),
              connection.ops.adapt_datefield_value(day)]

    def report():
        figs = place_figures(day, places)
        org_figures(day, org_ids)
        return figs

    def baseline():
        with connection.cursor() as cur:
            cur.execute(BASELINE_SQL, params)
            return cur.fetchall()

    figs = report()  # warm-up, and the figures to check
    rows = baseline()
    street = next(p for p in places if p.depth == 0)
    entries = figs[street.pk]["gates.entries"]
    reports = figs[street.pk]["observation.reports"]
    sql_total = sum(n for _p, n in rows)
    value, vt = best(report)
    base, bt = best(baseline)
    log(f"report {['%.2f' % t for t in vt]} s; baseline {['%.2f' % t for t in bt]} s")
    return {"seconds": value, "baseline_seconds": base, "day": day.isoformat(), "gate_entries": entries,
            "reports": reports, "sql_total": sql_total, "metrics": len(figs[street.pk]), "places": len(places)}
