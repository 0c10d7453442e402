"""The audit trail (issue 15, items 9 and 14): append-only in the database, kept when the
actor's account is deleted, refusals recorded (throttled) with an alert on many, and only
whole old months removed by the maintenance command."""
import datetime as dt
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from fangkong.audit.actions import record
from fangkong.audit.models import AuditEvent
from fangkong.lib import registry


def _refused(sql, params=()):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)


def test_audit_table_rejects_update_and_delete(cast):
    event = record(cast.committee_a, "test.event", detail={"n": 1})
    _refused("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(outcome="forged")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()
    if connection.vendor == "postgresql":
        _refused("TRUNCATE audit_auditevent")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.outcome) == ("test.event", "ok")


def test_deleting_a_user_keeps_their_events_with_id_and_roles(cast, login, client):
    user = cast.committee_a
    login(user)
    assert client.post("/logout/").status_code in (200, 302)
    events = AuditEvent.objects.filter(user_id=user.pk, action="auth.logout")
    assert events.count() == 1
    uid = user.pk
    user.delete()
    event = AuditEvent.objects.get(user_id=uid, action="auth.logout")
    assert event.roles == "committee"
    assert event.username == ""  # the name is looked up, not copied
    login(cast.admin)  # an event without a place: the admin's audit log shows it
    page = client.get("/audit/?action=auth.logout").content.decode()
    assert f"#{uid}" in page


def test_refusals_are_recorded_throttled_without_personal_data(cast, login, client):
    cache.clear()
    login(cast.worker_a1)
    for _ in range(3):
        assert client.get("/audit/").status_code == 403
    denied = AuditEvent.objects.filter(action="access.denied", user=cast.worker_a1)
    assert denied.count() == 1  # throttled: once a minute per account, route and kind
    event = denied.get()
    assert event.detail == {"perm": "audit.view", "route": "audit/"}
    assert event.outcome == "denied" and event.roles == "grid_worker"
    assert event.place_path == cast.grid_a1.path  # the commanders over the account see it
    # Out of scope: a person of another community is a 404, recorded as such.
    other = cast.person_b1
    assert client.get(f"/residents/{other.pk}/").status_code == 404
    out = AuditEvent.objects.get(action="access.out_of_scope", user=cast.worker_a1)
    assert out.detail == {"perm": "residents.view", "route": "residents/<int:pk>/"}
    assert str(other.pk) not in str(out.detail) and cast.ids["person_b1"] not in str(out.detail)


def test_many_refusals_of_one_account_raise_one_alert(cast, login, client, settings, monkeypatch):
    cache.clear()
    settings.DENIED_ALERT_COUNT = 5
    seen = []
    monkeypatch.setattr(registry, "_SINKS", [seen.append])
    login(cast.worker_a1)
    for _ in range(4):
        client.get("/audit/")
    assert seen == [] and not AuditEvent.objects.filter(action="access.alert").exists()
    for _ in range(3):
        client.get("/audit/")
    assert len(seen) == 1  # one alert per window
    alert = seen[0]
    assert alert.kind == "access.denied" and alert.perms == ("audit.view",)
    assert alert.place_path == cast.grid_a1.path and "worker_a1" not in alert.text
    event = AuditEvent.objects.get(action="access.alert")
    assert event.user_id == cast.worker_a1.pk and event.detail == {"count": 5, "minutes": settings.DENIED_ALERT_MINUTES}


def _event_at(when, action):
    with mock.patch("django.utils.timezone.now", return_value=when):
        return record(None, action)


def test_purge_removes_only_whole_months_older_than_the_age(db, capsys):
    tz = timezone.get_current_timezone()
    now = dt.datetime(2026, 12, 6, 10, 0, tzinfo=tz)
    _event_at(dt.datetime(2026, 8, 15, 12, 0, tzinfo=tz), "old.august")
    _event_at(dt.datetime(2026, 9, 30, 23, 0, tzinfo=tz), "old.september")
    _event_at(dt.datetime(2026, 10, 2, 12, 0, tzinfo=tz), "kept.october")  # its month is not all older
    _event_at(dt.datetime(2026, 12, 1, 12, 0, tzinfo=tz), "kept.december")
    with mock.patch("django.utils.timezone.now", return_value=now):
        call_command("purge_audit", "--older-than", "60")  # 60 days before: 7 October
    assert "before 2026-10-01: 2 removed" in capsys.readouterr().out
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {"kept.october", "kept.december"}
    # The maintenance transaction left nothing behind: deletes are refused again.
    _refused("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_flush_between_transactional_tests_still_works():
    """Django's flush (which pytest-django runs after this test) empties the audit table
    through the maintenance path; the trigger stays."""
    record(None, "test.flush")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    record(None, "test.flush")
    _refused("DELETE FROM audit_auditevent")


def test_a_refusal_inside_an_aborted_transaction_is_still_recorded(cast):
    """The request's refusals are written after the response (the middleware), outside the
    transaction that the refusal aborted."""
    from django.http import Http404

    from fangkong.audit.actions import flush_refusals, reset_context, set_context
    from fangkong.places.access import get_in_scope
    from fangkong.residents.models import Person

    cache.clear()
    token = set_context(ip="", refusals=[], route="api/x/{pk}")
    try:
        with pytest.raises(Http404), transaction.atomic():
            record(cast.worker_a1, "test.inside")
            get_in_scope(Person, cast.worker_a1, "residents.view", pk=cast.person_b1.pk)
        assert not AuditEvent.objects.filter(action__in=["test.inside", "access.out_of_scope"]).exists()
        flush_refusals()
    finally:
        reset_context(token)
    event = AuditEvent.objects.get(action="access.out_of_scope")
    assert event.user_id == cast.worker_a1.pk and event.detail["route"] == "api/x/{pk}"


@pytest.mark.django_db
def test_the_audit_page_names_the_objects_events_are_about(cast, client):
    """Issue 14, point 4: no model class name (a code) in the Chinese audit page; each
    object type is named in the reader's language."""
    import re

    from django.apps import apps

    from fangkong.audit import labels
    from fangkong.audit.actions import record
    from fangkong.residents.models import Transfer

    t = Transfer.objects.create(person=cast.person_a1, from_path=cast.person_a1.place_path, to_place=cast.grid_b1,
                                to_path=cast.grid_b1.path, address="乙一网格1号", typed_name="x", id_masked="x",
                                reason="x", requested_at=cast.person_a1.created_at)
    record(cast.committee_a, "residents.transfer.request", obj=t)
    record(cast.committee_a, "person.update", obj=cast.person_a1)
    client.force_login(cast.admin)
    html = client.get("/audit/").content.decode()
    cells = re.findall(r"<td>([^<]*?) \d+</td>", html)
    # An event names its object by class name only: a class name two apps share (residents'
    # and supplies' Transfer) is named by both ("迁入申请 / 调拨").
    assert any("迁入申请" in c.split(" / ") for c in cells) and "人员" in " ".join(cells), cells
    assert not {"Transfer", "Person"} & {c.strip() for c in cells}
    # Every model of the platform is named (by itself or in audit/labels.py).
    unnamed = [m.__name__ for m in apps.get_models() if m.__module__.startswith("fangkong")
               and "verbose_name" not in m._meta.original_attrs and m.__name__ not in labels.OBJECTS]
    assert not unnamed, unnamed
