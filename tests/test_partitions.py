"""The audit trail partitioned by month on PostgreSQL (issue 22, item 2; fangkong.lib.db.
partitions, audit migration 0003): events land in their month's partition (a DEFAULT one
catches the rest and gives its rows up when their month's partition is made), the daily
task is idempotent, the retention rule DETACHes old months (their events kept, append-only,
out of the audit pages), the table stays append-only, and the migration goes back and
forth. On SQLite nothing of it exists and nothing changes."""
from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from fangkong.audit import maintenance
from fangkong.audit.actions import record
from fangkong.audit.models import AuditEvent
from fangkong.core.retention import purge
from fangkong.lib.db import partitions

TABLE = "audit_auditevent"
pg = pytest.mark.one_database("postgresql")


def _tz():
    return timezone.get_current_timezone()


def _event_at(when, action):
    with mock.patch("django.utils.timezone.now", return_value=when):
        return record(None, action)


def _where(pk) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s", [pk])
        row = cur.fetchone()
    return row[0] if row else None


def _relkind(name):
    with connection.cursor() as cur:
        cur.execute("SELECT relkind, relispartition FROM pg_class WHERE oid = to_regclass(%s)", [f'"{name}"'])
        return cur.fetchone()


def _refused(sql, params=()):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)


def _month(year, month):
    return partitions.partition_name(TABLE, dt.date(year, month, 1))


@pg
def test_an_event_made_through_the_site_lands_in_its_months_partition(cast, login, client):
    assert partitions.is_partitioned(TABLE)
    login(cast.committee_a)
    assert client.post("/logout/").status_code in (200, 302)
    event = AuditEvent.objects.get(user_id=cast.committee_a.pk, action="auth.logout")
    assert _where(event.pk) == partitions.partition_name(TABLE, partitions.month_start(event.at))
    # A refusal, written by the middleware through fastsql after the response: its id is read back.
    login(cast.worker_a1)
    assert client.get("/audit/").status_code == 403
    denied = AuditEvent.objects.get(action="access.denied", user=cast.worker_a1)
    assert _where(denied.pk) == partitions.partition_name(TABLE, partitions.month_start(timezone.now()))
    # The ORM and the prepared INSERT both get the new row's id back.
    made = AuditEvent.objects.create(action="test.orm")
    prepared = record(None, "test.prepared")
    assert made.pk and prepared.pk > made.pk > denied.pk
    assert AuditEvent.objects.get(pk=prepared.pk).action == "test.prepared"
    # Local months: 1 December 00:30 in Shanghai is 30 November in UTC, and December's.
    early = _event_at(dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.timezone.utc), "test.edge")
    maintenance.ensure_partitions(now=dt.datetime(2026, 12, 6, 10, 0, tzinfo=_tz()))  # November from DEFAULT's row
    late = _event_at(dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.timezone.utc), "test.edge")
    assert (_where(late.pk), _where(early.pk)) == (_month(2026, 12), _month(2026, 11))


@pg
def test_an_event_outside_every_partition_lands_in_default_and_moves_when_its_month_is_made(db):
    tz = _tz()
    old = _event_at(dt.datetime(2026, 8, 15, 12, 0, tzinfo=tz), "old.august")
    older = _event_at(dt.datetime(2026, 6, 30, 23, 30, tzinfo=tz), "old.june")
    assert _where(old.pk) == _where(older.pk) == f"{TABLE}_default"
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    created = maintenance.ensure_partitions(now=now)
    # From the oldest waiting event's month to two months ahead.
    attached = partitions.partitions(TABLE)
    assert {_month(2026, m) for m in range(6, 13)} | {_month(2027, 1), _month(2027, 2)} <= set(attached)
    assert {_month(2026, 6), _month(2026, 8)} <= set(created)
    assert _where(older.pk) == _month(2026, 6) and _where(old.pk) == _month(2026, 8)
    assert set(AuditEvent.objects.filter(pk__in=[old.pk, older.pk]).values_list("action", flat=True)) == {
        "old.august", "old.june"}
    assert maintenance.ensure_partitions(now=now) == []  # idempotent
    # The move happened in a maintenance transaction that is closed again.
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_auditevent_default")
        assert cur.fetchone()[0] == 0  # (so a DELETE there would touch no row: nothing to refuse)
    _refused(f"DELETE FROM {_month(2026, 8)}")
    _refused(f"UPDATE {_month(2026, 8)} SET action = 'forged'")
    _refused(f"TRUNCATE {_month(2026, 8)}")
    _refused("TRUNCATE audit_auditevent_default")


@pg
def test_the_table_stays_append_only_and_the_maintenance_path_works(db, capsys):
    tz = _tz()
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    for when, action in [((2026, 8, 15), "old.august"), ((2026, 9, 30), "old.september"),
                         ((2026, 10, 2), "kept.october"), ((2026, 12, 1), "kept.december")]:
        _event_at(dt.datetime(*when, 12, 0, tzinfo=tz), action)
    maintenance.ensure_partitions(now=now)
    event = AuditEvent.objects.get(action="kept.october")
    _refused("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    _refused("TRUNCATE audit_auditevent")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(outcome="forged")
    with mock.patch("django.utils.timezone.now", return_value=now):
        call_command("purge_audit", "--older-than", "60")
    assert "before 2026-10-01: 2 removed" in capsys.readouterr().out
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {"kept.october", "kept.december"}
    _refused("DELETE FROM audit_auditevent")


@pg
def test_the_retention_rule_detaches_old_months_and_the_audit_page_lists_the_rest(cast, client, settings):
    tz = _tz()
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    events = {action: _event_at(dt.datetime(*when, 12, 0, tzinfo=tz), action)
              for when, action in [((2026, 8, 15), "old.august"), ((2026, 9, 30), "old.september"),
                                   ((2026, 10, 2), "kept.october"), ((2026, 12, 1), "kept.december")]}
    maintenance.ensure_partitions(now=now)
    settings.AUDIT_DETACH_MONTHS = 0  # the default: never
    assert purge(now)["audit.partitions"] == {"partitions_detached": 0}
    settings.AUDIT_DETACH_MONTHS = 2  # October (2 months before December) and later stay
    assert purge(now, dry_run=True)["audit.partitions"] == {"partitions_detached": 2}
    assert _relkind(_month(2026, 8)) == ("r", True)
    assert purge(now)["audit.partitions"] == {"partitions_detached": 2}
    for month in (8, 9):
        assert _relkind(_month(2026, month)) == ("r", False)  # a plain table now, rows kept
        with connection.cursor() as cur:
            cur.execute(f"SELECT action FROM {_month(2026, month)}")
            assert cur.fetchall() == [({8: "old.august", 9: "old.september"}[month],)]
        _refused(f"DELETE FROM {_month(2026, month)}")  # still append-only
        _refused(f"UPDATE {_month(2026, month)} SET action = 'forged'")
        _refused(f"TRUNCATE {_month(2026, month)}")
    assert _relkind(_month(2026, 10)) == ("r", True)
    assert purge(now)["audit.partitions"] == {"partitions_detached": 0}
    # A late event of a detached month waits in DEFAULT: no second table of that month.
    late = _event_at(dt.datetime(2026, 8, 20, 12, 0, tzinfo=tz), "late.august")
    assert maintenance.ensure_partitions(now=now) == []
    assert _where(late.pk) == f"{TABLE}_default"
    client.force_login(cast.admin)
    for action, listed in [("kept.october", True), ("kept.december", True), ("old.august", False),
                           ("old.september", False), ("late.august", True)]:
        page = client.get(f"/audit/?action={action}").content.decode()
        assert (f"<td>{action}</td>" in page) is listed, action
    assert not AuditEvent.objects.filter(pk=events["old.august"].pk).exists()


@pg
def test_migrating_back_and_forth_keeps_rows_ids_indexes_and_triggers(db):
    tz = _tz()
    before = [_event_at(dt.datetime(2026, 8, 15, 12, 0, tzinfo=tz), "old.august"), record(None, "now.one")]

    def indexes():
        with connection.cursor() as cur:
            cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [TABLE])
            return [r[0] for r in cur.fetchall()]

    partitioned_indexes = indexes()
    call_command("migrate", "audit", "0002", verbosity=0)
    assert not partitions.is_partitioned(TABLE) and _relkind(TABLE) == ("r", False)
    assert partitions.partitions(TABLE) == {}
    assert [(e.pk, e.action) for e in AuditEvent.objects.filter(pk__in=[e.pk for e in before]).order_by("pk")] == [
        (e.pk, e.action) for e in before]
    assert indexes() == partitioned_indexes
    between = record(None, "now.two")
    assert between.pk > before[-1].pk
    _refused("DELETE FROM audit_auditevent")
    _refused("TRUNCATE audit_auditevent")
    call_command("migrate", "audit", verbosity=0)
    assert partitions.is_partitioned(TABLE)
    assert _where(before[0].pk) == _month(2026, 8)  # a partition from the oldest event's month
    assert _where(between.pk) == partitions.partition_name(TABLE, partitions.month_start(between.at))
    assert indexes() == partitioned_indexes
    after = record(None, "now.three")
    assert after.pk > between.pk
    _refused("DELETE FROM audit_auditevent")
    _refused(f"TRUNCATE {_month(2026, 8)}")


@pytest.mark.one_database
def test_on_sqlite_nothing_is_partitioned_and_the_rule_does_nothing(db, settings):
    assert connection.vendor == "sqlite"
    tz = _tz()
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    _event_at(dt.datetime(2026, 8, 15, 12, 0, tzinfo=tz), "old.august")
    assert not partitions.is_partitioned(TABLE)
    assert maintenance.ensure_partitions(now=now) == []
    settings.AUDIT_DETACH_MONTHS = 1
    assert purge(now)["audit.partitions"] == {"partitions_detached": 0}
    assert AuditEvent.objects.filter(action="old.august").exists()
    _refused("DELETE FROM audit_auditevent")
    from fangkong.audit.tasks import ensure_audit_partitions

    assert ensure_audit_partitions.call_local() == []


@pg
def test_the_owners_command_makes_and_detaches_partitions(db):
    from io import StringIO

    tz = _tz()
    old = _event_at(dt.datetime(2025, 1, 10, 12, 0, tzinfo=tz), "old.january")
    assert _where(old.pk) == f"{TABLE}_default"
    out = StringIO()
    with mock.patch("django.utils.timezone.now", return_value=dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)):
        call_command("audit_partitions", "--detach-months", "12", stdout=out)
    text = out.getvalue()
    assert _month(2025, 1) in text.splitlines()[0] and _where(old.pk) is None  # made, then detached
    assert text.splitlines()[1].startswith("audit partitions detached: ") and _month(2025, 11) in text
    assert _month(2025, 12) not in text.splitlines()[1]
    with connection.cursor() as cur:
        cur.execute(f"SELECT action FROM {_month(2025, 1)}")
        assert cur.fetchall() == [("old.january",)]


@pytest.mark.one_database
def test_the_owners_command_does_nothing_on_sqlite(db):
    from io import StringIO

    out = StringIO()
    call_command("audit_partitions", "--detach-months", "1", stdout=out)
    assert "only on PostgreSQL" in out.getvalue()


def test_the_owners_command_refuses_a_negative_number_of_months(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--detach-months"):
        call_command("audit_partitions", "--detach-months", "-1")
