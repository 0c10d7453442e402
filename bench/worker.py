"""One benchmark step in its own process (Django settings are read once per process).

    python -m bench.worker TASK [ARGS...]     prints one JSON object on its last stdout line

The orchestrator (bench.main) sets DATABASE_URL, FANGKONG_ENV=test and FANGKONG_VAR.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import resource
import sys
import time
from pathlib import Path


# --- Memory ----------------------------------------------------------------------------

def reset_peak() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django

    django.setup()


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- Tasks -----------------------------------------------------------------------------

def task_gen(size: str, out_dir: str):
    _django()
    from bench import data

    t = time.perf_counter()
    csv_path, xlsx_path = data.ensure(int(size), Path(out_dir))
    return {"csv": str(csv_path), "xlsx": str(xlsx_path), "seconds": round(time.perf_counter() - t, 1)}


def task_setup():
    """Schema, the demo place tree and an importing user (committee over the street)."""
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from fangkong.accounts.actions import add_grant
    from fangkong.core.demo import build_tree

    from bench import data

    import random

    call_command("migrate", verbosity=0)
    tree = build_tree(random.Random(1))
    codes = {p.code for p in tree["grids"]}
    missing = [c for c, _label in data.GRIDS if c not in codes]
    if missing:
        raise SystemExit(f"grid codes of the data generator are not in the demo tree: {missing[:3]}")
    user = get_user_model().objects.create(username="bench", first_name="bench")
    add_grant(acting_user=None, user=user, role="committee", target=tree["street"])
    return {"street": tree["street"].pk, "user": user.pk}


def _bench_user_and_street():
    from django.contrib.auth import get_user_model

    from fangkong.places.models import Place

    return get_user_model().objects.get(username="bench"), Place.objects.get(code="DEMO")


def task_baseline(csv_path: str):
    """Raw executemany (SQLite) / COPY (PostgreSQL) of the rows the importer would write:
    households and persons, all column values computed beforehand (not timed)."""
    _django()
    from django.db import connection, transaction
    from django.utils import timezone

    from fangkong.places.models import Place
    from fangkong.residents.actions import encrypted_fields
    from fangkong.residents.models import Household, Person
    from fangkong.residents.validation import validate_person

    places = {p.code: p for p in Place.objects.all()}
    now = timezone.now()
    households: dict[tuple[int, str], int] = {}
    hh_rows, person_rows = [], []
    t = time.perf_counter()
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for name, id_number, phone, address, sex, grid, tags in reader:
            clean, errors = validate_person({"name": name, "id_number": id_number, "phone": phone, "sex": sex,
                                             "birth_date": "", "tags": tags, "note": ""})
            assert not errors, errors
            place = places[grid]
            key = (place.pk, address)
            hh = households.get(key)
            if hh is None:
                hh = households[key] = len(households) + 1
                hh_rows.append((hh, place.pk, place.path, address, "owned", now, now))
            enc = encrypted_fields(clean["id_number"], clean["phone"])
            person_rows.append((
                hh, place.pk, place.path, clean["name"], enc["id_enc"], enc["id_bidx"], enc["id_masked"],
                enc["phone_enc"], enc["phone_bidx"], enc["phone_masked"], clean["sex"], clean["birth_date"], None,
                "," + ",".join(clean["tags"]) + "," if clean["tags"] else "", "", now, now, 1,
            ))
    log(f"baseline: prepared {len(person_rows)} rows in {time.perf_counter() - t:.1f}s")
    hh_cols = ["id", "place_id", "place_path", "address", "tenure", "created_at", "updated_at"]
    p_cols = ["household_id", "place_id", "place_path", "name", "id_enc", "id_bidx", "id_masked", "phone_enc",
              "phone_bidx", "phone_masked", "sex", "birth_date", "employer_id", "tags", "note", "created_at",
              "updated_at", "version"]
    assert {f.column for f in Person._meta.concrete_fields} == set(p_cols) | {"id"}
    assert {f.column for f in Household._meta.concrete_fields} == set(hh_cols)
    hh_table, p_table = Household._meta.db_table, Person._meta.db_table

    if connection.vendor == "sqlite":
        ops = connection.ops

        def sqlite_value(v):
            if isinstance(v, dt.datetime):
                return ops.adapt_datetimefield_value(v)
            if isinstance(v, dt.date):
                return v.isoformat()
            return v

        hh_rows = [tuple(sqlite_value(v) for v in r) for r in hh_rows]
        person_rows = [tuple(sqlite_value(v) for v in r) for r in person_rows]
        connection.ensure_connection()
        raw = connection.connection
        t = time.perf_counter()
        with transaction.atomic():
            cur = raw.cursor()
            cur.executemany(f"INSERT INTO {hh_table} ({','.join(hh_cols)}) VALUES ({','.join('?' * len(hh_cols))})", hh_rows)
            cur.executemany(f"INSERT INTO {p_table} ({','.join(p_cols)}) VALUES ({','.join('?' * len(p_cols))})", person_rows)
        seconds = time.perf_counter() - t
    else:
        def copy_text(rows):
            out = io.StringIO()
            for r in rows:
                out.write("\t".join(
                    "\\N" if v is None else ("\\\\x" + v.hex()) if isinstance(v, bytes) else
                    v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)
                    for v in r
                ))
                out.write("\n")
            return out.getvalue().encode()

        hh_data, person_data = copy_text(hh_rows), copy_text(person_rows)
        chunk = 1 << 20
        t = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            raw = cur.cursor  # the psycopg cursor
            with raw.copy(f"COPY {hh_table} ({','.join(hh_cols)}) FROM STDIN") as cp:
                for i in range(0, len(hh_data), chunk):
                    cp.write(hh_data[i:i + chunk])
            with raw.copy(f"COPY {p_table} ({','.join(p_cols)}) FROM STDIN") as cp:
                for i in range(0, len(person_data), chunk):
                    cp.write(person_data[i:i + chunk])
        seconds = time.perf_counter() - t
    assert Person.objects.count() == len(person_rows)
    return {"rows": len(person_rows), "households": len(hh_rows), "seconds": seconds}


def task_import(path: str, expect_rows: str):
    """The real importer on one file: create_job + run_import, timed together."""
    _django()
    from fangkong.residents import importing
    from fangkong.residents.models import Household, ImportJob, Person

    user, street = _bench_user_and_street()
    path = Path(path)
    reset_peak()
    before = rss_mb()
    t = time.perf_counter()
    job = importing.create_job(acting_user=user, place=street, stored_path=path, file_name=path.name)
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["status"])
    job = importing.run_import(job, acting_user=user)
    seconds = time.perf_counter() - t
    peak = peak_mb()
    n = int(expect_rows)
    result = {
        "rows": job.processed_rows, "seconds": seconds, "peak_mb": peak, "start_mb": before,
        "status": job.status, "created": job.created_count, "errors": job.error_count,
        "persons": Person.objects.count(), "households": Household.objects.count(),
        # The importer's reading process (large files), if any: its own peak, not in peak_mb.
        "child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    if job.status != "done" or job.created_count != n or job.error_count or result["persons"] != n:
        from fangkong.residents.models import ImportRowError

        result["first_errors"] = list(ImportRowError.objects.filter(job=job).values_list("row", "column", "reason")[:5])
        result["message"] = job.message
    return result


def task_w2(mode: str, path: str):
    """Read every row of the XLSX: the importer's reader or bare python-calamine."""
    _django()
    reset_peak()
    before = rss_mb()
    t = time.perf_counter()
    n = 0
    if mode == "calamine":
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(path)
        for _row in wb.get_sheet_by_index(0).iter_rows():
            n += 1
        n -= 1  # the header row
    else:
        from fangkong.lib.sheets import Table

        for _item in Table(Path(path), "xlsx").data_rows():
            n += 1
    seconds = time.perf_counter() - t
    return {"rows": n, "seconds": seconds, "peak_mb": peak_mb(), "start_mb": before}


# --- HTTP workloads ----------------------------------------------------------------------

def resident_token(i: int) -> str:
    """The personal link token of W5 person number i (known to the load generator; the
    database keeps only its SHA-256, as for a real link)."""
    import hashlib

    return f"bench-{i:07d}-" + hashlib.sha256(f"fangkong-bench-w5-{i}".encode()).hexdigest()[:24]


def task_w5_setup(count: str):
    """W5 data: the demo street, `count` persons in households (bulk), each under home
    observation since yesterday (so a run across midnight still lies in the period) with a
    personal link whose token is resident_token(i). Person i is the i-th created."""
    _django()
    from django.db import transaction
    from django.utils import timezone

    from fangkong.accounts.actions import _token_hash
    from fangkong.accounts.models import ResidentLink
    from fangkong.observation.models import Observation
    from fangkong.places.models import Place
    from fangkong.residents.actions import encrypted_fields
    from fangkong.residents.models import Household, Person
    from fangkong.residents.validation import validate_person

    from bench import data

    n = int(count)
    t = time.perf_counter()
    task_setup()
    places = {p.code: p for p in Place.objects.filter(kind="grid")}
    now = timezone.now()
    today = timezone.localdate()
    households: dict[tuple[str, str], Household] = {}
    people = []
    for name, id_number, phone, address, sex, grid, tags in data.rows(n, seed=5):
        clean, errors = validate_person({"name": name, "id_number": id_number, "phone": phone, "sex": sex,
                                         "birth_date": "", "tags": tags, "note": ""})
        assert not errors, errors
        place = places[grid]
        hh = households.get((grid, address))
        if hh is None:
            hh = households[(grid, address)] = Household(place=place, place_path=place.path, address=address)
        people.append((hh, place, clean))
    with transaction.atomic():
        Household.objects.bulk_create(households.values(), batch_size=2000)
        persons = Person.objects.bulk_create(
            [Person(household=hh, place=place, place_path=place.path, name=c["name"], sex=c["sex"],
                    birth_date=c["birth_date"], tags="," + ",".join(c["tags"]) + "," if c["tags"] else "",
                    **encrypted_fields(c["id_number"], c["phone"])) for hh, place, c in people], batch_size=2000)
        assert all(p.pk for p in persons)
        Observation.objects.bulk_create(
            [Observation(person=p, kind=Observation.Kind.HOME, place_path=p.place_path, start_date=today - dt.timedelta(days=1),
                         planned_end=today + dt.timedelta(days=13), reason="bench W5") for p in persons], batch_size=2000)
        ResidentLink.objects.bulk_create(
            [ResidentLink(person=p, token_hash=_token_hash(resident_token(i)), expires_at=now + dt.timedelta(days=30))
             for i, p in enumerate(persons)], batch_size=2000)
    _floor_table()
    return {"persons": len(persons), "households": len(households), "seconds": round(time.perf_counter() - t, 1)}


def task_w5_check():
    """What the W5 run stored: self-reports, per observation at most one, and their audit events."""
    _django()
    from django.db.models import Count

    from fangkong.audit.models import AuditEvent
    from fangkong.observation.models import Alert, Report

    reports = Report.objects.filter(source="self")
    return {
        "reports": reports.count(),
        "observations": reports.values("observation").distinct().count(),
        "max_per_observation": max(reports.values("observation").annotate(n=Count("id")).values_list("n", flat=True),
                                   default=0),
        "audit": AuditEvent.objects.filter(action="observation.report").count(),
        "alerts": Alert.objects.count(),
    }


def task_sanity(size: str = "5000"):
    from bench import sanity

    return {"failures": sanity.main(int(size))}


def _floor_table():
    """The table of the floor endpoint (bench/floor), made beside the product's schema."""
    from django.db import connection

    from bench.floor import create_table_sql

    with connection.cursor() as cur:
        cur.execute(create_table_sql(connection.vendor))


def task_floor_check():
    """Rows the floor endpoint stored."""
    _django()
    from django.db import connection

    from bench.floor import TABLE

    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {TABLE}")
        return {"rows": cur.fetchone()[0]}


def task_w4_setup():
    """W4 data: a compound (checkpoint) with a gate guard signed in (a session and a CSRF
    token, as the gate page has them) and a valid visitor pass whose code the guard scans."""
    _django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.middleware.csrf import _get_new_csrf_string

    from fangkong.accounts.actions import add_grant
    from fangkong.passes.actions import issue_visitor_pass
    from fangkong.places.actions import create_place

    call_command("migrate", verbosity=0)
    street = create_place(acting_user=None, kind="street", name="基准街道", code="W4S", parent=None)
    comm = create_place(acting_user=None, kind="community", name="基准社区", code="W4C", parent=street)
    grid = create_place(acting_user=None, kind="grid", name="基准网格", code="W4G", parent=comm)
    compound = create_place(acting_user=None, kind="compound", name="基准小区", code="W4Y", parent=grid)
    user = get_user_model().objects.create(username="w4guard", first_name="w4guard")
    add_grant(acting_user=None, user=user, role="gate_guard", target=compound)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(6 * 3600)
    session.create()
    _floor_table()
    _pass, token = issue_visitor_pass(acting_user=None, name="基准访客", phone="13812345678", reason="bench",
                                      host_household=None, hours=72, place=compound)
    return {"place": compound.pk, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            "csrf": _get_new_csrf_string(), "token": token}


def task_w10_setup():
    """W10 data: a signed-in staff member (a session, as a browser has it) and the account
    whose name the attackers know (a real Argon2 password, so wrong guesses are hashed)."""
    _django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.middleware.csrf import _get_new_csrf_string

    call_command("migrate", verbosity=0)
    User = get_user_model()
    reader = User.objects.create(username="w10reader", first_name="w10reader")
    User.objects.create_user(username="w10victim", password="victim-password-" + os.urandom(8).hex())
    session = SessionStore()
    session[SESSION_KEY] = str(reader.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = reader.get_session_auth_hash()
    session.set_expiry(6 * 3600)
    session.create()
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}", "csrf": _get_new_csrf_string()}


def task_w4_check():
    """What the W4 run stored: gate entries (online and synced), their audit events."""
    _django()
    from fangkong.audit.models import AuditEvent
    from fangkong.gates.models import GateEntry

    return {
        "online": GateEntry.objects.filter(offline=False).count(),
        "allowed": GateEntry.objects.filter(offline=False, decision="allowed", flagged=False).count(),
        "offline": GateEntry.objects.filter(offline=True).count(),
        "audit": AuditEvent.objects.filter(action="gates.entry").count(),
        "audit_batches": AuditEvent.objects.filter(action="gates.batch").count(),
    }


def task_w3(size: str, revoked: str = "0.02"):
    """W3: check_token (decode, trusted key, signature, expiry, revocation) on N valid
    tokens with a revocation list of realistic size (a share of N revoked passes), against
    the bare Ed25519 verify of the same tokens' signed bytes, in this process."""
    _django()
    import base64
    import datetime as dt

    from django.core.management import call_command
    from django.utils import timezone

    from fangkong.passes import actions, tokens
    from fangkong.passes.models import Pass
    from fangkong.places.models import Place

    call_command("migrate", verbosity=0)
    n = int(size)
    place = Place.objects.create(kind="compound", name="W3", code="W3", path="00000w/", depth=0)
    now = timezone.now()
    until = now + dt.timedelta(days=30)
    n_revoked = int(n * float(revoked))
    Pass.objects.bulk_create(
        [Pass(kind="visitor", visitor_name="访客", place=place, place_path=place.path, valid_from=now, valid_until=until,
              state="revoked" if i < n_revoked else "active") for i in range(n + n_revoked)], batch_size=5000)
    ids = list(Pass.objects.filter(state="active").order_by("pk").values_list("pk", flat=True)[:n])
    toks = [tokens.sign(pass_id=pid, kind="visitor", colour="green", masked="访*", expires_at=until) for pid in ids]
    assert len(actions.revoked_ids()[0]) == n_revoked
    key = tokens._fresh()["public"][tokens.verify(toks[0]).kid]
    split = []
    for t in toks:
        body, sig = t.rsplit(".", 1)
        split.append((base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), body.encode("ascii")))

    def best(fn, rounds=3):
        out = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return min(out)

    def bare():
        for sig, body in split:
            key.verify(sig, body)

    def full():
        check = actions.check_token
        for t in toks:
            check(t)

    full()  # warm caches (keys, revocation list)
    base = best(bare)
    value = best(full)
    return {"tokens": n, "revoked": n_revoked, "seconds": value, "baseline_seconds": base}


def task_w7(size: str):
    """W7: bulk-load the rows (not timed), then time the daily report against one SQL GROUP BY."""
    _django()
    from bench import w7

    prep = w7.setup(int(size))
    res = w7.run()
    return {**res, "setup_seconds": prep["seconds"], "persons": prep["persons"], "rows_reports": prep["reports"],
            "rows_gates": prep["gates"]}


def task_w6_setup(count: str):
    """W6 data: the demo street with `count` persons (bulk, as W5), a running testing round
    over the street with 10-in-1 pooling and a site there, and a registrar of the site signed
    in (a session and a CSRF token, as the registration page has them). Returns the persons'
    ids in creation order (request i registers person i)."""
    _django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string
    from django.utils import timezone

    from fangkong.accounts.actions import add_grant
    from fangkong.observation.models import Observation
    from fangkong.places.models import Organization, Place
    from fangkong.residents.models import Person
    from fangkong.testing import actions

    t = time.perf_counter()
    task_w5_setup(count)
    Observation.objects.all().delete()  # W5's measures are not W6's concern
    street = Place.objects.get(code="DEMO")
    today = timezone.localdate()
    rnd = actions.create_round(acting_user=None, name="W6", place=street, start_date=today, end_date=today + dt.timedelta(days=1))
    actions.transition(acting_user=None, round=rnd, action="start")
    org = Organization.objects.create(kind="site", name="W6 site", code="W6SITE", place=street, place_path=street.path)
    site = actions.create_site(acting_user=None, round=rnd, name="W6", place=street, opens=dt.time(0), closes=dt.time(23, 59),
                               organization=org)
    user = get_user_model().objects.create(username="w6registrar", first_name="w6registrar")
    add_grant(acting_user=None, user=user, role="registrar", target=org)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(6 * 3600)
    session.create()
    return {"site": site.pk, "persons": list(Person.objects.order_by("pk").values_list("pk", flat=True)),
            "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}", "csrf": _get_new_csrf_string(),
            "seconds": round(time.perf_counter() - t, 1)}


def task_w6_check():
    """What the W6 run stored: registrations online and synced, tubes over capacity, audit events."""
    _django()
    from django.db.models import F

    from fangkong.audit.models import AuditEvent
    from fangkong.testing.models import Registration, Tube

    return {
        "online": Registration.objects.filter(offline=False).count(),
        "offline": Registration.objects.filter(offline=True).count(),
        "persons": Registration.objects.values("person_id").distinct().count(),
        "over": Tube.objects.filter(filled__gt=F("capacity")).count(),
        "audit": AuditEvent.objects.filter(action="testing.register").count(),
    }


def task_w9(size: str):
    """W9: a testing day (bench/w9.py): setup, the timed bulk load, the module's sync and
    result rows on a sample, then the coverage per building against one SQL statement."""
    _django()
    from bench import w9

    prep = w9.setup(int(size))
    loaded = w9.load(int(size), prep)
    w9.log(f"loaded {loaded['registrations']} registrations, {loaded['tubes']} tubes in {loaded['seconds']:.1f}s")
    paths = w9.module_paths(int(size), prep)
    res = w9.run(prep)
    return {**res, **paths, "setup_seconds": prep["seconds"], "load_seconds": loaded["seconds"],
            "registrations": loaded["registrations"], "tubes": loaded["tubes"], "buildings_made": prep["buildings"]}


TASKS = {"w9": task_w9, "w6_setup": task_w6_setup, "w6_check": task_w6_check, "gen": task_gen, "setup": task_setup, "baseline": task_baseline, "import": task_import, "w2": task_w2,
         "sanity": task_sanity, "w3": task_w3, "w4_setup": task_w4_setup, "w10_setup": task_w10_setup, "w4_check": task_w4_check, "w5_setup": task_w5_setup, "w5_check": task_w5_check, "floor_check": task_floor_check, "w7": task_w7}

if __name__ == "__main__":
    result = TASKS[sys.argv[1]](*sys.argv[2:])
    sys.stdout.flush()
    print(json.dumps(result, default=str))
