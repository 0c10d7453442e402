"""Health passes (M6) through HTTP as their users drive them — the committee and the grid
worker issuing, the medic approving an override, the guard checking a code, the resident
showing the phone page — then the stored state. The clock moves with `clock`."""
from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.models import AuditEvent
from fangkong.core import registry
from fangkong.observation import actions as observation
from fangkong.observation.models import Observation
from fangkong.passes import actions, tokens
from fangkong.passes.colours import colour_for
from fangkong.passes.models import Override, Pass

TZ = timezone.get_default_timezone()


@pytest.fixture(autouse=True)
def _fresh_caches():
    tokens.clear_cache()
    actions.clear_revocation_cache()
    yield
    tokens.clear_cache()
    actions.clear_revocation_cache()


class Clock:
    def __init__(self):
        self.now = timezone.now()
        self._patch = mock.patch("django.utils.timezone.now", side_effect=lambda: self.now)

    def set(self, moment):
        self.now = moment

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock():
    c = Clock()
    with c._patch:
        yield c


@pytest.fixture
def alerts():
    seen: list[registry.Alert] = []
    registry.register_alert_sink(seen.append)
    yield seen
    registry._SINKS.remove(seen.append)


def at(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post_json(client, url, data):
    return client.post(url, data=json.dumps(data), content_type="application/json")


# --- The gate contract ------------------------------------------------------------------

@pytest.mark.django_db
def test_check_token_refuses_revoked_and_the_guard_sees_no_id_or_phone(cast):
    pass_, token = actions.issue_resident_pass(acting_user=cast.committee_a, person=cast.person_a1)
    assert actions.check_token(token).pass_id == pass_.pk
    guard = as_user(cast.guard_a)
    resp = post_json(guard, "/api/passes/check", {"token": token})
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] and body["colour"] == "green" and body["masked"] == "靶*甲"
    text = resp.content.decode()
    for secret in (cast.ids["person_a1"], cast.phones["person_a1"], "靶子甲", cast.ids["person_a1"][-4:] + '"'):
        assert secret not in text
    keys = guard.get("/api/passes/keys").json()["keys"]
    assert tokens.verify(token).kid in keys
    assert guard.get("/api/passes/revoked").json()["revoked"] == []

    actions.revoke(acting_user=cast.committee_a, pass_=pass_, reason="搬离本小区")
    with pytest.raises(tokens.TokenError) as exc:
        actions.check_token(token)
    assert exc.value.code == "revoked"
    body = post_json(guard, "/api/passes/check", {"token": token}).json()
    assert (body["ok"], body["code"]) == (False, "revoked") and body["message"]
    revoked = guard.get("/api/passes/revoked").json()
    assert revoked["revoked"] == [pass_.pk] and revoked["as_of"]
    assert post_json(guard, "/api/passes/check", {"token": "garbage"}).json()["code"] == "malformed"
    # Roles: a grid worker does not verify; anonymous must sign in.
    assert as_user(cast.worker_a1).get("/api/passes/keys").status_code == 403
    assert Client().get("/api/passes/revoked").status_code == 401


@pytest.mark.django_db
def test_check_token_refuses_a_code_past_the_pass_validity(cast, clock):
    clock.set(at(2026, 5, 1, 9))
    pass_, token = actions.issue_visitor_pass(acting_user=cast.worker_a1, name="访客张三", phone="13800001111",
                                              reason="探望老人", host_household=cast.hh_a1, hours=2,
                                              place=cast.compound_a1)
    assert actions.check_token(token, now=at(2026, 5, 1, 10)).kind == "visitor"
    with pytest.raises(tokens.TokenError) as exc:
        actions.check_token(token, now=at(2026, 5, 1, 11, 1))
    assert exc.value.code == "expired"
    assert pass_.valid_until == at(2026, 5, 1, 11)


@pytest.mark.django_db
def test_visitor_pass_is_validated_and_its_phone_encrypted(cast):
    with pytest.raises(actions.Invalid) as exc:
        actions.issue_visitor_pass(acting_user=cast.worker_a1, name="", phone="12345", reason="", host_household=cast.hh_b1,
                                   hours=73, place=cast.compound_a1)
    assert set(exc.value.errors) == {"name", "phone", "reason", "hours", "host_household"}
    assert not Pass.objects.exists()
    pass_, token = actions.issue_visitor_pass(acting_user=cast.worker_a1, name="访客张三", phone="+86 138-0000-1111",
                                              reason="探望老人", host_household=cast.hh_a1, hours="3",
                                              place=cast.compound_a1)
    assert pass_.visitor_phone_masked == "138****1111" and pass_.phone() == "13800001111"
    assert b"13800001111" not in bytes(pass_.visitor_phone_enc)
    assert pass_.serial.startswith("TX") and pass_.place_path == cast.compound_a1.path
    assert actions.check_token(token).masked == "访**三"
