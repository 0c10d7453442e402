"""Testing registrations partitioned by month on PostgreSQL (issue 22, item 2; testing
migrations 0002 and 0003, testing.maintenance, fangkong.lib.db.partitions): a registration
carries its round's created_at (`round_created`) and lives in the partition of that month;
a resend is found and stored once, a second registration of a person in a round is refused
as before; a round of a month without a partition puts its registrations in the DEFAULT
partition until the daily task makes that month's and moves them; the retention rule and
the owner's command DETACH old months; the migrations go back and forth keeping rows,
indexes, unique constraints and foreign keys. On SQLite the table is one table and the same
keys hold."""
from __future__ import annotations

import datetime as dt
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from fangkong.core.retention import purge
from fangkong.lib.db import partitions
from fangkong.testing import actions, maintenance
from fangkong.testing.models import Registration, Round
from tests.cast import make_id
from tests.test_testing import _api, world  # noqa: F401 (a fixture)

TABLE = "testing_registration"
pg = pytest.mark.one_database("postgresql")


def _tz():
    return timezone.get_current_timezone()


def _where(pk) -> str | None:
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [pk])
        row = cur.fetchone()
    return row[0] if row else None


def _month_of(when) -> str:
    return partitions.partition_name(TABLE, partitions.month_start(when))


def _register(client, site, body):
    return _api(client, f"/api/testing/sites/{site.pk}/registrations", body)


def _registrar(world):  # noqa: F811
    client = Client()
    client.force_login(world["registrar"])
    return client


def _constraints():
    with connection.cursor() as cur:
        cur.execute("SELECT conname, contype FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype IN ('u', 'f') "
                    "ORDER BY conname", [TABLE])
        return cur.fetchall()


def _indexes():
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [TABLE])
        return [r[0] for r in cur.fetchall()]


@pytest.mark.django_db(transaction=True)  # outside a transaction: PostgreSQL's one-statement write
def test_registrations_through_the_api_land_in_their_rounds_month_resends_are_stored_once(cast, world):  # noqa: F811
    site, rnd = world["site"], world["round"]
    client = _registrar(world)
    cid = str(uuid.uuid4())
    first = _register(client, site, {"client_id": cid, "tube": "PART1", "id_number": cast.ids["person_a1"]})
    assert first.status_code == 201, first.content
    reg = Registration.objects.get(client_id=cid)
    assert reg.round_created == Round.objects.get(pk=rnd.pk).created_at
    # A new person registered on the spot (the group-commit path, a person made in the write).
    spot = _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "PART1",
                                     "new": {"name": "现场甲", "id_number": make_id(800, born="19900101")}})
    assert spot.status_code == 201, spot.content
    # The offline batch (each entry in a savepoint of one transaction).
    sync = _api(client, f"/api/testing/sites/{site.pk}/sync", {"entries": [
        {"op": "register", "client_id": str(uuid.uuid4()), "tube": "PART2", "person": cast.person_a2.pk}]}).json()
    assert sync["stored"] == 1
    regs = list(Registration.objects.order_by("id"))
    assert len(regs) == 3 and {r.round_created for r in regs} == {reg.round_created}
    if connection.vendor == "postgresql":
        assert partitions.is_partitioned(TABLE)
        assert {_where(r.pk) for r in regs} == {_month_of(reg.round_created)}
        # A round's queries (coverage, the door-knock list) read its month's partition only.
        from fangkong.testing import queries

        others = set(partitions.partitions(TABLE)) - {_month_of(reg.round_created)}
        assert others and f"{TABLE}_default" in others
        plan = queries.registrations_of(rnd).filter(conflict=False).values("person_path").explain()
        assert _month_of(reg.round_created) in plan and not [name for name in others if name in plan], plan
    # A resend: the stored registration, 200, nothing more stored.
    again = _register(client, site, {"client_id": cid, "tube": "PART1", "id_number": cast.ids["person_a1"]})
    assert again.status_code == 200 and again.json()["id"] == reg.pk
    # A second registration of the person in the round: refused with where, as before.
    twice = _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "PART3", "id_number": cast.ids["person_a1"]})
    assert twice.status_code == 409 and "甲采样点" in twice.json()["detail"]
    assert Registration.objects.count() == 3


@pg
@pytest.mark.django_db
def test_a_round_of_a_month_without_partition_fills_default_until_the_daily_task_makes_it(cast, world):  # noqa: F811
    site, rnd = world["site"], world["round"]
    made = dt.datetime(2025, 3, 31, 23, 30, tzinfo=_tz())  # Shanghai's March, UTC's 31 March 15:30
    Round.objects.filter(pk=rnd.pk).update(created_at=made)
    site.round.created_at = made
    client = _registrar(world)
    cid = str(uuid.uuid4())
    assert _register(client, site, {"client_id": cid, "tube": "OLD1", "id_number": cast.ids["person_a1"]}).status_code == 201
    reg = Registration.objects.get(client_id=cid)
    assert reg.round_created == made and _where(reg.pk) == f"{TABLE}_default"
    from fangkong.testing.tasks import ensure_registration_partitions

    created = ensure_registration_partitions.call_local()
    assert partitions.partition_name(TABLE, dt.date(2025, 3, 1)) in created
    assert _where(reg.pk) == partitions.partition_name(TABLE, dt.date(2025, 3, 1))
    assert maintenance.ensure_partitions() == []  # idempotent
    # Moved, it is still found by a resend and still counts for the round.
    again = _register(client, site, {"client_id": cid, "tube": "OLD1", "id_number": cast.ids["person_a1"]})
    assert again.status_code == 200 and again.json()["id"] == reg.pk
    twice = _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "OLD2", "id_number": cast.ids["person_a1"]})
    assert twice.status_code == 409
    assert Registration.objects.count() == 1
    # Registrations are not append-only: a conflict flag or a deletion works in a partition.
    Registration.objects.filter(pk=reg.pk).update(conflict=True)
    assert Registration.objects.get(pk=reg.pk).conflict
    Registration.objects.get(pk=reg.pk).delete()
    assert not Registration.objects.exists()


@pg
@pytest.mark.django_db
def test_the_retention_rule_and_the_owners_command_detach_old_months(cast, world, settings):  # noqa: F811
    site, rnd = world["site"], world["round"]
    tz = _tz()
    made = dt.datetime(2025, 1, 10, 12, 0, tzinfo=tz)
    Round.objects.filter(pk=rnd.pk).update(created_at=made)
    site.round.created_at = made
    client = _registrar(world)
    assert _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "RET1", "id_number": cast.ids["person_a1"]}
                     ).status_code == 201
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    maintenance.ensure_partitions(now=now)
    january = partitions.partition_name(TABLE, dt.date(2025, 1, 1))
    settings.TESTING_DETACH_MONTHS = 0  # the default: never
    assert purge(now)["testing.partitions"] == {"partitions_detached": 0}
    settings.TESTING_DETACH_MONTHS = 12
    # A round still open keeps its month and every later one attached, however old.
    assert Round.objects.get(pk=rnd.pk).state != Round.State.CLOSED
    assert purge(now, dry_run=True)["testing.partitions"] == {"partitions_detached": 0}
    Round.objects.filter(pk=rnd.pk).update(state=Round.State.CLOSED)
    assert purge(now, dry_run=True)["testing.partitions"] == {"partitions_detached": 11}  # 2025-01 .. 2025-11
    out = StringIO()
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=now):
        call_command("testing_partitions", "--detach-months", "12", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("registration partitions detached: ") and january in lines[1]
    assert partitions.partition_name(TABLE, dt.date(2025, 12, 1)) not in lines[1]
    assert not Registration.objects.exists()  # out of the table, kept in the detached one
    with connection.cursor() as cur:
        cur.execute(f"SELECT person_id FROM {january}")
        assert cur.fetchall() == [(cast.person_a1.pk,)]
    assert purge(now)["testing.partitions"] == {"partitions_detached": 0}
    # The archive names the round, its tube and the person, but holds back none of them.
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys checked now, not at a commit
    Round.objects.get(pk=rnd.pk).delete()
    assert not Round.objects.filter(pk=rnd.pk).exists()


@pg
@pytest.mark.django_db
def test_migrating_back_and_forth_keeps_rows_indexes_unique_keys_and_foreign_keys(cast, world):  # noqa: F811
    site = world["site"]
    client = _registrar(world)
    cids = [str(uuid.uuid4()), str(uuid.uuid4())]
    for cid, who in zip(cids, ["person_a1", "person_a2"]):
        assert _register(client, site, {"client_id": cid, "tube": "MIG1", "id_number": cast.ids[who]}).status_code == 201
    before = list(Registration.objects.order_by("id").values_list("id", "client_id", "person_id", "round_created"))
    partitioned = (_indexes(), _constraints())
    assert len([c for c in partitioned[1] if c[1] == "f"]) == 7  # round, site, lane, tube, person, recall, registrar
    assert ("testing_reg_client_once", "u") in partitioned[1]
    call_command("migrate", "testing", "0002", verbosity=0)
    assert not partitions.is_partitioned(TABLE)
    assert list(Registration.objects.order_by("id").values_list("id", "client_id", "person_id", "round_created")) == before
    assert (_indexes(), _constraints()) == partitioned
    call_command("migrate", "testing", "0001", verbosity=0)  # round_created gone, client_id unique alone
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {TABLE}")
        assert cur.fetchone()[0] == 2
    call_command("migrate", "testing", verbosity=0)
    assert partitions.is_partitioned(TABLE)
    assert list(Registration.objects.order_by("id").values_list("id", "client_id", "person_id", "round_created")) == before
    assert {_where(pk) for pk, *_ in before} == {_month_of(before[0][3])}
    assert (_indexes(), _constraints()) == partitioned
    # The sequence goes on after the last id; the keys hold.
    resp = _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "MIG1",
                                       "new": {"name": "现场乙", "id_number": make_id(801, born="19900101")}})
    assert resp.status_code == 201 and resp.json()["id"] > before[-1][0]
    assert _register(client, site, {"client_id": cids[0], "tube": "MIG1", "id_number": cast.ids["person_a1"]}).status_code == 200
    assert _register(client, site, {"client_id": str(uuid.uuid4()), "tube": "MIG2",
                                    "id_number": cast.ids["person_a2"]}).status_code == 409


@pytest.mark.one_database
@pytest.mark.django_db
def test_on_sqlite_nothing_is_partitioned_and_the_unique_keys_hold(cast, world, settings):  # noqa: F811
    assert connection.vendor == "sqlite"
    site = world["site"]
    reg, created = actions.register(acting_user=world["registrar"], site=site,
                                    raw={"client_id": str(uuid.uuid4()), "tube": "SQL1", "person": cast.person_a1.pk})
    assert created and reg.round_created == site.round.created_at
    assert not partitions.is_partitioned(TABLE) and maintenance.ensure_partitions() == []
    settings.TESTING_DETACH_MONTHS = 1
    assert purge()["testing.partitions"] == {"partitions_detached": 0}
    from fangkong.testing.tasks import ensure_registration_partitions

    assert ensure_registration_partitions.call_local() == []
    out = StringIO()
    call_command("testing_partitions", "--detach-months", "1", stdout=out)
    assert "only on PostgreSQL" in out.getvalue()
    fields = {f.attname: getattr(reg, f.attname) for f in Registration._meta.concrete_fields if f.attname != "id"}
    with pytest.raises(IntegrityError), transaction.atomic():  # the same client id in the round
        Registration.objects.create(**{**fields, "person_id": cast.person_a2.pk})
    with pytest.raises(IntegrityError), transaction.atomic():  # the same person in the round
        Registration.objects.create(**{**fields, "client_id": uuid.uuid4()})
    flagged = Registration.objects.create(**{**fields, "client_id": uuid.uuid4(), "conflict": True})
    assert flagged.pk and Registration.objects.count() == 2


def test_the_registrations_command_refuses_a_negative_number_of_months(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--detach-months"):
        call_command("testing_partitions", "--detach-months", "-1")
