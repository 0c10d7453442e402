"""Health passes (M6) through HTTP as their users drive them — the committee and the grid
worker issuing, the medic approving an override, the guard checking a code, the resident
showing the phone page — then the stored state. The clock moves with `clock`."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
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


# --- Issue, renew, revoke: roles, jurisdiction, bad input ------------------------------

@pytest.mark.django_db
def test_issue_resident_pass_by_id_number_in_scope(cast):
    committee = as_user(cast.committee_a)
    resp = committee.post("/passes/new/", {"id_number": cast.ids["person_a1"], "days": 30})
    assert resp.status_code == 302
    pass_ = Pass.objects.get()
    assert (pass_.person, pass_.kind, pass_.state, pass_.place_path) == (cast.person_a1, "resident", "active", cast.person_a1.place_path)
    assert AuditEvent.objects.filter(action="passes.issue.resident").exists()
    # A second pass for the same person: 409, nothing stored.
    assert committee.post("/passes/new/", {"id_number": cast.ids["person_a1"], "days": 30}).status_code == 409
    # Other jurisdiction: the person of community B is not found; bad input names the field.
    resp = committee.post("/passes/new/", {"id_number": cast.ids["person_b1"], "days": 30})
    assert resp.status_code == 400 and ("No person" in resp.content.decode() or "没有" in resp.content.decode())
    resp = committee.post("/passes/new/", {"id_number": "123", "days": 0})
    assert resp.status_code == 400
    assert Pass.objects.count() == 1
    # Wrong role: a guard verifies, does not issue.
    assert as_user(cast.guard_a).post("/passes/new/", {"id_number": cast.ids["person_a2"], "days": 30}).status_code == 403
    assert as_user(cast.guard_a).get("/passes/new/").status_code == 403
    assert Pass.objects.count() == 1


@pytest.mark.django_db
def test_renew_and_revoke_roles_jurisdiction_and_state_machine(cast):
    pass_, token = actions.issue_resident_pass(acting_user=None, person=cast.person_a1, days=5)
    url = f"/passes/{pass_.pk}"
    assert as_user(cast.worker_b1).post(f"{url}/revoke/", {"reason": "x"}).status_code == 404
    assert as_user(cast.medic_a).post(f"{url}/revoke/", {"reason": "x"}).status_code == 403
    worker = as_user(cast.worker_a1)
    assert worker.post(f"{url}/revoke/", {"reason": ""}).status_code == 400
    assert Pass.objects.get().state == "active"
    assert worker.post(f"{url}/renew/", {"days": "20"}).status_code == 302
    pass_.refresh_from_db()
    assert (pass_.valid_until - timezone.now()).days == 19
    assert worker.post(f"{url}/revoke/", {"reason": "离开本社区"}).status_code == 302
    pass_.refresh_from_db()
    assert (pass_.state, pass_.revoke_reason) == ("revoked", "离开本社区")
    assert worker.post(f"{url}/revoke/", {"reason": "again"}).status_code == 409
    assert worker.post(f"{url}/renew/", {"days": "20"}).status_code == 409
    assert worker.get(f"{url}/card.pdf").status_code == 409
    # API: the same rules.
    api = as_user(cast.committee_a)
    assert post_json(api, f"/api/passes/{pass_.pk}/revoke", {"reason": "x"}).status_code == 409
    assert post_json(as_user(cast.committee_b), f"/api/passes/{pass_.pk}/renew", {"days": 3}).status_code == 404


@pytest.mark.django_db
def test_api_issue_visitor_and_vehicle_with_clear_errors(cast):
    api = as_user(cast.worker_a1)
    resp = post_json(api, "/api/passes/visitor", {"name": "访客", "phone": "1", "reason": "", "place_id": cast.compound_a1.pk,
                                                  "hours": 100})
    assert resp.status_code == 422
    assert {d["field"] for d in resp.json()["detail"]} == {"phone", "reason", "hours"}
    assert not Pass.objects.exists()
    resp = post_json(api, "/api/passes/visitor", {"name": "访客王五", "phone": "13912345678", "reason": "送货",
                                                  "place_id": cast.compound_a1.pk, "host_household_id": cast.hh_a1.pk, "hours": 4})
    assert resp.status_code == 201 and resp.json()["passes"]["masked"] == "访**五"
    assert "13912345678" not in resp.content.decode()
    assert post_json(api, "/api/passes/visitor", {"name": "访客", "phone": "13912345678", "reason": "送货",
                                                  "place_id": cast.grid_b1.pk, "hours": 4}).status_code == 422
    assert Pass.objects.count() == 1
    resp = post_json(api, "/api/passes/vehicle", {"plate": "鲁E1234", "place_id": cast.compound_a1.pk})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "plate"
    resp = post_json(api, "/api/passes/vehicle", {"plate": "鲁e·12345d", "place_id": cast.compound_a1.pk,
                                                  "owner_id_number": cast.ids["person_a1"]})
    assert resp.status_code == 201 and resp.json()["passes"]["masked"] == "鲁E·****5D"
    assert Pass.objects.get(kind="vehicle").plate == "鲁E12345D"
    assert post_json(api, "/api/passes/vehicle", {"plate": "鲁E12345D", "place_id": cast.compound_a1.pk}).status_code == 409
    assert post_json(as_user(cast.guard_a), "/api/passes/vehicle", {"plate": "鲁E12345", "place_id": cast.compound_a1.pk}).status_code == 403


# --- Colour ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_colour_follows_observation_and_fever(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    pa1, pa2 = cast.person_a1, cast.person_a2
    assert colour_for([pa1.pk, pa2.pk]) == {pa1.pk: "green", pa2.pk: "green"}
    obs = observation.start(acting_user=cast.committee_a, person=pa1, kind=Observation.Kind.MONITORING, days=7)
    assert colour_for([pa1.pk])[pa1.pk] == "yellow"
    observation.start(acting_user=cast.committee_a, person=pa2, kind=Observation.Kind.HOME, days=14)
    assert colour_for([pa2.pk])[pa2.pk] == "red"  # home observation: stays at home (see colours.py)
    observation.report(acting_user=cast.medic_a, observation=obs, temperature="38.2", source="staff")
    assert colour_for([pa1.pk])[pa1.pk] == "red"
    # The token carries the colour of the moment it is signed; the guard's check the colour now.
    pass_, token = actions.issue_resident_pass(acting_user=None, person=pa1)
    assert actions.check_token(token).colour == "red"


@pytest.mark.django_db
def test_override_needs_a_second_person_and_expires(cast, clock, alerts, django_capture_on_commit_callbacks):
    clock.set(at(2026, 5, 1, 8, 0))
    pa2 = cast.person_a2
    observation.start(acting_user=cast.committee_a, person=pa2, kind=Observation.Kind.HOME, days=14)
    pass_, _token = actions.issue_resident_pass(acting_user=None, person=pa2)
    committee = as_user(cast.committee_a)
    assert committee.post(f"/passes/{pass_.pk}/override/", {"colour": "green", "hours": "500", "reason": "x"}).status_code == 400
    assert as_user(cast.worker_a1).post(f"/passes/{pass_.pk}/override/", {"colour": "green", "hours": "4", "reason": "x"}).status_code == 403
    assert as_user(cast.committee_b).post(f"/passes/{pass_.pk}/override/", {"colour": "green", "hours": "4", "reason": "x"}).status_code == 404
    assert not Override.objects.exists()
    assert committee.post(f"/passes/{pass_.pk}/override/", {"colour": "green", "hours": "4", "reason": "核酸阴性，解除误判"}).status_code == 302
    over = Override.objects.get()
    assert over.state == "requested" and colour_for([pa2.pk])[pa2.pk] == "red"
    # The requester cannot approve it; a second person can.
    assert committee.post(f"/passes/overrides/{over.pk}/approve/").status_code == 409
    assert Override.objects.get().state == "requested"
    assert as_user(cast.guard_a).post(f"/passes/overrides/{over.pk}/approve/").status_code == 403
    assert as_user(cast.committee_b).post(f"/passes/overrides/{over.pk}/approve/").status_code == 404
    assert as_user(cast.medic_a).post(f"/passes/overrides/{over.pk}/approve/").status_code == 302
    over.refresh_from_db()
    assert (over.state, over.decided_by) == ("approved", cast.medic_a)
    assert colour_for([pa2.pk])[pa2.pk] == "green"
    assert post_json(as_user(cast.guard_a), "/api/passes/check", {"token": actions.token_for(pass_)}).json()["colour"] == "green"
    # Four hours later it no longer counts, and the worker marks it expired.
    clock.advance(hours=4, minutes=1)
    assert colour_for([pa2.pk])[pa2.pk] == "red"
    assert actions.expire_passes() >= 1
    assert Override.objects.get().state == "expired"
    assert as_user(cast.medic_a).post(f"/passes/overrides/{over.pk}/reject/").status_code == 409
    # A burst of requests by one person raises one alert.
    with django_capture_on_commit_callbacks(execute=True):
        for _i in range(5):
            actions.request_override(acting_user=cast.medic_a, colour="yellow", reason="批量", hours=2, person=pa2)
    burst = [a for a in alerts if a.kind == "passes.override_burst"]
    assert len(burst) >= 1 and burst[0].place_path == cast.comm_a.path


# --- The resident's phone page and the card ---------------------------------------------

@pytest.mark.django_db
def test_resident_page_shows_colour_and_a_code_that_changes(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    link = issue_resident_link(acting_user=None, person=cast.person_a1)
    resp = Client().get(f"/r/{link}/pass/")
    assert resp.status_code == 200 and "靶子甲" not in resp.content.decode()
    pass_, _token = actions.issue_resident_pass(acting_user=None, person=cast.person_a1)
    resp = Client().get(f"/r/{link}/pass/")
    html = resp.content.decode()
    assert resp.status_code == 200 and "靶*甲" in html and 'hx-trigger="every 60s"' in html and pass_.serial in html
    assert cast.ids["person_a1"] not in html
    first = resp.context["token"]
    assert actions.check_token(first).expires_at == at(2026, 5, 1, 8, 5)
    clock.advance(minutes=1)
    resp = Client().get(f"/r/{link}/pass/qr/")
    second = resp.context["token"]
    assert resp.status_code == 200 and second != first and "<svg" in resp.content.decode()
    clock.advance(minutes=5)
    with pytest.raises(tokens.TokenError):
        actions.check_token(first, now=timezone.now())
    assert Client().get("/r/not-a-valid-token-0123456789abcdef/pass/").status_code == 404


@pytest.mark.django_db
def test_card_pdf_has_the_chinese_title_and_a_verifiable_qr(cast, tmp_path):
    import subprocess

    pass_, _token = actions.issue_resident_pass(acting_user=None, person=cast.person_a1)
    resp = as_user(cast.committee_a).get(f"/passes/{pass_.pk}/card.pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(resp.content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert "健康通行卡" in text and "靶*甲" in text and pass_.serial in text and "靶子甲" not in text
    subprocess.run(["pdftoppm", "-png", "-r", "200", str(pdf), str(tmp_path / "card")], check=True)
    png = next(tmp_path.glob("card*.png"))
    out = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert out.returncode == 0, "the card's QR code cannot be read back"  # zbar-tools: installed by .ci/run
    claims = actions.check_token(out.stdout.strip())
    assert claims.pass_id == pass_.pk and claims.expires_at == pass_.valid_until.replace(microsecond=0)
    assert as_user(cast.guard_a).get(f"/passes/{pass_.pk}/card.pdf").status_code == 403
    assert as_user(cast.committee_b).get(f"/passes/{pass_.pk}/card.pdf").status_code == 404
