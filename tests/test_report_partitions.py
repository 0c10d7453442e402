"""Temperature reports partitioned by month on `day` on PostgreSQL (issue 22, item 2;
observation migration 0005, fangkong.lib.db.partitions, observation.maintenance): reports
made through the site land in their day's month partition, a resend is still one report
(on a later day too, and when it slips in between the first lookup and the insert), a
report of a month without a partition waits in DEFAULT until the daily task makes its
month, old months can be detached by the retention rule, and the migration goes back and
forth. On SQLite the table stays one table; the new constraint (client_key, day) holds on
both."""
from __future__ import annotations

import datetime as dt
import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.core.retention import purge
from fangkong.lib.db import partitions
from fangkong.observation import actions, maintenance
from fangkong.observation.models import Observation, Report
from fangkong.observation.tasks import ensure_report_partitions
from tests.cast import add_person

TABLE = "observation_report"
pg = pytest.mark.one_database("postgresql")


def _tz():
    return timezone.get_default_timezone()


def _at(day: dt.date, hh: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, 0, tzinfo=_tz())



def _observe(cast, key="rp_p", seq=871, days=14):
    person = add_person(cast, key, name="分区甲", seq=seq, household=cast.hh_a1)
    return actions.start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=days)


def _api_report(token, temperature="36.5", client_key="k1"):
    return Client().post("/api/resident/reports", {"temperature": temperature, "client_key": client_key},
                         content_type="application/json", headers={"X-Resident-Token": token})


def _where(pk):
    with connection.cursor() as cur:
        cur.execute("SELECT tableoid::regclass::text FROM observation_report WHERE id = %s", [pk])
        row = cur.fetchone()
    return row[0] if row else None


def _month(day: dt.date) -> str:
    return partitions.partition_name(TABLE, partitions.month_start(day))


def _last_day_of_this_month() -> dt.date:
    return partitions.add_months(partitions.month_start(timezone.localdate()), 1) - dt.timedelta(days=1)


@pg
def test_reports_made_through_the_site_land_in_their_days_month_partition(cast, clock):
    assert partitions.is_partitioned(TABLE)
    last = _last_day_of_this_month()  # the evening window of a month's last day, then the next morning
    clock.set(_at(last - dt.timedelta(days=1), 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    phone = Client()
    clock.set(_at(last, 15))
    assert phone.post(f"/r/{token}/report/", {"temperature": "36.5", "client_key": "form-1"}).status_code == 302
    clock.set(_at(last + dt.timedelta(days=1), 8))
    assert _api_report(token, client_key="dev-1").status_code == 201
    staff = Client()
    staff.force_login(cast.worker_a1)
    clock.set(_at(last + dt.timedelta(days=1), 15))
    resp = staff.post(f"/api/observations/{obs.pk}/reports", {"temperature": "36.6", "source": "staff"},
                      content_type="application/json")
    assert resp.status_code == 201
    reports = {(r.day, r.window): r for r in Report.objects.filter(observation=obs)}
    assert sorted(reports) == [(last, 1), (last + dt.timedelta(days=1), 0), (last + dt.timedelta(days=1), 1)]
    for (day, _w), rep in reports.items():
        assert _where(rep.pk) == _month(day)
    assert _month(last) != _month(last + dt.timedelta(days=1))
    # The daily figures' query and the model's reads see every partition.
    assert Report.objects.filter(day__gte=last, observation=obs).count() == 3


@pg
def test_a_resend_stores_nothing_and_answers_as_before_on_a_later_day_too(cast, clock):
    clock.set(_at(timezone.localdate(), 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    first = _api_report(token, client_key="dev-1")
    assert first.status_code == 201
    again = _api_report(token, client_key="dev-1")  # the same window
    clock.set(_at(timezone.localdate() + dt.timedelta(days=1), 15))  # the next day, another window
    later = _api_report(token, client_key="dev-1")
    assert again.status_code == later.status_code == 200
    answers = [r.json() for r in (first, again, later)]
    for a in answers:  # the same instant (the first answer in local time, a resend's as stored)
        a["reported_at"] = dt.datetime.fromisoformat(a["reported_at"])
    assert answers[0] == answers[1] == answers[2]
    assert Report.objects.filter(observation=obs).count() == 1


@pg
def test_a_resend_slipping_in_before_the_lock_is_found_under_it(cast, clock):
    """The resend whose first copy is committed between the lookup before the insert and the
    observation's lock, on another day: report_client_key_day cannot see it (another day),
    the lookup under the lock does."""
    today = timezone.localdate()
    clock.set(_at(today, 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    real_get = actions.fastsql.get
    made = []

    def get(model, *args, **kwargs):
        if model is Observation and kwargs.get("for_update") and not made:  # the first copy, committed meanwhile
            made.append(Report.objects.create(observation=obs, day=today, window=0,
                                              temperature="36.4", source="self", reported_at=timezone.now(),
                                              client_key=actions._form_key(obs, "dev-1")))
        return real_get(model, *args, **kwargs)

    clock.set(_at(today + dt.timedelta(days=1), 8))  # the resend arrives the next morning
    with mock.patch.object(actions.fastsql, "get", side_effect=get):
        resp = _api_report(token, client_key="dev-1")
    assert made and resp.status_code == 200 and resp.json()["id"] == made[0].pk
    assert Report.objects.filter(observation=obs).count() == 1


@pg
def test_a_report_of_a_month_without_partition_waits_in_default_and_moves_when_it_is_made(cast, clock):
    far = partitions.add_months(partitions.month_start(timezone.localdate()), 6) + dt.timedelta(days=9)
    clock.set(_at(far, 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    assert _api_report(token, client_key="far-1").status_code == 201
    rep = Report.objects.get(observation=obs)
    assert _where(rep.pk) == f"{TABLE}_default"
    # The daily task, as of that day: the month of the waiting report and two after it.
    created = ensure_report_partitions.call_local()
    assert _month(far) in created and _where(rep.pk) == _month(far)
    assert partitions.partition_name(TABLE, partitions.add_months(partitions.month_start(far), 2)) in created
    assert ensure_report_partitions.call_local() == []  # idempotent
    assert Report.objects.get(pk=rep.pk).client_key == rep.client_key
    # A resend of it after the move: found, nothing stored.
    assert _api_report(token, client_key="far-1").status_code == 200
    assert Report.objects.filter(observation=obs).count() == 1


@pg
def test_the_retention_rule_detaches_old_months_only_when_set(cast, clock, settings):
    now = clock.now
    old = partitions.add_months(partitions.month_start(timezone.localdate()), -5) + dt.timedelta(days=3)
    clock.set(_at(old, 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    assert _api_report(token, client_key="old-1").status_code == 201
    rep = Report.objects.get(observation=obs)
    clock.set(now)
    maintenance.ensure_partitions()
    assert _where(rep.pk) == _month(old)
    settings.OBSERVATION_REPORT_DETACH_MONTHS = 0  # the default: never
    assert purge(now)["observation.partitions"] == {"partitions_detached": 0}
    # The operator's command (the table owner's cron): a dry run names the month, detaches nothing.
    out = io.StringIO()
    call_command("observation_partitions", "--detach-months", "2", "--dry-run", stdout=out)
    assert "report partitions to detach: " in out.getvalue() and _month(old) in out.getvalue(), out.getvalue()
    assert _where(rep.pk) == _month(old)
    settings.OBSERVATION_REPORT_DETACH_MONTHS = 2
    assert purge(now, dry_run=True)["observation.partitions"]["partitions_detached"] >= 1
    assert purge(now)["observation.partitions"]["partitions_detached"] >= 1
    assert _where(rep.pk) is None  # out of the table, kept in the detached month's table
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {_month(old)}")
        assert cur.fetchall() == [(rep.pk,)]


def _constraints():
    with connection.cursor() as cur:
        cur.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'observation_report'::regclass ORDER BY conname")
        return cur.fetchall()


def _indexes():
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [TABLE])
        return [r[0] for r in cur.fetchall()]


@pg
def test_migrating_back_and_forth_keeps_rows_ids_constraints_and_indexes(cast, clock):
    clock.set(_at(timezone.localdate(), 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    assert _api_report(token, client_key="m-1").status_code == 201
    before = list(Report.objects.values_list("pk", "day", "client_key"))
    partitioned = (_constraints(), _indexes())
    assert {c[2] for c in partitioned[0] if c[1] in "up"} == {
        "PRIMARY KEY (id, day)", "UNIQUE (observation_id, day, \"window\")", "UNIQUE (client_key, day)"}
    assert sum(c[1] == "f" for c in partitioned[0]) == 2  # observation, reported_by
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign key checks under ALTER TABLE
    call_command("migrate", "observation", "0004", verbosity=0)
    assert not partitions.is_partitioned(TABLE) and partitions.partitions(TABLE) == {}
    assert list(Report.objects.values_list("pk", "day", "client_key")) == before
    plain = {c[2] for c in _constraints() if c[1] in "up"}
    assert "PRIMARY KEY (id)" in plain and "UNIQUE (client_key)" in plain and "UNIQUE (client_key, day)" not in plain
    assert sum(c[1] == "f" for c in _constraints()) == 2
    with pytest.raises(IntegrityError), transaction.atomic():  # client_key unique alone again
        Report.objects.create(observation=obs, day=timezone.localdate() + dt.timedelta(days=1), window=0,
                              temperature="36.5", source="self", reported_at=timezone.now(), client_key=before[0][2])
    call_command("migrate", "observation", verbosity=0)
    assert partitions.is_partitioned(TABLE)
    assert (_constraints(), _indexes()) == partitioned
    assert list(Report.objects.values_list("pk", "day", "client_key")) == before
    assert _where(before[0][0]) == _month(before[0][1])
    clock.set(_at(timezone.localdate(), 15))
    assert _api_report(token, client_key="m-2").status_code == 201
    assert Report.objects.get(client_key=actions._form_key(obs, "m-2")).pk > before[0][0]  # the ids go on


@pytest.mark.one_database
def test_on_sqlite_one_table_and_the_constraints_hold(cast, clock, settings):
    assert connection.vendor == "sqlite"
    clock.set(_at(timezone.localdate(), 8))
    obs = _observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    assert _api_report(token, client_key="s-1").status_code == 201
    clock.set(_at(timezone.localdate() + dt.timedelta(days=1), 8))
    assert _api_report(token, client_key="s-1").status_code == 200  # a resend on a later day: nothing stored
    assert Report.objects.filter(observation=obs).count() == 1
    assert not partitions.is_partitioned(TABLE)
    assert maintenance.ensure_partitions() == [] and ensure_report_partitions.call_local() == []
    settings.OBSERVATION_REPORT_DETACH_MONTHS = 1
    assert purge()["observation.partitions"] == {"partitions_detached": 0}
    first = Report.objects.get(observation=obs)
    with pytest.raises(IntegrityError), transaction.atomic():  # report_client_key_day
        Report.objects.create(observation=obs, day=first.day, window=1, temperature="36.5", source="self",
                              reported_at=timezone.now(), client_key=first.client_key)
    with pytest.raises(IntegrityError), transaction.atomic():  # report_one_per_window
        Report.objects.create(observation=obs, day=first.day, window=first.window, temperature="36.5", source="self",
                              reported_at=timezone.now(), client_key=None)
