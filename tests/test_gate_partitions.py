"""Gate entries partitioned by month on `occurred_at` on PostgreSQL (issue 22, item 2; gates
migration 0005, clinic 0003, fangkong.lib.db.partitions, gates.tasks): check-ins made
through the site (single and batch) land in their month's partition, a resend is still one
entry (the same device time meets the unique (client_id, occurred_at); an entry whose
clock is suspect, stored at its receipt time, is found by its client id), a fever's triage
visit names its entry (no database foreign key any more), an entry of a month without
partition waits in DEFAULT until the daily task makes its month, old months can be
detached by the retention rule, and the migrations go back and forth. On SQLite the table
stays one table; the new constraint holds on both."""
from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.clinic.models import Visit
from fangkong.core.retention import purge
from fangkong.gates.models import GateEntry, SuspectClock
from fangkong.gates.tasks import ensure_entry_partitions
from fangkong.lib.db import partitions
from fangkong.passes import tokens

TABLE = "gates_gateentry"
ENTRIES, BATCH = "/api/gates/entries", "/api/gates/entries/batch"
pg = pytest.mark.one_database("postgresql")


def _local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=timezone.get_default_timezone())


def _entry(cast, at: dt.datetime, **kw) -> dict:
    data = {"client_id": str(uuid.uuid4()), "place": cast.compound_a1.pk, "direction": "in", "subject": "person",
            "token": "", "temperature": "36.5", "decision": "allowed", "offline": True, "occurred_at": at.isoformat()}
    data.update(kw)
    return data


def _post(client, url, data):
    return client.post(url, data=json.dumps(data), content_type="application/json")


def _where(pk):
    with connection.cursor() as cur:
        cur.execute("SELECT tableoid::regclass::text FROM gates_gateentry WHERE id = %s", [pk])
        row = cur.fetchone()
    return row[0] if row else None


def _month(when) -> str:
    return partitions.partition_name(TABLE, partitions.month_start(when))


def _third_of_this_month() -> dt.date:
    return partitions.month_start(timezone.localdate()) + dt.timedelta(days=2)


@pg
def test_check_ins_through_the_site_land_in_their_months_partition(cast, login, clock):
    assert partitions.is_partitioned(TABLE)
    # 00:20 on the first of next month (its partition made by the migration, two months
    # ahead); queued entries of 23:30 the day before belong to this month's.
    clock.set(_local(partitions.add_months(partitions.month_start(timezone.localdate()), 1), 0, 20))
    last_month = clock.now - dt.timedelta(minutes=50)
    client = login(cast.guard_a)
    single = _post(client, ENTRIES, _entry(cast, clock.now - dt.timedelta(minutes=5), offline=False))
    queued = _post(client, ENTRIES, _entry(cast, last_month))
    batch = _post(client, BATCH, {"entries": [_entry(cast, last_month + dt.timedelta(minutes=i)) for i in range(3)]
                                  + [_entry(cast, clock.now - dt.timedelta(minutes=1))]})
    assert single.status_code == queued.status_code == 201 and batch.json()["stored"] == 4
    entries = list(GateEntry.objects.all())
    assert len(entries) == 6
    for e in entries:
        assert not e.clock_suspect and _where(e.pk) == _month(e.occurred_at)
    assert sorted(_where(e.pk) for e in entries) == [_month(last_month)] * 4 + [_month(clock.now)] * 2
    assert _month(last_month) != _month(clock.now)
    # The pages' and the daily figures' reads see every partition; the audit event names its entry.
    from django.test import Client

    commander = Client()
    commander.force_login(cast.commander)
    rows = commander.get(BATCH.replace("entries/batch", "stats"), {"day": timezone.localtime(last_month).date()}).json()["rows"]
    assert [r["total"] for r in rows] == [4]
    assert GateEntry.objects.filter(occurred_at__gte=last_month - dt.timedelta(hours=1)).count() == 6
    assert AuditEvent.objects.get(action="gates.entry", object_id=str(single.json()["id"])).user_id == cast.guard_a.pk


@pg
def test_a_resend_stores_nothing_and_answers_as_before(cast, login, clock):
    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    one = _entry(cast, clock.now - dt.timedelta(hours=2))
    first = _post(client, ENTRIES, one)
    again = _post(client, ENTRIES, one)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    queue = [_entry(cast, clock.now - dt.timedelta(hours=1, minutes=i)) for i in range(3)]
    assert _post(client, BATCH, {"entries": queue}).json()["stored"] == 3
    resent = _post(client, BATCH, {"entries": queue + [one]}).json()
    assert (resent["stored"], resent["duplicates"], resent["rejected"]) == (0, 4, [])
    assert GateEntry.objects.count() == 4
    assert AuditEvent.objects.filter(action="gates.entry").count() == 1  # the single's, once


@pytest.mark.django_db(transaction=True)
def test_a_resend_outside_a_test_transaction_is_answered_with_the_stored_entry(cast):
    """As the server runs (autocommit): on PostgreSQL the check-in is one statement
    (fastsql.insert_chained), refused as a whole by gate_entry_client_time on a resend."""
    from django.test import Client

    client = Client()
    client.force_login(cast.guard_a)
    one = _entry(cast, timezone.now() - dt.timedelta(minutes=3))
    first, again = _post(client, ENTRIES, one), _post(client, ENTRIES, one)
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["id"] == first.json()["id"]
    assert GateEntry.objects.count() == 1 and AuditEvent.objects.filter(action="gates.entry").count() == 1
    if connection.vendor == "postgresql":
        assert _where(first.json()["id"]) == _month(timezone.now() - dt.timedelta(minutes=3))


def test_a_clock_suspect_entry_resent_is_stored_once(cast, login, clock):
    """Its occurred_at is the receipt time, different at every send: the unique key cannot
    meet the stored copy; the lookup by client id does (single and batch). The same for a
    resend so late that its device time is out of range now."""
    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    off = _entry(cast, clock.now - dt.timedelta(days=90))  # the device's clock far behind
    first = _post(client, ENTRIES, off)
    assert first.status_code == 201
    clock.set(clock.now + dt.timedelta(minutes=7))
    again = _post(client, ENTRIES, off)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    clock.set(clock.now + dt.timedelta(minutes=7))
    resent = _post(client, BATCH, {"entries": [off]}).json()
    assert (resent["stored"], resent["duplicates"]) == (0, 1)
    stored = GateEntry.objects.get(client_id=off["client_id"])
    assert stored.clock_suspect and stored.pk == first.json()["id"]
    # Stored with its device time, resent 31 days later: suspect now, found all the same.
    late = _entry(cast, clock.now - dt.timedelta(hours=1))
    assert _post(client, ENTRIES, late).status_code == 201
    assert _post(client, BATCH, {"entries": [_entry(cast, clock.now - dt.timedelta(hours=2))]}).json()["stored"] == 1
    queued = GateEntry.objects.filter(received_at=clock.now).exclude(client_id=late["client_id"]).get()
    clock.set(clock.now + dt.timedelta(days=31))
    client = login(cast.guard_a)  # a new session, 31 days on
    assert _post(client, ENTRIES, late).status_code == 200
    queued_again = _entry(cast, queued.occurred_at, client_id=str(queued.client_id))
    assert _post(client, BATCH, {"entries": [queued_again]}).json()["duplicates"] == 1
    assert GateEntry.objects.count() == 3
    if connection.vendor == "postgresql":
        assert _where(stored.pk) == _month(stored.received_at)


def _fast_clock_entry_resent_once_plausible(cast, client, clock):
    """An entry from a device clock 15 min fast, stored at its receipt time; sent again 20
    min later, when its device time has become plausible (the unique key cannot meet the
    stored copy: another occurred_at)."""
    fast = _entry(cast, clock.now + dt.timedelta(minutes=15), offline=False)
    first = _post(client, ENTRIES, fast)
    assert first.status_code == 201
    stored = GateEntry.objects.get(client_id=fast["client_id"])
    assert stored.clock_suspect and SuspectClock.objects.get(client_id=stored.client_id).occurred_at == stored.occurred_at
    clock.set(clock.now + dt.timedelta(minutes=20))
    again = _post(client, ENTRIES, fast)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    from fangkong.places.actions import create_place

    east_gate = create_place(acting_user=None, kind="checkpoint", name="甲一小区东门", code="A1Y-E", parent=cast.compound_a1)
    elsewhere = _post(client, ENTRIES, {**fast, "place": east_gate.pk})  # the same id at another checkpoint
    assert elsewhere.status_code == 422 and [e["field"] for e in elsewhere.json()["detail"]] == ["client_id"]
    batch = _post(client, BATCH, {"entries": [fast]}).json()
    assert (batch["stored"], batch["duplicates"]) == (0, 1)
    assert GateEntry.objects.filter(client_id=fast["client_id"]).count() == 1
    assert AuditEvent.objects.filter(action="gates.entry", object_id=str(stored.pk)).count() == 1
    # An entry never suspect is stored as before.
    plain = _post(client, ENTRIES, _entry(cast, clock.now - dt.timedelta(minutes=1), offline=False))
    assert plain.status_code == 201 and GateEntry.objects.count() == 2


def test_a_clock_suspect_entry_resent_once_its_time_is_plausible_is_stored_once(cast, login, clock):
    clock.set(_local(_third_of_this_month(), 10))
    _fast_clock_entry_resent_once_plausible(cast, login(cast.guard_a), clock)


@pytest.mark.django_db(transaction=True)
def test_a_clock_suspect_entry_resent_once_plausible_outside_a_transaction(cast, clock):
    """As the server runs: on PostgreSQL the plausible resend is the one-statement check-in
    (fastsql.insert_chained), refused there by its NOT EXISTS on SuspectClock."""
    from django.test import Client

    clock.set(_local(_third_of_this_month(), 10))
    client = Client()
    client.force_login(cast.guard_a)
    _fast_clock_entry_resent_once_plausible(cast, client, clock)


@pytest.mark.parametrize("path", ["single", "batch"])
def test_a_clock_suspect_resend_committed_meanwhile_is_found_under_the_lock(cast, login, clock, path):
    """A concurrent send of the same suspect entry, committed between the lookup before the
    insert (the batch's) and the lock of its client id: found by the lookup under the lock."""
    from fangkong.gates import actions

    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    off = _entry(cast, clock.now - dt.timedelta(days=60))
    real_lock, made = actions._lock_client_ids, []

    def lock(ids):
        if not made:  # the other send's copy, committed meanwhile (at its own receipt time)
            made.append(GateEntry.objects.create(
                client_id=off["client_id"], place=cast.compound_a1, place_path=cast.compound_a1.path, direction="in",
                decision="allowed", occurred_at=clock.now - dt.timedelta(seconds=2), device_time=clock.now,
                clock_suspect=True, received_at=clock.now - dt.timedelta(seconds=2)))
        return real_lock(ids)

    with mock.patch.object(actions, "_lock_client_ids", side_effect=lock):
        if path == "single":
            resp = _post(client, ENTRIES, off)
            assert resp.status_code == 200 and resp.json()["id"] == made[0].pk
        else:
            body = _post(client, BATCH, {"entries": [off]}).json()
            assert (body["stored"], body["duplicates"], body["accepted"]) == (0, 1, [off["client_id"]])
    assert made and GateEntry.objects.count() == 1


@pg
def test_a_fever_opens_its_triage_visit_naming_the_entry(cast, login, clock, django_capture_on_commit_callbacks):
    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    hot = _entry(cast, clock.now - dt.timedelta(minutes=2), temperature="38.4", decision=None, offline=False)
    with django_capture_on_commit_callbacks(execute=True):
        resp = _post(client, ENTRIES, hot)
    assert resp.status_code == 201 and resp.json()["triage_id"]
    visit = Visit.objects.get(pk=resp.json()["triage_id"])
    assert visit.gate_entry.client_id == uuid.UUID(hot["client_id"]) and visit.gate_entry.pk == resp.json()["id"]
    assert Visit.objects.filter(gate_entry__occurred_at__gte=clock.now - dt.timedelta(hours=1)).get() == visit
    assert _where(visit.gate_entry_id) == _month(clock.now)
    again = _post(client, ENTRIES, hot)
    assert again.status_code == 200 and again.json()["triage_id"] == visit.pk and Visit.objects.count() == 1
    # In a batch too.
    queued = _entry(cast, clock.now - dt.timedelta(minutes=1), temperature="38.9", decision="refused")
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, BATCH, {"entries": [queued]}).json()["stored"] == 1
    assert Visit.objects.filter(gate_entry__client_id=queued["client_id"]).count() == 1
    with connection.cursor() as cur:  # no foreign key to the partitioned table (clinic 0003)
        cur.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'gates_gateentry'::regclass")
        assert cur.fetchone()[0] == 0


@pg
def test_an_entry_of_a_month_without_partition_waits_in_default_and_moves_when_it_is_made(cast, login, clock):
    far = partitions.add_months(partitions.month_start(timezone.localdate()), 6) + dt.timedelta(days=9)
    clock.set(_local(far, 10))
    client = login(cast.guard_a)
    one = _entry(cast, clock.now - dt.timedelta(minutes=4))
    assert _post(client, ENTRIES, one).status_code == 201
    e = GateEntry.objects.get()
    assert _where(e.pk) == f"{TABLE}_default"
    created = ensure_entry_partitions.call_local()  # the daily task, as of that day
    assert _month(far) in created and _where(e.pk) == _month(far)
    assert partitions.partition_name(TABLE, partitions.add_months(partitions.month_start(far), 2)) in created
    assert ensure_entry_partitions.call_local() == []  # idempotent
    again = _post(client, ENTRIES, one)  # a resend after the move: found, nothing stored
    assert again.status_code == 200 and again.json()["id"] == e.pk and GateEntry.objects.count() == 1


@pg
def test_the_retention_rule_detaches_old_months_only_when_set(cast, login, clock, settings):
    clock.set(_local(_third_of_this_month(), 10))
    now = clock.now
    client = login(cast.guard_a)
    old = partitions.add_months(partitions.month_start(timezone.localdate()), -5) + dt.timedelta(days=3)
    clock.set(_local(old, 10))
    assert _post(client, ENTRIES, _entry(cast, clock.now - dt.timedelta(minutes=4))).status_code == 201
    e = GateEntry.objects.get()
    assert _post(client, ENTRIES, _entry(cast, clock.now + dt.timedelta(hours=1))).status_code == 201  # a fast clock
    clock.set(now)
    assert _post(client, ENTRIES, _entry(cast, clock.now + dt.timedelta(hours=1))).status_code == 201
    kept_claim = GateEntry.objects.get(clock_suspect=True, occurred_at__gte=now - dt.timedelta(minutes=1)).client_id
    assert SuspectClock.objects.count() == 2
    ensure_entry_partitions.call_local()
    assert _where(e.pk) == _month(e.occurred_at)
    settings.GATE_ENTRY_DETACH_MONTHS = 0  # the default: never
    assert purge(now)["gates.partitions"] == {"partitions_detached": 0}
    # The operator's command (the table owner's cron): a dry run names the month, detaches nothing.
    out = io.StringIO()
    call_command("gates_partitions", "--detach-months", "2", "--dry-run", stdout=out)
    assert "gate entry partitions to detach: " in out.getvalue() and _month(e.occurred_at) in out.getvalue(), out.getvalue()
    settings.GATE_ENTRY_DETACH_MONTHS = 2
    assert purge(now, dry_run=True)["gates.partitions"]["partitions_detached"] >= 1
    assert _where(e.pk) == _month(e.occurred_at)
    assert purge(now)["gates.partitions"]["partitions_detached"] >= 1
    assert _where(e.pk) is None  # out of the table, kept in the detached month's table
    # The old month's suspect clock is forgotten with it; this month's is kept.
    assert list(SuspectClock.objects.values_list("client_id", flat=True)) == [kept_claim]
    assert _month(now) in partitions.partitions(TABLE)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, clock_suspect FROM {_month(e.occurred_at)} ORDER BY id")
        assert cur.fetchall() == [(e.pk, False), (e.pk + 1, True)]


def _constraints(table):
    with connection.cursor() as cur:
        cur.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass ORDER BY conname", [table])
        return cur.fetchall()


def _indexes():
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1", [TABLE])
        return cur.fetchall()


def _visit_fks():
    return [c for c in _constraints("clinic_visit") if c[1] == "f" and "gates_gateentry" in c[2]]


@pg
def test_migrating_back_and_forth_keeps_rows_ids_constraints_and_indexes(cast, login, clock,
                                                                          django_capture_on_commit_callbacks):
    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    with django_capture_on_commit_callbacks(execute=True):
        hot = _post(client, ENTRIES, _entry(cast, clock.now - dt.timedelta(minutes=3), temperature="38.5", decision=None))
    assert hot.status_code == 201
    before = list(GateEntry.objects.order_by("pk").values_list("pk", "client_id", "occurred_at"))
    partitioned = (_constraints(TABLE), _indexes())
    assert {c[2] for c in partitioned[0] if c[1] in "up"} == {"PRIMARY KEY (id, occurred_at)",
                                                             "UNIQUE (client_id, occurred_at)"}
    assert sum(c[1] == "f" for c in partitioned[0]) == 2  # place, guard
    assert {name for name, _d in partitioned[1]} >= {"gates_entry_place_time", "gates_entry_path_day",
                                                     "gates_entry_time_day", "gate_entry_client_time"}
    assert _visit_fks() == []
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign key checks under ALTER TABLE
    call_command("migrate", "clinic", "0002", verbosity=0)  # gates 0005 first, then clinic 0003
    assert not partitions.is_partitioned(TABLE) and partitions.partitions(TABLE) == {}
    assert list(GateEntry.objects.order_by("pk").values_list("pk", "client_id", "occurred_at")) == before
    plain = {c[2] for c in _constraints(TABLE) if c[1] in "up"}
    assert plain == {"PRIMARY KEY (id)", "UNIQUE (client_id)"}
    assert len(_visit_fks()) == 1  # the visit's foreign key back
    with pytest.raises(IntegrityError), transaction.atomic():  # client_id unique alone again
        GateEntry.objects.create(**{f.attname: getattr(GateEntry.objects.get(pk=before[0][0]), f.attname)
                                    for f in GateEntry._meta.concrete_fields if not f.primary_key}
                                 | {"occurred_at": clock.now})
    call_command("migrate", verbosity=0)
    assert partitions.is_partitioned(TABLE)
    assert (_constraints(TABLE), _indexes()) == partitioned and _visit_fks() == []
    assert list(GateEntry.objects.order_by("pk").values_list("pk", "client_id", "occurred_at")) == before
    assert _where(before[0][0]) == _month(before[0][2])
    assert Visit.objects.get().gate_entry_id == before[0][0]
    later = _post(client, ENTRIES, _entry(cast, clock.now - dt.timedelta(minutes=1)))
    assert later.status_code == 201 and later.json()["id"] > before[-1][0]  # the ids go on


def _plan(sql, params):
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cur.fetchall())


@pg
def test_the_indexes_still_serve_their_queries_with_pruning(cast, clock):
    """The daily figures (occurred_at range), a checkpoint's entries (place, time) and a
    subtree's (place_path, time) read one month's partition only, from their indexes."""
    start = _local(timezone.localdate(), 0)
    end = start + dt.timedelta(days=1)
    with transaction.atomic():
        day = _plan("SELECT place_path, count(place_path) FROM gates_gateentry WHERE occurred_at >= %s "
                    "AND occurred_at < %s GROUP BY place_path", [start, end])
        place = _plan("SELECT id FROM gates_gateentry WHERE place_id = %s AND occurred_at >= %s AND occurred_at < %s",
                      [cast.compound_a1.pk, start, end])
        path = _plan("SELECT count(*) FROM gates_gateentry WHERE place_path LIKE %s AND occurred_at >= %s "
                     "AND occurred_at < %s", [cast.compound_a1.path + "%", start, end])
        by_id = _plan("SELECT id FROM gates_gateentry WHERE client_id = %s", [uuid.uuid4()])
    month = _month(start)
    for plan in (day, place, path):
        assert month in plan and f"{TABLE}_default" not in plan and "Seq Scan" not in plan, plan
        assert plan.count(f"{TABLE}_y") == plan.count(month), plan
    assert "gate_entry_client_time" in by_id or "client_id_occurred_at" in by_id, by_id


@pytest.mark.one_database
def test_on_sqlite_one_table_and_the_constraint_holds(cast, login, clock, settings):
    assert connection.vendor == "sqlite"
    clock.set(_local(_third_of_this_month(), 10))
    client = login(cast.guard_a)
    one = _entry(cast, clock.now - dt.timedelta(minutes=5))
    assert _post(client, ENTRIES, one).status_code == 201
    assert _post(client, ENTRIES, one).status_code == 200
    assert _post(client, BATCH, {"entries": [one]}).json()["duplicates"] == 1
    assert not partitions.is_partitioned(TABLE)
    assert ensure_entry_partitions.call_local() == []
    settings.GATE_ENTRY_DETACH_MONTHS = 1
    assert purge()["gates.partitions"] == {"partitions_detached": 0}
    e = GateEntry.objects.get()
    values = {f.attname: getattr(e, f.attname) for f in GateEntry._meta.concrete_fields if not f.primary_key}
    with pytest.raises(IntegrityError), transaction.atomic():  # gate_entry_client_time
        GateEntry.objects.create(**values)
    GateEntry.objects.create(**values | {"occurred_at": e.occurred_at + dt.timedelta(seconds=1)})  # unique with the time only
