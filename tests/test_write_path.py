"""The write path under load (DESIGN.md §5, W4/W5): SQLite's writer lock and group commit,
the prepared statements of the hot paths, and the checks they replaced. Through HTTP where a
user would go, directly where the mechanism itself is the subject."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test import Client
from django.utils import timezone, translation

from fangkong.accounts.actions import issue_resident_link, revoke_resident_links
from fangkong.audit.actions import prepare as audit_prepare
from fangkong.audit.actions import record, reset_context, set_context
from fangkong.audit.models import AuditEvent
from fangkong.lib.db import fastsql, group_commit
from fangkong.observation import actions
from fangkong.observation.models import Observation, Report
from fangkong.places import access
from fangkong.places.models import Place
from tests.cast import add_person

sqlite_only = pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "fangkong.lib.db.sqlite3",
                                 reason="SQLite's writer lock and group commit")
WINDOWS = [(dt.time(0, 0), dt.time(23, 59, 59, 999999))]


def observed(cast, n: int, seq: int = 900) -> list[tuple[Observation, str]]:
    out = []
    for i in range(n):
        person = add_person(cast, f"w{i}", name="写" + "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳"[i], seq=seq + i, household=cast.hh_a1)
        obs = actions.start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=14)
        out.append((obs, issue_resident_link(acting_user=None, person=person)))
    return out


def report(token: str, temperature="36.6", **extra):
    return Client().post("/api/resident/reports", {"temperature": temperature, **extra}, content_type="application/json",
                         headers={"X-Resident-Token": token})


# --- Resident reports through the shared commit ------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_are_each_stored_once_and_audited(cast, settings):
    settings.OBSERVATION_WINDOWS = WINDOWS
    people = observed(cast, 12)
    jobs = [tok for _obs, tok in people] + [people[0][1], people[1][1]]  # two people send twice at once
    barrier, codes, errors = threading.Barrier(len(jobs)), [], []

    def send(token):
        try:
            barrier.wait()
            codes.append(report(token).status_code)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(t,)) for t in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(codes) == [201] * 12 + [409] * 2, codes
    assert Report.objects.count() == 12
    assert sorted(Report.objects.values_list("observation_id", flat=True)) == sorted(o.pk for o, _t in people)
    assert AuditEvent.objects.filter(action="observation.report").count() == 12


@pytest.mark.django_db(transaction=True)
def test_resident_report_answers_as_before(cast, settings):
    """409 for a window already reported, 200 for a resend by the device's key, 401 for a
    revoked link, 409 after the release; nothing extra stored."""
    settings.OBSERVATION_WINDOWS = WINDOWS
    [(obs, token)] = observed(cast, 1)
    assert report(token, client_key="dev-1").status_code == 201
    again = report(token, client_key="dev-1")
    assert again.status_code == 200 and again.json()["id"] == Report.objects.get().pk
    assert report(token, client_key="dev-2").status_code == 409
    assert report(token, temperature="46").status_code == 422
    assert Report.objects.count() == 1 and AuditEvent.objects.filter(action="observation.report").count() == 1
    Observation.objects.filter(pk=obs.pk).update(state=Observation.State.RELEASED)
    Report.objects.all().delete()
    assert report(token).status_code == 409
    revoke_resident_links(acting_user=None, person=obs.person)
    assert report(token).status_code == 401
    assert not Report.objects.exists()


# --- Group commit itself ----------------------------------------------------------------------

class Stop(BaseException):
    """Not an Exception: escapes a job's savepoint like a failed COMMIT would."""


def _job(fn):
    return group_commit._Job(fn)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_failing_job_leaves_no_trace_and_the_others_commit():
    def ok(n):
        return lambda: record(None, f"test.ok{n}")

    def bad():
        record(None, "test.bad")
        raise ValueError("job 2 fails")

    jobs = [_job(ok(1)), _job(bad), _job(ok(3))]
    group_commit.commit(jobs)
    assert all(j.done.is_set() for j in jobs)
    assert isinstance(jobs[1].exc, ValueError) and jobs[0].exc is None and jobs[2].exc is None
    assert jobs[0].result.pk and jobs[2].result.pk
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == ["test.ok1", "test.ok3"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_rows_handed_to_the_batch_are_stored_together_with_their_keys_and_a_refused_one_fails_its_job_only(cast):
    """insert_later: a batch's rows of one table go in one multi-row INSERT after its jobs,
    each row's key set (then() sees it and hands on the event naming it); a row the
    database refuses (a client id stored already) fails its own job only: the batch is run
    again job by job."""
    from django.db.backends.utils import CursorWrapper

    from fangkong.gates.models import GateEntry

    now = timezone.now()

    def job(cid, place_path):
        def fn():
            entry = GateEntry(client_id=cid, place=cast.comm_a, place_path=place_path, direction="in", decision="allow",
                              occurred_at=now, device_time=now, received_at=now)
            event = audit_prepare(None, "test.entry", obj=entry)
            group_commit.insert_later(fastsql.Prepared(entry), then=lambda e: (
                event.set("object_id", str(e.pk)), group_commit.insert_later(event)))
            return entry
        return _job(fn)

    ids = [uuid.uuid4() for _ in range(3)]
    seen = []
    real = CursorWrapper.execute

    def spy(self, sql, params=None):
        seen.append(sql.split(" (")[0])
        return real(self, sql, params)

    jobs = [job(ids[i], f"00000{i}/") for i in range(3)]
    with mock.patch.object(CursorWrapper, "execute", spy):
        group_commit.commit(jobs)
    assert all(j.exc is None for j in jobs)
    stored = {e.client_id: e.pk for e in GateEntry.objects.all()}
    assert [j.result.pk for j in jobs] == [stored[i] for i in ids]
    events = dict(AuditEvent.objects.filter(action="test.entry").values_list("object_id", "place_path"))
    assert events == {str(stored[ids[i]]): f"00000{i}/" for i in range(3)}
    inserts = [s for s in seen if s.startswith("INSERT")]
    assert len(inserts) == 2, seen  # the entries' statement, the events' statement
    # A resent client id in a batch: that job fails, the two others are stored.
    new = [uuid.uuid4(), uuid.uuid4()]
    jobs = [job(new[0], "000010/"), job(ids[1], "000011/"), job(new[1], "000012/")]
    group_commit.commit(jobs)
    assert isinstance(jobs[1].exc, IntegrityError) and jobs[0].exc is None and jobs[2].exc is None
    assert GateEntry.objects.count() == 5 and AuditEvent.objects.filter(action="test.entry").count() == 5
    assert not AuditEvent.objects.filter(place_path="000011/").exists()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_when_the_transaction_fails_no_job_is_stored_and_every_job_hears_it():
    def stop():
        raise Stop()

    jobs = [_job(lambda: record(None, "test.a")), _job(stop), _job(lambda: record(None, "test.b"))]
    group_commit.commit(jobs)
    assert all(j.done.is_set() and isinstance(j.exc, Stop) for j in jobs)
    assert not AuditEvent.objects.exists()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_uses_the_callers_context_and_language(cast, settings):
    """The audit event keeps the caller's IP; a refusal is in the caller's language."""
    settings.OBSERVATION_WINDOWS = WINDOWS
    [(obs, _token)] = observed(cast, 1)
    assert group_commit.enabled()
    ctx = set_context(ip="10.9.8.7")
    try:
        with translation.override("en"):
            actions.report(acting_user=None, observation=obs, temperature="36.5", source="self")
            with pytest.raises(actions.Conflict, match="already reported"):
                actions.report(acting_user=None, observation=obs, temperature="36.5", source="self")
    finally:
        reset_context(ctx)
    event = AuditEvent.objects.get(action="observation.report")
    assert event.ip == "10.9.8.7" and event.place_path == obs.place_path and event.object_id == str(obs.pk)
    assert group_commit._writer is not None and group_commit._writer.is_alive()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_an_on_commit_hook_that_writes_runs_and_does_not_wait_on_itself():
    """Hooks run in the writer thread after the batch's commit; one that writes again must
    not queue behind itself (it would wait for ever)."""
    assert group_commit.enabled()

    def job():
        transaction.on_commit(lambda: group_commit.write(lambda: record(None, "test.from_hook")))
        return record(None, "test.job")

    done = []
    t = threading.Thread(target=lambda: (done.append(group_commit.write(job)), connection.close()))
    t.start()
    t.join(10)
    assert not t.is_alive() and done
    deadline = time.monotonic() + 5
    while not AuditEvent.objects.filter(action="test.from_hook").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert AuditEvent.objects.filter(action="test.from_hook").count() == 1


@pytest.mark.django_db
def test_inside_a_transaction_the_write_is_the_callers_own():
    with transaction.atomic():
        assert not group_commit.enabled()
        event = group_commit.write(lambda: record(None, "test.inline"))
        transaction.set_rollback(True)
    assert event.pk and not AuditEvent.objects.filter(action="test.inline").exists()


# --- SQLite's writer lock ---------------------------------------------------------------------

@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_for_the_first_commit_instead_of_sleeping():
    held, order, errors = threading.Event(), [], []

    def first():
        try:
            with transaction.atomic():
                record(None, "test.first")
                held.set()
                time.sleep(0.3)
                order.append("first commits")
        finally:
            connection.close()

    def second():
        try:
            held.wait(5)
            with transaction.atomic():
                order.append("second begins")
                record(None, "test.second")
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and order == ["first commits", "second begins"]
    assert AuditEvent.objects.count() == 2


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_process_stalled_holding_the_flock_makes_a_writer_fail_in_time_not_hang():
    """Another process (here: another open file description of the lock file, which flock
    treats alike) holds the writer's flock and does not let go: a writer fails after its
    timeout with "database is locked"; once the other lets go, writing works again."""
    import fcntl
    import os

    from fangkong.lib.db.sqlite3.base import writer_lock

    lock = writer_lock(str(connection.settings_dict["NAME"]))
    other = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            lock.acquire(0.3)
        assert 0.3 <= time.monotonic() - started < 5
        assert lock.thread_lock.acquire(blocking=False)  # the failed writer left the process's lock free
        lock.thread_lock.release()
        fcntl.flock(other, fcntl.LOCK_UN)
        with transaction.atomic():
            record(None, "test.after")
        assert AuditEvent.objects.filter(action="test.after").count() == 1
    finally:
        os.close(other)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_writer_lock_times_out_like_sqlite_would():
    from fangkong.lib.db.sqlite3.base import writer_lock

    lock = writer_lock(str(connection.settings_dict["NAME"]))
    lock.acquire(5)
    try:
        failed = []
        t = threading.Thread(target=lambda: failed.append(pytest.raises(OperationalError, lock.acquire, 0.2)))
        t.start()
        t.join()
        assert failed and "locked" in str(failed[0].value)
    finally:
        lock.release()
    with transaction.atomic():  # released: the next writer goes through
        record(None, "test.after")
    assert AuditEvent.objects.filter(action="test.after").exists()


# --- Prepared statements: the ORM's values, both ways --------------------------------------

@pytest.mark.django_db
def test_fastsql_insert_and_get_match_the_orm(cast):
    [(obs, _token)] = observed(cast, 1)
    at = timezone.now().replace(microsecond=123456)
    rep = Report(observation=obs, day=at.date(), window=1, temperature=Decimal("37.4"), symptoms=["cough"],
                 source="self", reported_at=at, client_key=None)
    fastsql.insert(rep)
    stored = Report.objects.get(pk=rep.pk)
    assert (stored.day, stored.window, stored.temperature, stored.symptoms, stored.reported_at, stored.client_key) == (
        at.date(), 1, Decimal("37.4"), ["cough"], at, None)
    got = fastsql.get(Report, ("observation", "day", "temperature", "symptoms", "reported_at"), id=rep.pk)
    assert (got.pk, got.observation_id, got.day, got.temperature, got.symptoms, got.reported_at) == (
        rep.pk, obs.pk, at.date(), Decimal("37.4"), ["cough"], at)
    assert got.reported_at.tzinfo is not None
    assert fastsql.get(Report, ("day",), id=rep.pk + 1000) is None
    latest = fastsql.get(Observation, ("person",), order_by="-created_at", person=obs.person_id)
    assert latest.pk == obs.pk and latest.person_id == obs.person_id
    event = record(cast.committee_a, "test.fast", obj=obs, detail={"phone": "13912345678"})
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.user_id == cast.committee_a.pk and row.roles == "committee" and row.at is not None
    assert row.detail == {"phone": "139****5678"} and row.place_path == obs.place_path


@pytest.mark.django_db
def test_path_in_scope_agrees_with_scope_for_every_user_and_place(cast):
    places = list(Place.objects.all())
    for user in get_user_model().objects.all():
        for perm in ("gates.enter", "observation.view", "passes.view"):
            allowed = set(access.places_in_scope(user, perm).values_list("pk", flat=True))
            assert {p.pk for p in places if access.path_in_scope(user, perm, p.path)} == allowed, (user, perm)


@pytest.mark.django_db
def test_an_expired_session_or_an_inactive_user_is_signed_out(cast, login):
    from django.contrib.sessions.models import Session

    client = login(cast.committee_a)
    assert client.get("/api/observations").status_code == 200
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/observations").status_code == 401
    client = login(cast.committee_a)
    get_user_model().objects.filter(pk=cast.committee_a.pk).update(is_active=False)
    assert client.get("/api/observations").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_gate_entry_resent_or_reused_elsewhere(cast):
    """A check-in as the server makes it (autocommit, not inside a test's transaction): on
    PostgreSQL the entry and its audit event are one statement (fastsql.insert_chained), the
    event naming the entry. A resend answers 200 with the stored entry (no second row, no
    second audit event); the same id at another checkpoint is refused; a checkpoint outside
    the guard's is a 404. A fever opens a triage visit with the entry, in one transaction."""
    from django.test.utils import CaptureQueriesContext

    from fangkong.gates.models import GateEntry

    client = Client()
    client.force_login(cast.guard_a)
    data = {"client_id": str(uuid.uuid4()), "place": cast.compound_a1.pk, "direction": "in", "subject": "person",
            "token": "", "temperature": "36.5", "decision": "allowed", "occurred_at": timezone.now().isoformat()}
    with CaptureQueriesContext(connection) as ctx:
        first = client.post("/api/gates/entries", data, content_type="application/json")
    assert first.status_code == 201 and first.json()["created"] is True
    stored = GateEntry.objects.get(client_id=data["client_id"])
    assert stored.pk == first.json()["id"] and stored.guard_id == cast.guard_a.pk and str(stored.temperature) == "36.5"
    event = AuditEvent.objects.get(action="gates.entry")
    assert (event.object_type, event.object_id, event.user_id) == ("GateEntry", str(stored.pk), cast.guard_a.pk)
    assert event.detail["decision"] == "allowed" and event.place_path == stored.place_path
    if connection.vendor == "postgresql":
        writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("WITH", "INSERT", "UPDATE"))
                  and ('"gates_' in q["sql"] or '"audit_' in q["sql"])]
        assert len(writes) == 1 and writes[0].startswith("WITH"), writes
    again = client.post("/api/gates/entries", data, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert client.post("/api/gates/entries", {**data, "place": cast.grid_a1.pk},
                       content_type="application/json").status_code == 404
    # The same id at another of the guard's checkpoints (a gate of the same compound): refused.
    from fangkong.places.actions import create_place

    east_gate = create_place(acting_user=None, kind="checkpoint", name="甲一小区东门", code="A1Y-E", parent=cast.compound_a1)
    reused = client.post("/api/gates/entries", {**data, "place": east_gate.pk}, content_type="application/json")
    assert reused.status_code == 422 and [e["field"] for e in reused.json()["detail"]] == ["client_id"]
    assert GateEntry.objects.count() == 1 and AuditEvent.objects.filter(action="gates.entry").count() == 1
    # A fever: the entry, its event and the triage visit it opens, together.
    fever = {**data, "client_id": str(uuid.uuid4()), "temperature": "38.6", "decision": None}
    hot = client.post("/api/gates/entries", fever, content_type="application/json")
    assert hot.status_code == 201 and hot.json()["decision"] == "refused", hot.content
    entry = GateEntry.objects.get(client_id=fever["client_id"])
    from fangkong.clinic.models import Visit

    assert entry.reason_code == "fever" and Visit.objects.filter(gate_entry=entry).count() == 1
    assert AuditEvent.objects.filter(action="gates.entry", object_id=str(entry.pk)).count() == 1


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_has_writer_locks_of_its_own():
    """A worker forked from a process that held the writer lock must not share it: the
    child waits for the parent's commit like any other process."""
    import os

    from fangkong.lib.db.sqlite3 import base

    name = str(connection.settings_dict["NAME"])
    lock = base.writer_lock(name)
    lock.acquire(5)
    try:
        pid = os.fork()
        if pid == 0:  # the child: its own lock object and file description; the flock is the parent's
            code = 1
            try:
                import fcntl

                child = base.writer_lock(name)
                fd = os.open(child.path, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    code = 0 if child is not lock else 2
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        lock.release()
