"""Gates (M6) and the triage a fever opens (M18, in the clinic app) through HTTP with the fixed cast, then the stored state."""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.clinic.models import Visit as Triage  # a gate's fever opens a visit of the clinic triage
from fangkong.gates.models import GateEntry
from fangkong.passes import tokens
from fangkong.places.actions import create_place

ENTRIES, BATCH, CHECK, STATS = "/api/gates/entries", "/api/gates/entries/batch", "/api/gates/check", "/api/gates/stats"


def token(pass_id=7, colour="green", kind="resident", masked="靶*甲", hours=12):
    return tokens.sign(pass_id=pass_id, kind=kind, colour=colour, masked=masked,
                       expires_at=timezone.now() + dt.timedelta(hours=hours))


def other_key_token(pass_id=7):
    """Well formed and signed, but by a key this platform never had."""
    payload = {"k": "deadbeef", "p": pass_id, "t": "r", "c": "g", "e": int(timezone.now().timestamp()) + 3600, "n": "靶*甲"}
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    body = "FK1." + b64(json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
    return body + "." + b64(Ed25519PrivateKey.generate().sign(body.encode()))


def forged(tok):
    """A green pass made from a red one: payload changed, signature kept."""
    prefix, payload, sig = tok.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["c"] = "g"
    new = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
    return f"{prefix}.{new.rstrip(b'=').decode()}.{sig}"


def entry(cast, **kw):
    data = {"client_id": str(uuid.uuid4()), "place": cast.compound_a1.pk, "direction": "in", "subject": "person",
            "token": token(), "temperature": "36.5", "occurred_at": timezone.now().isoformat()}  # the server decides
    data.update(kw)
    return data


def post(client, url, data):
    return client.post(url, data=json.dumps(data), content_type="application/json")


@pytest.fixture
def alerts():
    got = []
    sink = registry.register_alert_sink(got.append)
    yield got
    registry._SINKS.remove(sink)


@pytest.fixture
def checkpoint_b(cast):
    return create_place(acting_user=None, kind="checkpoint", name="乙卡口", code="B1K", parent=cast.grid_b1)


# --- Single entries --------------------------------------------------------------------------

@pytest.mark.django_db
def test_guard_records_an_entry_and_a_resend_returns_the_stored_one(cast, login):
    client = login(cast.guard_a)
    data = entry(cast)
    resp = post(client, ENTRIES, data)
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["decision"] == "allowed" and body["colour"] == "green" and body["masked"] == "靶*甲" and body["created"]
    again = post(client, ENTRIES, data)
    assert again.status_code == 200 and again.json()["id"] == body["id"] and not again.json()["created"]
    e = GateEntry.objects.get()
    assert (e.place, e.place_path, e.direction, e.pass_id, e.guard, e.offline) == (
        cast.compound_a1, cast.compound_a1.path, "in", 7, cast.guard_a, False)
    assert str(e.temperature) == "36.5" and e.received_at and e.server_check == ""
    assert AuditEvent.objects.filter(action="gates.entry", user=cast.guard_a, object_id=str(e.pk)).count() == 1


@pytest.mark.django_db
def test_wrong_role_403_other_jurisdiction_404_wrong_method_405(cast, login, checkpoint_b):
    for user in (cast.worker_a1, cast.commander, cast.medic_a):
        c = Client()
        c.force_login(user)
        assert post(c, ENTRIES, entry(cast)).status_code == 403
        assert post(c, BATCH, {"entries": [entry(cast)]}).status_code == 403
    assert post(Client(), ENTRIES, entry(cast)).status_code == 401
    client = login(cast.guard_a)
    assert post(client, ENTRIES, entry(cast, place=checkpoint_b.pk)).status_code == 404
    assert client.get(ENTRIES).status_code == 405
    assert not GateEntry.objects.exists()


@pytest.mark.django_db
def test_bad_input_gets_field_messages_and_no_row(cast, login):
    client = login(cast.guard_a)
    resp = post(client, ENTRIES, entry(cast, client_id="not-a-uuid", temperature="45", direction="up"))
    assert resp.status_code == 422
    fields = {d["field"] for d in resp.json()["detail"]}
    assert {"client_id", "temperature", "direction"} <= fields
    resp = post(client, ENTRIES, entry(cast, subject="vehicle", plate="nonsense", token=""))
    assert resp.status_code == 422 and {d["field"] for d in resp.json()["detail"]} == {"plate"}
    assert not GateEntry.objects.exists()
    ok = post(client, ENTRIES, entry(cast, subject="vehicle", plate="鲁a·12345", token=""))
    assert ok.status_code == 201 and ok.json()["plate"] == "鲁A12345" and ok.json()["decision"] == "allowed"


# --- Refusals ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_forged_expired_other_key_red_and_malformed_passes_are_refused_with_the_reason(cast, login):
    client = login(cast.guard_a)
    red = token(colour="red")
    expired = tokens.sign(pass_id=8, kind="resident", colour="green", masked="靶*乙",
                          expires_at=timezone.now() - dt.timedelta(minutes=1))
    cases = {"bad_signature": forged(red), "expired": expired, "unknown_key": other_key_token(), "red": red,
             "malformed": "FK1.garbage"}
    for code, tok in cases.items():
        resp = post(client, CHECK, {"token": tok})
        assert resp.status_code == 200
        body = resp.json()
        assert not body["ok"] and body["reason_code"] == code and body["reason"], (code, body)
        stored = post(client, ENTRIES, entry(cast, token=tok))
        assert stored.status_code == 201
        assert stored.json()["decision"] == "refused" and stored.json()["reason_code"] == code, code
    assert post(client, CHECK, {"token": token()}).json()["ok"]
    assert GateEntry.objects.filter(decision="refused").count() == len(cases)
    # A gate that let a red pass through says so: the record keeps what happened, flagged.
    kept = post(client, ENTRIES, entry(cast, token=red, decision="allowed")).json()
    assert kept["decision"] == "allowed" and kept["flagged"] is True
    assert GateEntry.objects.get(pk=kept["id"]).server_check == "red"
    # A key the platform stopped trusting: its passes are refused from then on.
    good = token()
    tokens.revoke_key(good and tokens.decode(good)[0].kid)
    assert post(client, CHECK, {"token": good}).json()["reason_code"] == "unknown_key"


@pytest.mark.django_db
def test_offline_entry_keeps_what_happened_and_is_flagged_when_the_server_disagrees(cast, login):
    client = login(cast.guard_a)
    # Valid when the guard let the person in (device time), expired by the time it syncs.
    tok = tokens.sign(pass_id=9, kind="visitor", colour="green", masked="访*",
                      expires_at=timezone.now() - dt.timedelta(minutes=30))
    at = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    resp = post(client, ENTRIES, entry(cast, token=tok, occurred_at=at, offline=True, decision="allowed"))
    assert resp.json()["decision"] == "allowed" and not resp.json()["flagged"]
    forged_in = post(client, ENTRIES, entry(cast, token=forged(token(colour="red")), offline=True, decision="allowed"))
    assert forged_in.json()["decision"] == "allowed" and forged_in.json()["flagged"]
    e = GateEntry.objects.get(pk=forged_in.json()["id"])
    assert e.server_check == "bad_signature" and e.offline


@pytest.mark.django_db
def test_device_clock_far_off_is_not_trusted(cast, login):
    client = login(cast.guard_a)
    future = (timezone.now() + dt.timedelta(days=2)).isoformat()
    body = post(client, ENTRIES, entry(cast, occurred_at=future)).json()
    e = GateEntry.objects.get(pk=body["id"])
    assert e.clock_suspect and abs((e.occurred_at - e.received_at).total_seconds()) < 1
    assert e.device_time > e.received_at + dt.timedelta(days=1)


@pytest.mark.django_db
def test_guard_responses_never_hold_an_id_number_or_phone(cast, login):
    client = login(cast.guard_a)
    texts = [post(client, ENTRIES, entry(cast)).content, post(client, CHECK, {"token": token()}).content,
             client.get("/api/gates/trust").content, client.get("/gates/").content,
             post(client, BATCH, {"entries": [entry(cast)]}).content]
    for raw in texts:
        text = raw.decode()
        for secret in list(cast.ids.values()) + list(cast.phones.values()):
            assert secret not in text
        assert "靶子甲" not in text  # names in clear neither: masked only


# --- Batches ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_batch_stores_the_good_entries_and_reports_the_bad_ones(cast, login, checkpoint_b):
    client = login(cast.guard_a)
    good = [entry(cast, offline=True) for _ in range(5)]
    dup = dict(good[0])
    bad_temp = entry(cast, temperature="50")
    bad_id = entry(cast, client_id="x")
    elsewhere = entry(cast, place=checkpoint_b.pk)
    resp = post(client, BATCH, {"entries": good + [dup, bad_temp, bad_id, elsewhere]})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["stored"] == 5 and body["duplicates"] == 0
    assert sorted(body["accepted"]) == sorted(e["client_id"] for e in good)
    rejected = {r["client_id"]: r["errors"] for r in body["rejected"]}
    assert set(rejected) == {bad_temp["client_id"], "x", elsewhere["client_id"]}
    assert "temperature" in rejected[bad_temp["client_id"]] and "place" in rejected[elsewhere["client_id"]]
    assert GateEntry.objects.count() == 5 and all(e.offline for e in GateEntry.objects.all())
    again = post(client, BATCH, {"entries": good}).json()
    assert again["stored"] == 0 and again["duplicates"] == 5 and GateEntry.objects.count() == 5
    assert AuditEvent.objects.filter(action="gates.batch", user=cast.guard_a).count() == 1  # a resend changes nothing


@pytest.mark.django_db
def test_batch_of_a_thousand_offline_entries(cast, login, alerts, django_capture_on_commit_callbacks):
    client = login(cast.guard_a)
    tok = token()
    items = [entry(cast, token=tok, direction="in" if i % 2 else "out", offline=True) for i in range(1000)]
    items[10]["temperature"] = "38.4"
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, BATCH, {"entries": items}).json()
    assert body["stored"] == 1000 and not body["rejected"]
    assert GateEntry.objects.count() == 1000 and Triage.objects.count() == 1
    assert Triage.objects.get().gate_entry.client_id == uuid.UUID(items[10]["client_id"])
    # The gate's own alert, once (the disinfection case round it triggers tells its own people).
    assert [a.obj_id for a in alerts if a.kind == "gate.fever"] == [Triage.objects.get().pk]
    assert {a.kind for a in alerts} <= {"gate.fever", "disinfection.case"}


@pytest.mark.django_db(transaction=True)
def test_the_same_entry_sent_100_times_at_once_is_stored_once(cast):
    """100 devices send one entry at the same moment. The server serves them as the
    production server does, at most workers × threads (gunicorn_conf: 32) at once, each
    request with a database connection of its own: 100 at once would exceed PostgreSQL's
    100 connections (this test failed now and then on PostgreSQL with "too many clients")."""
    from fangkong import gunicorn_conf

    data = entry(cast)
    first = Client()
    first.force_login(cast.guard_a)
    cookies = first.cookies
    barrier = threading.Barrier(100)
    serving = threading.BoundedSemaphore(gunicorn_conf.WORKERS * gunicorn_conf.THREADS)
    codes, errors = [], []

    def send():
        try:
            c = Client()
            c.cookies = cookies
            barrier.wait()
            with serving:
                codes.append(post(c, ENTRIES, data).status_code)
                connection.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert sorted(set(codes)) == [200, 201] and codes.count(201) == 1, codes
    assert GateEntry.objects.filter(client_id=data["client_id"]).count() == 1
    assert AuditEvent.objects.filter(action="gates.entry").count() == 1


# --- Fever and triage -------------------------------------------------------------------------

@pytest.mark.django_db
def test_fever_at_the_gate_opens_a_triage_and_raises_an_alert(cast, login, alerts, django_capture_on_commit_callbacks):
    client = login(cast.guard_a)
    hot = entry(cast, temperature="38.3", travel=True)
    with django_capture_on_commit_callbacks(execute=True):
        resp = post(client, ENTRIES, hot)
    body = resp.json()
    assert body["decision"] == "refused" and body["reason_code"] == "fever" and body["triage_id"]
    t = Triage.objects.get()
    assert t.gate_entry_id == body["id"] and str(t.temperature) == "38.3" and t.state == "waiting"
    assert t.source_area is True and t.origin == "gate" and t.fever
    assert t.place_path == cast.compound_a1.path and t.masked == "靶*甲"
    fevers = [a for a in alerts if a.kind == "gate.fever"]
    assert len(fevers) == 1 and {a.kind for a in alerts} <= {"gate.fever", "disinfection.case"}
    a = fevers[0]
    assert a.kind == "gate.fever" and a.perms == ("observation.alerted",) and a.place_path == cast.compound_a1.path
    assert "38.3" in a.text and a.obj_type == "clinic.visit" and a.obj_id == t.pk
    again = post(client, ENTRIES, hot)  # the device's resend: the same entry, its device time too
    assert again.json()["triage_id"] == t.pk and Triage.objects.count() == 1  # a resend finds it

    # Routed in the clinic triage's one flow (tests/test_clinic.py covers it in full).
    url = f"/api/clinic/visits/{t.pk}/route"
    assert post(client, url, {"route": "fever_clinic"}).status_code == 403  # the guard
    other = Client()
    other.force_login(cast.committee_b)
    assert post(other, url, {"route": "fever_clinic"}).status_code == 404
    medic = Client()
    medic.force_login(cast.medic_a)
    assert post(medic, url, {"route": "general"}).status_code == 422  # a fever is not sent to general outpatients
    routed = post(medic, url, {"route": "fever_clinic", "contact_source": False})
    assert routed.status_code == 200 and routed.json()["state"] == "tracking"
    assert post(medic, url, {"route": "cleared"}).status_code == 409
    assert medic.get("/gates/triage/").url == "/clinic/queue/"


# --- Figures ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_figures_per_checkpoint_and_day(cast, login, checkpoint_b):
    guard = login(cast.guard_a)
    items = [entry(cast) for _ in range(3)] + [entry(cast, direction="out")] + [
        entry(cast, subject="vehicle", plate="鲁A1234%d" % i, token="") for i in range(2)] + [
        entry(cast, temperature="38.0"), entry(cast, token=""),
        entry(cast, occurred_at=(timezone.now() - dt.timedelta(days=1)).isoformat())]
    assert post(guard, BATCH, {"entries": items}).json()["stored"] == len(items)
    commander = Client()
    commander.force_login(cast.commander)
    today = timezone.localdate().isoformat()
    rows = commander.get(STATS, {"day": today}).json()["rows"]
    assert len(rows) == 1
    r = rows[0]
    assert (r["place_id"], r["people_in"], r["people_out"], r["vehicles_in"], r["refused"], r["fevers"], r["total"]) == (
        cast.compound_a1.pk, 3, 1, 2, 2, 1, 8)
    committee_b = Client()
    committee_b.force_login(cast.committee_b)
    assert committee_b.get(STATS, {"day": today}).json()["rows"] == []
    assert committee_b.get(STATS, {"day": today, "place": cast.compound_a1.pk}).status_code == 404
    assert guard.get(STATS).status_code == 403
    page = commander.get("/gates/stats/", {"day": today})
    assert page.status_code == 200 and "甲一小区" in page.content.decode()
    assert guard.get("/gates/stats/").status_code == 403


@pytest.mark.django_db
def test_gate_page_lists_the_guards_checkpoints_and_the_service_worker_covers_it(cast, login, checkpoint_b):
    client = login(cast.guard_a)
    html = client.get("/gates/").content.decode()
    assert "甲一小区" in html and "乙卡口" not in html and 'id="gate-config"' in html
    # The worker is the fields pages' shared script fangkong/sw.js, served under /gates/ (so
    # that it may control the page); the page tells it, in the query string, its cache and
    # what to keep offline.
    import json
    import urllib.parse

    config = json.loads(html.split('id="gate-config"')[1].split(">", 1)[1].split("</script>", 1)[0])
    sw_url = urllib.parse.urlsplit(config["urls"]["sw"])
    params = urllib.parse.parse_qs(sw_url.query)
    assert sw_url.path == "/gates/sw.js" and params["page"] == ["/gates/"]
    assets = json.loads(params["assets"][0])
    assert {"/static/gates/gate.js", "/static/fangkong/passcode.js", "/static/fangkong/offline.js"} <= set(assets)
    assert params["cache"][0].startswith("fk-gates-v")
    assert '/static/fangkong/passcode.js' in html and '/static/fangkong/offline.js' in html
    sw = Client().get(config["urls"]["sw"])
    assert sw.status_code == 200 and sw["Content-Type"].startswith("application/javascript")
    assert sw["Service-Worker-Allowed"] == "/gates/"
    from fangkong.web.offline import WORKER
    assert sw.content == WORKER.read_bytes() and b'searchParams' in sw.content
    assert Client().get("/healthz").content == b"ok"


# --- Visitor pass at the gate -----------------------------------------------------------------

@pytest.mark.django_db
def test_guard_issues_a_visitor_pass_on_the_spot_and_the_phone_is_not_echoed(cast, login, checkpoint_b):
    from fangkong.passes.models import Pass

    client = login(cast.guard_a)
    form = {"place": cast.compound_a1.pk, "name": "王小明", "phone": "13812345678", "reason": "探亲", "host": "1号楼101",
            "hours": "3"}
    resp = client.post("/gates/visitor/", form)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="visitor-token"' in html and "<svg" in html
    assert "13812345678" not in html and "王小明" not in html
    p = Pass.objects.get()
    assert p.kind == "visitor" and p.host_household == cast.hh_a1 and p.place == cast.compound_a1
    tok = html.split('id="visitor-token" value="')[1].split('"')[0]
    body = post(client, ENTRIES, entry(cast, token=tok)).json()
    assert body["decision"] == "allowed" and body["masked"] == p.masked and body["colour"] == "green"
    # Bad input: field messages, no pass; another jurisdiction's checkpoint is not offered.
    bad = client.post("/gates/visitor/", {**form, "phone": "123", "host": "不存在"}).content.decode()
    assert 'data-field="host"' in bad and Pass.objects.count() == 1
    elsewhere = client.post("/gates/visitor/", {**form, "place": checkpoint_b.pk}).content.decode()
    assert 'data-field="place"' in elsewhere and Pass.objects.count() == 1
    assert Client().post("/gates/visitor/", form).status_code == 302
    worker = Client()
    worker.force_login(cast.worker_a1)
    assert worker.post("/gates/visitor/", form).status_code == 403


@pytest.mark.django_db
def test_a_revoked_pass_is_refused_and_listed_for_the_devices(cast, login):
    from fangkong.passes import actions as passes

    client = login(cast.guard_a)
    p, tok = passes.issue_visitor_pass(acting_user=None, name="访客", phone="13812345678", reason="送货",
                                       host_household=None, hours=2, place=cast.compound_a1)
    assert post(client, CHECK, {"token": tok}).json()["ok"]
    passes.revoke(acting_user=None, pass_=p, reason="test")
    passes.clear_revocation_cache()
    body = post(client, CHECK, {"token": tok}).json()
    assert not body["ok"] and body["reason_code"] == "revoked" and body["reason"]
    stored = post(client, ENTRIES, entry(cast, token=tok)).json()
    assert stored["decision"] == "refused" and stored["reason_code"] == "revoked"
    assert p.pk in client.get("/api/gates/trust").json()["revoked"]


@pytest.mark.django_db
def test_a_vehicle_pass_is_for_its_vehicle_only(cast, login):
    """A vehicle pass shown for a person, or with another plate, is refused with the reason."""
    client = login(cast.guard_a)
    car = token(pass_id=11, kind="vehicle", masked="鲁A·***45")
    as_person = post(client, ENTRIES, entry(cast, token=car)).json()
    assert as_person["decision"] == "refused" and as_person["reason_code"] == "wrong_kind"
    other = post(client, ENTRIES, entry(cast, token=car, subject="vehicle", plate="鲁B12399")).json()
    assert other["decision"] == "refused" and other["reason_code"] == "plate_mismatch"
    right = post(client, ENTRIES, entry(cast, token=car, subject="vehicle", plate="鲁A12345")).json()
    assert right["decision"] == "allowed" and right["reason_code"] == ""


# --- A visitor pass admits at its host compound only ----------------------------------------

@pytest.fixture
def two_compounds(cast):
    """Compound A1 (the cast's) with a checkpoint of its own, compound A2 in the same
    community, and a guard posted at the gates of the whole community A."""
    from tests.cast import make_user

    gate_a1 = create_place(acting_user=None, kind="checkpoint", name="甲一小区东门", code="A1YE", parent=cast.compound_a1)
    compound_a2 = create_place(acting_user=None, kind="compound", name="甲二小区", code="A2Y", parent=cast.grid_a2)
    guard = make_user("guard_both", [("gate_guard", cast.comm_a)])
    return gate_a1, compound_a2, guard


def visitor_token(cast, hours=3):
    from fangkong.passes import actions as passes

    pass_, tok = passes.issue_visitor_pass(acting_user=cast.committee_a, name="访客李四", phone="13912345678",
                                           reason="探亲", host_household=cast.hh_a1, hours=hours, place=cast.compound_a1)
    return pass_, tok


@pytest.mark.django_db
def test_a_visitor_pass_is_refused_at_another_compounds_gate(cast, two_compounds, checkpoint_b):
    gate_a1, compound_a2, guard = two_compounds
    client = Client()
    client.force_login(guard)
    pass_, tok = visitor_token(cast)
    assert tokens.decode(tok)[0].host == cast.compound_a1.pk  # the gate page checks it offline
    # The server's check at a gate: its host compound and that compound's checkpoint admit it.
    for place, code in ((cast.compound_a1, ""), (gate_a1, ""), (compound_a2, "wrong_place")):
        body = post(client, CHECK, {"token": tok, "place": place.pk}).json()
        assert (body["ok"], body["reason_code"]) == (not code, code), place.name
    refused = post(client, CHECK, {"token": tok, "place": compound_a2.pk}).json()
    assert refused["reason"] == "该临时通行证不是本小区的，不能在此通行" and refused["kind"] == "visitor"
    assert post(client, CHECK, {"token": tok, "place": checkpoint_b.pk}).status_code == 404  # not their checkpoint
    assert post(client, CHECK, {"token": tok, "place": 10**30}).status_code in (404, 422)
    # A resident's pass is not bound to a compound.
    assert post(client, CHECK, {"token": token(), "place": compound_a2.pk}).json()["ok"] is True

    # Entries: refused at the other compound (online), flagged if the gate let them in offline.
    at_a2 = post(client, ENTRIES, entry(cast, token=tok, place=compound_a2.pk)).json()
    assert (at_a2["decision"], at_a2["reason_code"]) == ("refused", "wrong_place")
    at_a1 = post(client, ENTRIES, entry(cast, token=tok, place=gate_a1.pk)).json()
    assert (at_a1["decision"], at_a1["reason_code"]) == ("allowed", "")
    let_in = post(client, ENTRIES, entry(cast, token=tok, place=compound_a2.pk, offline=True, decision="allowed")).json()
    assert let_in["decision"] == "allowed" and let_in["flagged"]
    assert GateEntry.objects.get(pk=let_in["id"]).server_check == "wrong_place"
    batch = post(client, BATCH, {"entries": [entry(cast, token=tok, place=compound_a2.pk),
                                             entry(cast, token=tok, place=cast.compound_a1.pk)]}).json()
    assert batch["stored"] == 2
    stored = GateEntry.objects.filter(client_id__in=batch["accepted"])
    assert sorted(stored.values_list("place_id", "decision", "reason_code")) == sorted([
        (compound_a2.pk, "refused", "wrong_place"), (cast.compound_a1.pk, "allowed", "")])


@pytest.mark.django_db
def test_a_visitor_code_without_the_host_claim_is_bound_by_its_stored_pass(cast, two_compounds):
    """Codes signed before the host place went into the code: the server's stored pass decides."""
    _gate_a1, compound_a2, guard = two_compounds
    pass_, _tok = visitor_token(cast)
    old = tokens.sign(pass_id=pass_.pk, kind="visitor", colour="green", masked=pass_.masked,
                      expires_at=timezone.now() + dt.timedelta(hours=2))
    assert tokens.decode(old)[0].host is None
    client = Client()
    client.force_login(guard)
    assert post(client, CHECK, {"token": old, "place": compound_a2.pk}).json()["reason_code"] == "wrong_place"
    assert post(client, CHECK, {"token": old, "place": cast.compound_a1.pk}).json()["ok"] is True


@pytest.mark.django_db
def test_an_approved_override_decides_the_colour_at_the_gate(cast, two_compounds):
    """The gate reads a pass once per check-in (its person, its host place and its own
    override together): an approved override of the pass wins over the person's colour
    and over the colour printed in the code; a requested one does not count; a visitor
    pass keeps its host-place rule beside its override."""
    from django.test.utils import CaptureQueriesContext

    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation
    from fangkong.passes import actions as passes
    from fangkong.passes.models import Override

    _gate_a1, compound_a2, guard = two_compounds
    client = Client()
    client.force_login(guard)
    pa2 = cast.person_a2
    resident, tok = passes.issue_resident_pass(acting_user=None, person=pa2)
    assert tokens.decode(tok)[0].colour == "green"
    observation.start(acting_user=cast.committee_a, person=pa2, kind=Observation.Kind.HOME, days=14)
    # The person's colour now (red, home observation), not the code's (green).
    first = post(client, ENTRIES, entry(cast, token=tok)).json()
    assert (first["decision"], first["reason_code"], first["colour"]) == ("refused", "red", "red")
    over = passes.request_override(acting_user=cast.committee_a, colour="green", reason="核酸阴性，解除误判", hours=4, pass_=resident)
    assert post(client, ENTRIES, entry(cast, token=tok)).json()["reason_code"] == "red"  # requested only
    passes.decide_override(acting_user=cast.medic_a, override=over, approve=True)
    allowed = post(client, ENTRIES, entry(cast, token=tok)).json()
    assert (allowed["decision"], allowed["reason_code"], allowed["colour"]) == ("allowed", "", "green")
    assert post(client, CHECK, {"token": tok, "place": cast.compound_a1.pk}).json()["colour"] == "green"

    # A visitor pass turned red by its own override: refused as red at its host compound,
    # as a pass of another compound elsewhere (the host rule is checked first).
    visitor, vtok = visitor_token(cast)
    red = passes.request_override(acting_user=cast.committee_a, colour="red", reason="密接", hours=4, pass_=visitor)
    passes.decide_override(acting_user=cast.medic_a, override=red, approve=True)
    at_host = post(client, ENTRIES, entry(cast, token=vtok)).json()
    assert (at_host["decision"], at_host["reason_code"], at_host["colour"]) == ("refused", "red", "red")
    elsewhere = post(client, ENTRIES, entry(cast, token=vtok, place=compound_a2.pk)).json()
    assert (elsewhere["decision"], elsewhere["reason_code"]) == ("refused", "wrong_place")
    batch = post(client, BATCH, {"entries": [entry(cast, token=vtok), entry(cast, token=tok)]}).json()
    stored = GateEntry.objects.filter(client_id__in=batch["accepted"]).order_by("pass_id")
    assert sorted(stored.values_list("pass_id", "colour", "decision")) == sorted([
        (visitor.pk, "red", "refused"), (resident.pk, "green", "allowed")])

    # One read of the pass per check (its colour now and its host place from the same row),
    # per entry, and per pass in a batch, where the same visitor pass is let in offline at
    # another compound (flagged: wrong place, the code's colour) and checked online (red).
    def pass_reads(url, data):
        with CaptureQueriesContext(connection) as seen:
            body = post(client, url, data).json()
        return body, sum('FROM "passes_pass"' in q["sql"] for q in seen.captured_queries)

    body, reads = pass_reads(CHECK, {"token": vtok, "place": cast.compound_a1.pk})
    assert (body["reason_code"], reads) == ("red", 1)
    body, reads = pass_reads(ENTRIES, entry(cast, token=vtok, place=compound_a2.pk))
    assert (body["reason_code"], reads) == ("wrong_place", 1)
    offline = entry(cast, token=vtok, place=compound_a2.pk, offline=True, decision="allowed")
    online = entry(cast, token=vtok)
    body, reads = pass_reads(BATCH, {"entries": [offline, online]})
    assert (body["stored"], reads) == (2, 1)
    assert GateEntry.objects.filter(client_id=offline["client_id"]).values_list(
        "colour", "flagged", "server_check").get() == ("green", True, "wrong_place")
    assert GateEntry.objects.filter(client_id=online["client_id"]).values_list(
        "colour", "decision", "reason_code").get() == ("red", "refused", "red")

    # An approved override whose time is over counts no more, before the worker marks it
    # expired: the person's colour (red, under observation) is back.
    Override.objects.filter(pk=over.pk).update(until=timezone.now() - dt.timedelta(minutes=1))
    assert Override.objects.get(pk=over.pk).state == "approved"
    again = post(client, ENTRIES, entry(cast, token=tok)).json()
    assert (again["decision"], again["reason_code"], again["colour"]) == ("refused", "red", "red")
