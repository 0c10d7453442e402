"""Clinic pre-screening triage (M18, issue 21 items 6-9): every visitor recorded at a post
(registry person or walk-in, encrypted, no person created), routing policy, fever patients
tracked to an outcome with observation started through the observation module, the gates'
fevers in the same flow (and the old triage records migrated), the CDC's daily export (masked
unless unmasked, audited) and the upstream system's export token (scoped, revocable,
audited), the daily figures and to-dos. Through HTTP with the fixed cast."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from fangkong.accounts.actions import add_grant
from fangkong.audit.models import AuditEvent
from fangkong.clinic import actions
from fangkong.clinic.models import ExportToken, Post, Visit
from fangkong.lib import registry
from fangkong.observation.models import Observation
from fangkong.places.actions import create_organization
from fangkong.residents.models import Person
from tests.cast import make_id, make_user

WALKIN_ID = make_id(777, region="110101", born="19900315")


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post_json(client, url, data, **headers):
    return client.post(url, data=json.dumps(data), content_type="application/json", headers=headers)


@pytest.fixture
def clinic(cast):
    """A clinic in community A with a post at its gate; a medic holding the clinic itself."""
    org = create_organization(acting_user=None, kind="clinic", name="甲社区卫生服务站", code="CLINIC-A",
                              place=cast.comm_a)
    post = actions.create_post(acting_user=cast.commander, clinic=org, name="正门预检分诊点")
    medic = make_user("clinic_medic", [("medic", org)])
    return {"org": org, "post": post, "medic": medic}


def visit(client, post, **kw):
    data = {"client_id": str(uuid.uuid4()), "temperature": "36.6", "route": "general"}
    data.update(kw)
    return post_json(client, f"/api/clinic/posts/{post.pk}/visits", data)


# --- Every visitor at a post ------------------------------------------------------------

@pytest.mark.django_db
def test_walk_in_not_in_the_registry_is_recorded_encrypted_without_a_person(cast, clinic):
    medic = as_user(clinic["medic"])
    persons = Person.objects.count()
    resp = visit(medic, clinic["post"], id_number=WALKIN_ID, name="路人甲", phone="13800001111", address="外省某地",
                 temperature="36.8", route="general")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["id_masked"] == WALKIN_ID[:6] + "********" + WALKIN_ID[-4:] and body["phone_masked"] == "138****1111"
    assert WALKIN_ID not in resp.content.decode() and "13800001111" not in resp.content.decode()
    assert body["registered"] is False and body["state"] == "done" and body["sex"] in ("M", "F") and body["age"] >= 30
    assert Person.objects.count() == persons  # nobody created in any community
    v = Visit.objects.get()
    assert WALKIN_ID.encode() not in bytes(v.id_enc) and v.id_number() == WALKIN_ID and v.phone() == "13800001111"
    assert v.clinic_id == clinic["org"].pk and v.place_path == clinic["org"].place_path and v.masked == "路*甲"
    # By name and phone only (no ID card with them).
    assert visit(medic, clinic["post"], name="张三", phone="13900002222").status_code == 201
    # Neither: a clear error naming the field, nothing stored.
    bad = visit(medic, clinic["post"], name="李四")
    assert bad.status_code == 422 and "id_number" in bad.content.decode()
    assert Visit.objects.count() == 2
    assert AuditEvent.objects.filter(action="clinic.visit").count() == 2


@pytest.mark.django_db
def test_registry_person_is_linked_and_a_resend_is_stored_once(cast, clinic):
    medic = as_user(clinic["medic"])
    cid = str(uuid.uuid4())
    first = visit(medic, clinic["post"], client_id=cid, id_number=cast.ids["person_b1"], temperature="36.5")
    assert first.status_code == 201 and first.json()["registered"] is True
    again = visit(medic, clinic["post"], client_id=cid, id_number=cast.ids["person_b1"], temperature="36.5")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    second = actions.create_post(acting_user=None, clinic=clinic["org"], name="急诊入口")
    elsewhere = visit(medic, second, client_id=cid, id_number=cast.ids["person_b1"])
    assert elsewhere.status_code == 422 and "client_id" in json.dumps(elsewhere.json())
    v = Visit.objects.get()
    assert v.person_id == cast.person_b1.pk and v.name == "靶子丙"
    assert "靶子丙" not in first.content.decode()  # the API answers with the masked name only


@pytest.mark.django_db
@pytest.mark.parametrize("field,value", [("temperature", "45"), ("temperature", "abc"), ("route", "moon"),
                                         ("id_number", "123"), ("phone", "12"), ("symptoms", ["cough", "x"]),
                                         ("age", "200"), ("client_id", "not-a-uuid")])
def test_bad_input_names_the_field_and_stores_nothing(cast, clinic, field, value):
    medic = as_user(clinic["medic"])
    resp = visit(medic, clinic["post"], **{"id_number": cast.ids["person_a1"], field: value})
    assert resp.status_code == 422 and field in json.dumps(resp.json())
    assert not Visit.objects.exists()


@pytest.mark.django_db
def test_a_fever_goes_only_to_the_fever_clinic_or_the_isolation_ward(cast, clinic, alerts):
    medic = as_user(clinic["medic"])
    for route in ("general", "home_observation", "sent_away"):
        resp = visit(medic, clinic["post"], name="王五", phone="13700003333", temperature="38.1", route=route)
        assert resp.status_code == 422 and "route" in json.dumps(resp.json()), route
    ok = visit(medic, clinic["post"], name="王五", phone="13700003333", temperature="38.1", route="fever_clinic",
               symptoms=["cough", "fever"], source_area=True)
    assert ok.status_code == 201 and ok.json()["state"] == "tracking" and ok.json()["high_risk"] is True
    assert ok.json()["symptoms"] == ["fever", "cough"]


@pytest.fixture
def alerts():
    got = []
    sink = registry.register_alert_sink(got.append)
    yield got
    registry._SINKS.remove(sink)


@pytest.mark.django_db
def test_roles_and_scopes_of_the_post(cast, clinic):
    url = f"/api/clinic/posts/{clinic['post'].pk}/visits"
    data = {"client_id": str(uuid.uuid4()), "name": "赵六", "phone": "13600004444", "temperature": "36.5", "route": "general"}
    assert post_json(as_user(cast.committee_a), url, data).status_code == 403  # screening is the medic's
    assert post_json(as_user(cast.guard_a), url, data).status_code == 403
    outsider = make_user("medic_b", [("medic", cast.comm_b)])
    assert post_json(as_user(outsider), url, data).status_code == 404
    assert post_json(as_user(cast.medic_a), url, data).status_code == 201  # a community medic there
    other_clinic = create_organization(acting_user=None, kind="clinic", name="乙诊所", code="CLINIC-B", place=cast.comm_b)
    assert post_json(as_user(clinic["medic"]), f"/api/clinic/posts/{actions.create_post(acting_user=None, clinic=other_clinic, name='门').pk}/visits",
                     data).status_code == 404


# --- The fast screening page ------------------------------------------------------------

@pytest.mark.django_db
def test_screening_page_one_visitor_per_screen(cast, clinic):
    medic = as_user(clinic["medic"])
    url = f"/clinic/posts/{clinic['post'].pk}/"
    page = medic.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="screen-form"' in html and "autofocus" in html
    assert "<script>" not in html and "onclick" not in html and "<style" not in html  # CSP
    assert 'name="client_id"' in html and "clinic/screen.js" in html
    cid = str(uuid.uuid4())
    form = {"client_id": cid, "name": "钱七", "phone": "13500005555", "temperature": "38.4", "route": "sent_away",
            "symptoms": ["cough"], "source_area": "1"}
    bad = medic.post(url, form)
    assert bad.status_code == 400 and 'id="e-route"' in bad.content.decode()
    assert 'value="钱七"' in bad.content.decode() and not Visit.objects.exists()  # what was typed is kept
    good = medic.post(url, {**form, "route": "isolation_ward"})
    assert good.status_code == 302 and good.url == url
    assert medic.post(url, {**form, "route": "isolation_ward"}).status_code == 302  # the same screen sent twice
    v = Visit.objects.get()
    assert (v.route, v.state, v.fever, v.source_area, v.symptoms) == ("isolation_ward", "tracking", True, True, ",cough,")
    assert "钱* ·" in medic.get(url).content.decode() and "钱七" not in medic.get(url).content.decode()  # masked
    home = medic.get("/clinic/")
    assert home.status_code == 200 and clinic["post"].name in home.content.decode()


# --- Fever patients tracked to an outcome -----------------------------------------------

@pytest.mark.django_db
def test_fever_patient_tracked_to_an_outcome_and_observation_started_by_policy(cast, clinic):
    medic = as_user(clinic["medic"])
    body = visit(medic, clinic["post"], id_number=cast.ids["person_a2"], temperature="38.6", route="fever_clinic",
                 contact_confirmed=True).json()
    url = f"/api/clinic/visits/{body['id']}/outcome"
    assert post_json(medic, url, {"action": "test"}).status_code == 422  # the result (or pending) is required
    tested = post_json(medic, url, {"action": "test", "result": "pending"})
    assert tested.status_code == 200 and tested.json()["state"] == "tested"
    assert post_json(medic, url, {"action": "test", "result": "negative"}).status_code == 409  # tested already
    released = post_json(medic, url, {"action": "release", "note": "阴性"})
    assert released.status_code == 200 and released.json()["state"] == "released"
    # Released with a risky history: home observation started through the observation module.
    obs = Observation.objects.get(person=cast.person_a2)
    assert obs.kind == "home_observation" and released.json()["observation_id"] == obs.pk
    assert post_json(medic, url, {"action": "admit"}).status_code == 409  # an outcome is final
    assert list(AuditEvent.objects.filter(action__startswith="clinic.visit.").values_list("action", flat=True)
                .order_by("id")) == ["clinic.visit.test", "clinic.visit.release"]
    assert AuditEvent.objects.filter(action="observation.start").count() == 1
    page = medic.get(f"/clinic/visits/{body['id']}/")
    assert page.status_code == 200 and "/observation/" in page.content.decode()


@pytest.mark.django_db
def test_home_with_observation_starts_it_for_a_registered_person_and_notes_a_walk_in(cast, clinic):
    medic = as_user(clinic["medic"])
    known = visit(medic, clinic["post"], id_number=cast.ids["person_a1"], route="home_observation", source_area=True)
    assert known.status_code == 201 and known.json()["observation_id"]
    assert Observation.objects.get(person=cast.person_a1).kind == "home_observation"
    walkin = visit(medic, clinic["post"], id_number=WALKIN_ID, name="路人乙", route="home_observation")
    assert walkin.status_code == 201 and walkin.json()["observation_id"] is None
    assert "registry" in Visit.objects.get(pk=walkin.json()["id"]).observation_note or "登记" in Visit.objects.get(
        pk=walkin.json()["id"]).observation_note
    assert Observation.objects.count() == 1


@pytest.mark.django_db
def test_queue_and_outcome_pages(cast, clinic):
    medic = as_user(clinic["medic"])
    vid = visit(medic, clinic["post"], name="孙八", phone="13400006666", temperature="39.0", route="fever_clinic").json()["id"]
    page = medic.get("/clinic/queue/")
    assert page.status_code == 200 and "孙*" in page.content.decode() and "孙八" not in page.content.decode()
    done = medic.post(f"/clinic/visits/{vid}/outcome/", {"action": "admit", "note": "收治"})
    assert done.status_code == 302 and Visit.objects.get(pk=vid).state == "admitted"
    again = medic.post(f"/clinic/visits/{vid}/outcome/", {"action": "release"})
    assert again.status_code == 409
    assert as_user(cast.committee_b).post(f"/clinic/visits/{vid}/outcome/", {"action": "release"}).status_code == 404


# --- The gates' fevers in the same flow ---------------------------------------------------

@pytest.mark.django_db
def test_a_gate_fever_waits_in_the_queue_and_is_routed_on_the_page(cast, alerts, django_capture_on_commit_callbacks):
    from tests.test_gates import entry

    guard = as_user(cast.guard_a)
    with django_capture_on_commit_callbacks(execute=True):
        resp = post_json(guard, "/api/gates/entries", entry(cast, temperature="38.9", contact=True))
    v = Visit.objects.get(pk=resp.json()["triage_id"])
    assert (v.origin, v.state, v.contact_source, v.high_risk) == ("gate", "waiting", True, True)
    assert alerts[0].obj_type == "clinic.visit"
    committee = as_user(cast.committee_a)
    assert "38.9" in committee.get("/clinic/queue/").content.decode()
    page = committee.get(f"/clinic/visits/{v.pk}/")
    assert page.status_code == 200 and 'id="route-form"' in page.content.decode()
    bad = committee.post(f"/clinic/visits/{v.pk}/route/", {"route": "home_observation"})
    assert bad.status_code == 400 and Visit.objects.get(pk=v.pk).state == "waiting"
    cleared = committee.post(f"/clinic/visits/{v.pk}/route/", {"route": "cleared", "temperature": "36.9"})
    assert cleared.status_code == 302
    v.refresh_from_db()
    assert (v.state, v.route, v.temperature, v.fever) == ("done", "cleared", Decimal("36.9"), True)
    assert committee.post(f"/clinic/visits/{v.pk}/route/", {"route": "fever_clinic"}).status_code == 409


BEFORE = [("gates", "0003_daily_figures_indexes"), ("clinic", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_gate_triage_records_are_migrated_once_then_their_table_dropped(cast):
    """The database as it was before the clinic triage: the gates' own triage records are
    copied into the clinic's visits by clinic/0002 (once, however often it runs), then
    gates/0004 drops their table; undone, the table comes back with them."""
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = import_module("fangkong.clinic.migrations.0002_gate_triage")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    drop = executor.loader.graph.node_map[("gates", "0004_drop_triage")]
    assert ("clinic", "0002_gate_triage") in {p.key for p in drop.parents}  # the copy runs first
    try:
        executor.migrate(BEFORE)
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        GateEntry, Triage = old.get_model("gates", "GateEntry"), old.get_model("gates", "Triage")
        now = timezone.now()
        place = cast.compound_a1
        entry = GateEntry.objects.create(client_id=uuid.uuid4(), place_id=place.pk, place_path=place.path, direction="in",
                                         temperature=Decimal("38.1"), decision="refused", reason_code="fever",
                                         occurred_at=now, device_time=now, received_at=now, masked="靶*甲")
        open_ = Triage.objects.create(entry=entry, place_id=place.pk, place_path=place.path, masked="靶*甲",
                                      temperature=Decimal("38.1"), travel=True, created_at=now)
        closed = Triage.objects.create(place_id=place.pk, place_path=place.path, temperature=Decimal("37.9"),
                                       state="closed", routed_to="hospital", note="120", closed_by="medic_a",
                                       created_at=now, closed_at=now + dt.timedelta(minutes=20))
        cleared = Triage.objects.create(place_id=place.pk, place_path=place.path, temperature=Decimal("37.5"),
                                        state="closed", routed_to="cleared", created_at=now,
                                        closed_at=now + dt.timedelta(minutes=5))
        migration.forward(old, None)  # a first run by hand: the migration itself must double nothing
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert "gates_triage" not in connection.introspection.table_names()
    by_legacy = {v.legacy_triage_id: v for v in Visit.objects.all()}
    assert set(by_legacy) == {open_.pk, closed.pk, cleared.pk}
    a, b, c = by_legacy[open_.pk], by_legacy[closed.pk], by_legacy[cleared.pk]
    assert (a.state, a.route, a.gate_entry_id, a.source_area, a.origin, a.masked) == ("waiting", "", entry.pk, True, "gate", "靶*甲")
    assert (b.state, b.route, b.routed_at) == ("tracking", "isolation_ward", closed.closed_at) and "medic_a" in b.note
    assert (c.state, c.route) == ("done", "cleared")
    # The migrated fever at the gate is routed in the one flow.
    assert post_json(as_user(cast.medic_a), f"/api/clinic/visits/{a.pk}/route", {"route": "fever_clinic"}).status_code == 200
    # Undone: the gates' table comes back holding the records (as the clinic now has them).
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("gates", "0003_daily_figures_indexes")])
        back = MigrationExecutor(connection).loader.project_state([("gates", "0003_daily_figures_indexes")]).apps
        restored = {t.pk: t for t in back.get_model("gates", "Triage").objects.all()}
        assert set(restored) == {open_.pk, closed.pk, cleared.pk}
        assert (restored[open_.pk].state, restored[open_.pk].entry_id) == ("closed", entry.pk)  # routed just now
        assert restored[closed.pk].routed_to == "hospital" and restored[cleared.pk].routed_to == "cleared"
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert "gates_triage" not in connection.introspection.table_names()


# --- The CDC's report -------------------------------------------------------------------

def _report_day(cast, clinic):
    medic = as_user(clinic["medic"])
    visit(medic, clinic["post"], id_number=WALKIN_ID, name="路人甲", phone="13800001111", address="外省某地",
          temperature="38.2", route="fever_clinic", symptoms=["fever", "cough"], source_area=True, history_note="武汉")
    visit(medic, clinic["post"], name="张三", phone="13900002222", temperature="36.5", route="home_observation",
          contact_confirmed=True)
    visit(medic, clinic["post"], name="常人", phone="13900003333", temperature="36.4", route="general")  # not reported
    return medic


@pytest.mark.django_db
def test_daily_export_masked_unless_unmasked_and_audited(cast, clinic):
    medic = _report_day(cast, clinic)
    day = timezone.localdate().isoformat()
    resp = medic.get(f"/clinic/export/?day={day}&format=xlsx")
    assert resp.status_code == 200 and "spreadsheetml" in resp["Content-Type"]
    rows = list(load_workbook(io.BytesIO(b"".join(resp.streaming_content) if resp.streaming else resp.content),
                              read_only=True).active.iter_rows(values_only=True))
    assert list(rows[0]) == ["序号", "姓名", "性别", "年龄", "身份证号", "联系电话", "现住址", "就诊时间", "体温", "症状",
                             "流行病学史", "分诊去向", "处置结果"]
    assert len(rows) == 3 and rows[1][1] == "路人甲" and rows[1][4] == WALKIN_ID[:6] + "********" + WALKIN_ID[-4:]
    assert rows[1][5] == "138****1111" and rows[1][8] == "38.2" and "武汉" in rows[1][10]
    full = medic.get(f"/clinic/export/?day={day}&format=csv&unmask=1")
    text = b"".join(full.streaming_content).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[1][4] == WALKIN_ID and table[1][5] == "13800001111" and len(table) == 3
    events = list(AuditEvent.objects.filter(action="clinic.export").order_by("id").values_list("detail", flat=True))
    assert [e["unmasked"] for e in events] == [False, True] and events[1]["rows"] == 2
    # The commander may export, never unmasked; other roles not at all.
    commander = as_user(cast.commander)
    csv_text = b"".join(commander.get(f"/clinic/export/?day={day}&format=csv&unmask=1").streaming_content).decode("utf-8-sig")
    assert WALKIN_ID not in csv_text and WALKIN_ID[-4:] in csv_text
    assert as_user(cast.committee_a).get(f"/clinic/export/?day={day}&format=csv").status_code == 403
    assert medic.get("/clinic/export/?day=nope&format=csv").status_code == 400


@pytest.mark.django_db
def test_upstream_system_pulls_with_its_token_scoped_revocable_audited(cast, clinic):
    _report_day(cast, clinic)
    other = create_organization(acting_user=None, kind="clinic", name="乙诊所", code="CLINIC-B", place=cast.comm_b)
    other_post = actions.create_post(acting_user=None, clinic=other, name="门")
    actions.record_visit(acting_user=None, post=other_post, data={"name": "乙病人", "phone": "13911112222",
                                                                 "temperature": "38.8", "route": "fever_clinic"})
    admin = as_user(cast.admin)
    assert as_user(cast.commander).get("/clinic/tokens/").status_code == 403  # the admin's
    made = admin.post("/clinic/tokens/", {"name": "甲社区疾控", "place": cast.comm_a.pk, "unmasked": "1"})
    html = made.content.decode()
    assert made.status_code == 200 and "fkc_" in html
    shown = html[html.index('id="new-secret"'):]
    secret = shown[shown.index("fkc_"):].split("<")[0].strip()
    token = ExportToken.objects.get()
    assert secret not in token.secret_hash and token.unmasked and token.place_path == cast.comm_a.path
    url = f"/api/clinic/report?day={timezone.localdate().isoformat()}"
    anon = Client()
    assert anon.get(url).status_code == 401
    assert anon.get(url, headers={"Authorization": "Bearer fkc_nope_nope"}).status_code == 401
    assert as_user(cast.commander).get(url).status_code == 401  # a session is not a token
    pulled = anon.get(url, headers={"Authorization": f"Bearer {secret}"})
    assert pulled.status_code == 200, pulled.content
    body = pulled.json()
    assert body["system"] == "甲社区疾控" and [r["姓名"] for r in body["rows"]] == ["路人甲", "张三"]  # not community B's
    assert body["rows"][0]["身份证号"] == WALKIN_ID
    event = AuditEvent.objects.get(action="clinic.export.pull")
    assert event.detail["token"] == "甲社区疾控" and event.detail["rows"] == 2 and event.outcome == "ok"
    csv_pull = anon.get(url + "&format=csv", headers={"Authorization": f"Bearer {secret}"})
    assert csv_pull.status_code == 200 and "路人甲" in b"".join(csv_pull.streaming_content).decode("utf-8-sig")
    # The token's own prefix with a wrong secret: 401, audited under the token's name.
    forged = f"fkc_{token.prefix}_" + "x" * 32
    assert anon.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    refused = AuditEvent.objects.get(action="clinic.export.pull", outcome="denied")
    assert refused.detail == {"token": "甲社区疾控", "reason": "wrong secret"}
    assert admin.post(f"/clinic/tokens/{token.pk}/revoke/").status_code == 302
    assert anon.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert as_user(cast.admin).get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert [e.detail["reason"] for e in AuditEvent.objects.filter(action="clinic.export.pull", outcome="denied")
            .order_by("id")] == ["wrong secret", "revoked", "revoked"]
    assert AuditEvent.objects.filter(action="clinic.export.pull", outcome="ok").count() == 2  # json and csv
    assert admin.post(f"/clinic/tokens/{token.pk}/revoke/").status_code == 409
    assert AuditEvent.objects.filter(action__in=["clinic.token.create", "clinic.token.revoke"]).count() == 2
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_report_token_is_a_scheme_of_the_access_module():
    """The pull declares its credential in the API description (the access module's token
    scheme), not as a public operation that checks a header itself."""
    from fangkong.api import api

    schema = api.get_openapi_schema()
    op = schema["paths"]["/api/clinic/report"]["get"]
    assert "x-fangkong-public" not in op
    (name,) = [n for req in op["security"] for n in req]
    scheme = schema["components"]["securitySchemes"][name]
    assert scheme["x-fangkong-token"] == "clinic.report" and scheme["scheme"] == "bearer"


# --- Figures and to-dos -----------------------------------------------------------------

@pytest.mark.django_db
def test_daily_figures_and_todos(cast, clinic):
    from tests.matrix import clinic as clinic_objects

    medic = as_user(clinic["medic"])
    for i in range(3):
        visit(medic, clinic["post"], name=f"人{i}", phone=f"1390000{i:04d}", temperature="36.5", route="general")
    visit(medic, clinic["post"], name="热者", phone="13900009999", temperature="38.0", route="fever_clinic")
    clinic_objects.gate_visit(cast)
    metrics = {m.key: m for m in registry.metrics()}
    today = timezone.localdate()
    assert sum(n for _p, n in metrics["clinic.screened"].counts(today)) == 4
    assert dict(metrics["clinic.screened"].by_org(today)) == {clinic["org"].pk: 4}
    assert sum(n for _p, n in metrics["clinic.fevers_routed"].counts(today)) == 1
    assert sum(n for _p, n in metrics["clinic.tracked"].counts(today)) == 1
    todos = {t.key: t.count for t in registry.todos(cast.medic_a)}
    assert todos["clinic.waiting"] == 1 and todos["clinic.tracking"] == 1
    assert "clinic.waiting" not in {t.key for t in registry.todos(cast.committee_b)}


@pytest.mark.django_db
def test_retention_clears_a_finished_visits_identity_and_keeps_the_figures(cast, clinic):
    from fangkong.clinic import retention

    medic = as_user(clinic["medic"])
    done = visit(medic, clinic["post"], id_number=WALKIN_ID, name="路人甲", phone="13800001111", route="general").json()
    tracked = visit(medic, clinic["post"], name="热者", phone="13900009999", temperature="38.0", route="fever_clinic").json()
    later = timezone.now() + dt.timedelta(days=40)
    assert retention.run(later, health_days=30, link_days=90, dry_run=True) == {"identity": 1}
    assert retention.run(later, health_days=30, link_days=90) == {"identity": 1}
    v = Visit.objects.get(pk=done["id"])
    assert (v.id_enc, v.id_bidx, v.phone_enc, v.name, v.address) == (None, "", None, "", "")
    assert v.id_masked and v.masked == "路*甲" and v.route == "general"  # the masked forms and the figures stay
    assert Visit.objects.get(pk=tracked["id"]).name == "热者"  # still awaiting an outcome
    assert retention.run(later, health_days=30, link_days=90) == {"identity": 0}


@pytest.mark.django_db
def test_odd_requests_get_clear_answers_not_server_errors(cast, clinic):
    medic = as_user(clinic["medic"])
    huge = 2**70
    assert post_json(medic, f"/api/clinic/visits/{huge}/route", {"route": "fever_clinic"}).status_code in (404, 422)
    assert post_json(medic, f"/api/clinic/posts/{huge}/visits", {}).status_code in (404, 422)
    assert medic.get(f"/clinic/visits/{huge}/").status_code == 404
    odd = visit(medic, clinic["post"], name=["x"], phone={"a": 1}, symptoms=5, age=[1], sex=3, temperature=None)
    assert odd.status_code == 422 and not Visit.objects.exists()
    assert medic.get("/api/clinic/visits?state=nope").status_code == 422
    assert Client().get("/api/clinic/report?day=1999-01-01", headers={"Authorization": "Bearer fkc_" + "x" * 200}).status_code == 401
