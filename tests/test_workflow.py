"""The shared workflow helpers through HTTP: an action's refusal is one answer everywhere
(422 naming the field / 409 with the reason in the API, 400 / 409 with the message on the
page), a transition not allowed from the record's state is refused with the reason and
changes nothing, the buttons of a page are the transitions the user may take, and of two
concurrent transitions of one record exactly one wins (also on a table without a version
column)."""
from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.clinic.models import Visit
from fangkong.inflow.models import Application, Origin
from fangkong.residents.models import Household
from tests.cast import make_id, make_phone
from tests.test_passes import as_user, post_json

S = Application.State


@pytest.fixture
def app(cast):
    """An application of the unit, submitted (link 1) and not yet forwarded."""
    origin = Origin.objects.create(name="湖北省武汉市", risk="medium")
    resp = as_user(cast.liaison_x).post("/inflow/apply/", {
        "name": "返岗甲", "id_number": make_id(601), "phone": make_phone(601), "origin": origin.pk,
        "place": cast.compound_a1.pk, "address": "甲一小区2号楼201室", "purpose": "返岗", "transport": "自驾"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    return Application.objects.get()


@pytest.mark.django_db
def test_the_api_answers_refusals_in_one_shape(cast, app):
    committee = as_user(cast.committee_a)
    # A transition not allowed in the current state: 409, the reason (in Chinese), nothing changed.
    resp = post_json(committee, f"/api/inflow/{app.pk}/approve", {})
    assert resp.status_code == 409 and resp.json() == {"detail": "无法审核通过：申请当前状态为已提交"}
    app.refresh_from_db()
    assert (app.state, app.version) == (S.SUBMITTED, 1)
    assert post_json(as_user(cast.coordinator), f"/api/inflow/{app.pk}/forward", {}).json()["state"] == S.FORWARDED
    # Bad input of an action: 422, one entry per field with its message.
    resp = post_json(committee, f"/api/inflow/{app.pk}/reject", {"reason": " "})
    assert resp.status_code == 422 and resp.json() == {"detail": [{"field": "reason", "message": "请填写原因"}]}
    # A conflict raised by an operation itself has the same shape.
    Household.objects.create(place=cast.grid_a1, place_path=cast.grid_a1.path, address="甲一网格1号")
    resp = post_json(committee, "/api/households", {"place_id": cast.grid_a1.pk, "address": "甲一网格1号"})
    assert resp.status_code == 409 and resp.json() == {"detail": "a household with this address already exists here"}
    # ... and so does bad input found by an operation before any action.
    resp = committee.get("/api/inflow-stats?date_from=2026-02-01&date_to=2026-01-01")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "date_to"
    app.refresh_from_db()
    assert (app.state, app.version) == (S.FORWARDED, 2)


@pytest.mark.django_db
def test_pages_show_the_refusal_with_its_status(cast, app):
    committee = as_user(cast.committee_a)
    resp = committee.post(f"/inflow/{app.pk}/approve/")
    assert resp.status_code == 409 and "无法审核通过：申请当前状态为已提交" in resp.content.decode()
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    resp = committee.post(f"/inflow/{app.pk}/reject/", {"reason": ""})
    assert resp.status_code == 400 and "请填写原因" in resp.content.decode()
    # A form page: the action's message stands beside its field, the data stays in the form.
    resp = as_user(cast.liaison_x).post("/inflow/apply/", {
        "name": "返岗乙", "id_number": make_id(602), "phone": make_phone(602), "origin": app.origin_id,
        "place": cast.compound_a1.pk, "address": "电话13812345678", "purpose": "", "transport": ""})
    body = resp.content.decode()
    assert resp.status_code == 400 and 'id="address-errors"' in body and "电话13812345678" in body
    # The same person applying twice: a conflict, on the form with 409.
    resp = as_user(cast.liaison_x).post("/inflow/apply/", {
        "name": "返岗甲", "id_number": make_id(601), "phone": make_phone(601), "origin": app.origin_id,
        "place": cast.compound_a1.pk, "address": "甲一小区2号楼201室", "purpose": "", "transport": ""})
    assert resp.status_code == 409 and "此人已有一份办理中的申请" in resp.content.decode()
    assert Application.objects.count() == 1
    app.refresh_from_db()
    assert app.state == S.FORWARDED


@pytest.mark.django_db
def test_the_buttons_are_the_transitions_the_user_may_take(cast, app):
    url = f"/inflow/{app.pk}/"

    def buttons(user):
        body = as_user(user).get(url).content.decode()
        return {name for name in ("forward", "approve", "reject", "request-info", "travel", "arrive")
                if f"/inflow/{app.pk}/{name}/" in body}

    assert buttons(cast.coordinator) == {"forward"}
    assert buttons(cast.committee_a) == set()  # it waits for the coordination department
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    assert buttons(cast.committee_a) == {"approve", "reject", "request-info"}
    assert buttons(cast.coordinator) == set()  # reviewing is the committee's
    assert as_user(cast.committee_b).get(url).status_code == 404
    as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/")
    assert buttons(cast.liaison_x) == {"travel"} and buttons(cast.committee_a) == set()


def _close_triage_twice_at_once(cast):
    triage = Visit.objects.create(client_id=uuid.uuid4(), origin="gate", place=cast.compound_a1,
                                  place_path=cast.compound_a1.path, masked="靶*甲", temperature="38.5", fever=True,
                                  state="waiting", occurred_at=timezone.now())
    barrier = threading.Barrier(2)
    codes = {}

    def go(route):
        c = as_user(cast.medic_a)
        barrier.wait()
        codes[route] = post_json(c, f"/api/clinic/visits/{triage.pk}/route", {"route": route}).status_code
        connection.close()

    threads = [threading.Thread(target=go, args=(route,)) for route in ("fever_clinic", "isolation_ward")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return triage, codes


@pytest.mark.django_db(transaction=True)
def test_two_closes_of_one_triage_at_once_one_wins():
    """A gate's fever routed twice at once (clinic triage; no version column): the row lock and
    the state condition alone serialize."""
    from tests.cast import build_cast

    triage, codes = _close_triage_twice_at_once(build_cast())
    assert sorted(codes.values()) == [200, 409], codes
    winner = next(route for route, code in codes.items() if code == 200)
    triage.refresh_from_db()
    assert (triage.state, triage.route) == ("tracking", winner)
    assert AuditEvent.objects.filter(action="clinic.visit.route").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("moved", ["version", "state"])
def test_a_row_changed_under_the_transition_is_a_conflict_and_stays_as_it_was(cast, app, moved):
    """apply_transition's conditional update: when the row's version or state moved after
    it was read (another writer, on a database or path that did not serialize them), the
    update matches nothing, the answer is Conflict(changed) and the row keeps the other
    writer's values. (On SQLite the transactions are serialized, so two threads never reach
    this path; the check below makes the other writer's move inside the lock.)"""
    from fangkong.inflow import actions
    from fangkong.lib.workflow import Conflict, apply_transition

    def other_writer(current):
        values = {"version": current.version + 5} if moved == "version" else {"state": S.FORWARDED}
        Application.objects.filter(pk=current.pk).update(**values)

    with pytest.raises(Conflict, match="changed by someone else"):
        apply_transition(Application.objects.all(), app, actions.TRANSITIONS["forward"], refused="not %(state)s",
                         changed="changed by someone else", check=other_writer)
    stored = Application.objects.get(pk=app.pk)
    if moved == "version":
        assert (stored.state, stored.version, stored.forwarded_at) == (S.SUBMITTED, app.version + 5, None)
    else:
        assert (stored.state, stored.version) == (S.FORWARDED, app.version)


@pytest.mark.django_db
def test_a_schema_refusal_has_the_same_shape_as_an_actions(cast):
    """ninja's own 422 (a field missing or of the wrong type) names the field like an
    action's Invalid does: one shape for every 422 of the API."""
    api = as_user(cast.committee_a)
    resp = post_json(api, "/api/passes/resident", {"id_number": "x", "days": "many"})
    assert resp.status_code == 422
    assert resp.json() == {"detail": [{"field": "days", "message": resp.json()["detail"][0]["message"]}]}
    resp = post_json(api, "/api/passes/resident", {"id_number": "x", "days": 5})  # the action's own refusal
    assert resp.status_code == 422 and [d["field"] for d in resp.json()["detail"]] == ["id_number"]
    resp = api.get("/api/inflow?offset=abc")  # a query parameter
    assert resp.status_code == 422 and [d["field"] for d in resp.json()["detail"]] == ["offset"]
