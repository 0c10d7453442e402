"""Issue 15, point 13: one JSON line per request, readiness beside liveness, and the
worker's queue depth for the admin."""
import json
import re
import logging
from unittest import mock

import pytest
from django.test import Client

from fangkong.accounts.actions import issue_resident_link


def _request_lines(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fangkong.request"]


@pytest.mark.django_db
def test_one_json_line_per_request_with_id_user_route_status_and_time(cast, login, caplog):
    caplog.set_level(logging.INFO, logger="fangkong.request")
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    anon = Client()
    resp = anon.get(f"/r/{token}/credit/")
    resp404 = anon.get(f"/r/{token}/nope/")
    staff = login(cast.committee_a)
    page = staff.get(f"/residents/{cast.person_a1.pk}/", HTTP_X_REQUEST_ID="lb-4f2a9c1e.7")
    bad = Client().get("/healthz", HTTP_X_REQUEST_ID="no spaces\nor newlines please")
    lines = _request_lines(caplog)
    assert len(lines) == 4
    first, missing, person, health = lines
    assert set(first) == {"at", "request_id", "user_id", "method", "route", "status", "ms"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["at"])
    assert first["route"] == "/r/<str:token>/credit/" and first["status"] == resp.status_code and first["user_id"] is None
    assert first["request_id"] == resp["X-Request-ID"] and len(first["request_id"]) == 32
    assert missing["route"] is None and missing["status"] == 404 == resp404.status_code
    assert person["user_id"] == cast.committee_a.pk and person["route"] == "/residents/<int:pk>/"
    assert person["status"] == page.status_code == 200 and person["request_id"] == "lb-4f2a9c1e.7" == page["X-Request-ID"]
    assert health["request_id"] == bad["X-Request-ID"] != "no spaces\nor newlines please" and health["method"] == "GET"
    assert all(isinstance(line["ms"], (int, float)) and line["ms"] >= 0 for line in lines)
    raw = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in raw and cast.ids["person_a1"] not in raw and str(cast.person_a1.pk) + "/" not in raw


@pytest.mark.django_db
def test_readiness_checks_database_migrations_keys_and_queue(cast, login):
    live = Client().get("/healthz")
    assert live.status_code == 200
    ready = Client().get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "keys": "ok", "queue": "ok"}}
    assert "queue_depth" not in body  # for those who run the system only
    assert "queue_depth" not in login(cast.commander).get("/readyz").json()


@pytest.mark.django_db
def test_readiness_fails_on_unapplied_migrations(settings):
    with mock.patch("fangkong.core.views._MIGRATED", []), \
            mock.patch("django.db.migrations.executor.MigrationExecutor.migration_plan", return_value=[("x", False)]):
        resp = Client().get("/readyz")
    assert resp.status_code == 503 and resp.json()["checks"]["migrations"] == "failed"
    assert resp.json()["status"] == "not ready"


@pytest.mark.django_db
def test_readiness_fails_without_working_keys(settings):
    settings.DATA_KEY = b"short"
    resp = Client().get("/readyz")
    assert resp.status_code == 503 and resp.json()["checks"] == {"database": "ok", "migrations": "ok", "keys": "failed", "queue": "ok"}


@pytest.mark.django_db
def test_readiness_fails_when_the_queue_cannot_be_read():
    with mock.patch("huey.contrib.djhuey.HUEY.pending_count", side_effect=OSError("queue gone")):
        resp = Client().get("/readyz")
    assert resp.status_code == 503 and resp.json()["checks"]["queue"] == "failed"


@pytest.mark.django_db
def test_the_admin_sees_the_workers_queue_depth(cast, login):
    from huey.contrib.djhuey import HUEY

    assert HUEY.immediate  # tests: an in-memory queue of this process, never a real one
    before = HUEY.pending_count()
    HUEY.storage.enqueue(b"waiting-1")  # two tasks no worker has taken yet
    HUEY.storage.enqueue(b"waiting-2")
    try:
        admin = login(cast.admin)
        body = admin.get("/readyz").json()
        home = admin.get("/").content.decode()
    finally:
        HUEY.storage.flush_queue()
    assert body["queue_depth"] == before + 2 and body["status"] == "ready"
    assert f'id="queue-depth">{before + 2}<' in home
    assert 'id="queue-depth"' not in login(cast.commander).get("/").content.decode()
