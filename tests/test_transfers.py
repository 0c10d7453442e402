"""Transfer requests (issue 15, item 1): an action started in one jurisdiction never reveals
or takes over a person of another. Applying for a return, or registering a person, with an
ID number registered outside the applicant's scope answers as for a new number and sends a
transfer request to the committee where the person is registered; only its acceptance moves
the person. Through HTTP with the fixed cast, then the stored state."""
from __future__ import annotations

import pytest
from django.test import Client

from fangkong.audit.models import AuditEvent
from fangkong.inflow.models import Application, Origin
from fangkong.lib import registry
from fangkong.residents.models import Household, Person, Transfer
from tests.cast import make_id, make_phone

S = Application.State
T = Transfer.State


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def origin(db):
    return Origin.objects.create(name="湖北省武汉市", risk="medium")


def api_apply(user, cast, origin, *, id_number, name, seq=700, key=""):
    payload = {"name": name, "id_number": id_number, "phone": make_phone(seq), "origin_id": origin.pk,
               "place_id": cast.compound_a1.pk, "address": "甲一小区5号楼501室", "client_key": key}
    return as_user(user).post("/api/inflow", data=payload, content_type="application/json")


def _shape(resp) -> tuple:
    """What an answer tells apart: its status and its keys (values differ by nature: ids)."""
    body = resp.json()
    return resp.status_code, tuple(sorted(body)), body["state"], body["person_name"]


@pytest.mark.django_db
def test_unknown_and_not_yours_get_the_same_answer(cast, origin):
    """The unit's liaison types a new number, then the number of another unit's employee
    (and of a resident of no unit, with a wrong name): the same status, the same fields,
    the same state, the name as typed; no person id; nothing of the registered person."""
    new = api_apply(cast.liaison_x, cast, origin, id_number=make_id(701), name="返岗新", seq=701)
    other_unit = api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_b1"], name="返岗新", seq=702)
    no_unit = api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_a2"], name="返岗新", seq=703)
    assert _shape(new) == _shape(other_unit) == _shape(no_unit) == (201, _shape(new)[1], "submitted", "返岗新")
    assert "person_id" not in new.json()
    for resp in (other_unit, no_unit):
        text = resp.content.decode()
        assert "靶子丙" not in text and "靶子乙" not in text
    # Stored: the new number is registered at the destination; the others are not taken.
    assert Application.objects.get(pk=new.json()["id"]).person.name == "返岗新"
    for resp, key in ((other_unit, "person_b1"), (no_unit, "person_a2")):
        app = Application.objects.get(pk=resp.json()["id"])
        assert app.person_id is None and app.transfer.state == T.REQUESTED
        assert app.transfer.person == getattr(cast, key) and app.transfer.typed_name == "返岗新"
    cast.person_b1.refresh_from_db()
    assert cast.person_b1.employer == cast.org_y and cast.person_b1.household == cast.hh_b1
    # The application pages show the same for all three.
    for resp in (new, other_unit, no_unit):
        page = as_user(cast.liaison_x).get(f"/inflow/{resp.json()['id']}/").content.decode()
        assert "返岗新" in page and "靶子" not in page


@pytest.mark.django_db
def test_the_owning_committee_keeps_its_person_while_a_request_waits(cast, origin):
    """Before the fix, the liaison's application took the person and their own committee
    could no longer apply for them. Now the committee applies as usual."""
    assert api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_a2"], name="靶子乙").status_code == 201
    own = api_apply(cast.committee_a, cast, origin, id_number=cast.ids["person_a2"], name="靶子乙", seq=710)
    assert own.status_code == 201
    assert Application.objects.get(pk=own.json()["id"]).person == cast.person_a2


@pytest.mark.django_db
def test_accept_moves_the_person_and_the_application_takes_them(cast, origin):
    resp = api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_b1"], name="靶子丙")
    app = Application.objects.get(pk=resp.json()["id"])
    t = app.transfer
    # The owners (committee B) see it on their to-do list and in their inbox.
    todo = {d.key: d.count for d in registry.todos(cast.committee_b)}
    assert todo.get("residents.transfer") == 1 and "residents.transfer" not in {d.key for d in registry.todos(cast.committee_a)}
    listing = as_user(cast.committee_b).get("/residents/transfers/").content.decode()
    assert "靶子丙" in listing
    detail = as_user(cast.committee_b).get(f"/residents/transfers/{t.pk}/")
    assert detail.status_code == 200 and "乙一网格3号" in detail.content.decode()
    # Wrong role 403, other jurisdiction 404, nothing changed.
    assert as_user(cast.worker_b1).post(f"/residents/transfers/{t.pk}/accept/").status_code == 403
    assert as_user(cast.committee_a).post(f"/residents/transfers/{t.pk}/accept/").status_code == 404
    assert as_user(cast.committee_a).post(f"/api/transfers/{t.pk}/accept", data={},
                                          content_type="application/json").status_code == 404
    assert as_user(cast.liaison_x).post(f"/api/transfers/{t.pk}/accept", data={},
                                        content_type="application/json").status_code == 403
    t.refresh_from_db()
    assert t.state == T.REQUESTED
    # The requester's side does not see the person before acceptance.
    assert as_user(cast.liaison_x).get(f"/residents/{cast.person_b1.pk}/").status_code in (403, 404)

    ok = as_user(cast.committee_b).post(f"/api/transfers/{t.pk}/accept", data={}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["state"] == "accepted"
    person = Person.objects.get(pk=cast.person_b1.pk)
    assert person.household.address == "甲一小区5号楼501室" and person.place == cast.compound_a1
    assert person.employer == cast.org_x
    app.refresh_from_db()
    assert app.person == person and app.state == S.SUBMITTED
    assert as_user(cast.liaison_x).get(f"/residents/{person.pk}/").status_code == 200
    assert as_user(cast.committee_b).post(f"/api/transfers/{t.pk}/decline", data={"reason": "x"},
                                          content_type="application/json").status_code == 409
    actions = set(AuditEvent.objects.filter(object_type__icontains="transfer").values_list("action", flat=True))
    assert {"residents.transfer.request", "residents.transfer.accept"} <= actions


@pytest.mark.django_db
def test_decline_needs_a_reason_and_rejects_the_waiting_application(cast, origin):
    resp = api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_a2"], name="冒名者")
    app = Application.objects.get(pk=resp.json()["id"])
    c = as_user(cast.committee_a)
    page = c.get(f"/residents/transfers/{app.transfer_id}/").content.decode()
    assert "冒名者" in page and "靶子乙" in page  # the owners compare the names
    no_reason = c.post(f"/api/transfers/{app.transfer_id}/decline", data={}, content_type="application/json")
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"
    assert c.post(f"/residents/transfers/{app.transfer_id}/decline/", {"reason": "姓名不符，本人在本社区居住"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.REJECTED and "姓名不符" in app.decision_reason and app.person_id is None
    cast.person_a2.refresh_from_db()
    assert cast.person_a2.household == cast.hh_a2
    sent = as_user(cast.liaison_x).get("/api/transfers/sent").json()
    assert [(s["state"], s["typed_name"]) for s in sent] == [("declined", "冒名者")]


@pytest.mark.django_db
def test_the_requester_withdraws(cast, origin):
    resp = api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_b1"], name="靶子丙")
    app = Application.objects.get(pk=resp.json()["id"])
    # Another side cannot withdraw it (not theirs: 404); the owners cannot either (wrong side).
    assert as_user(cast.committee_b).post(f"/residents/transfers/{app.transfer_id}/withdraw/").status_code == 404
    assert as_user(cast.liaison_x).post(f"/residents/transfers/{app.transfer_id}/withdraw/").status_code == 302
    app.refresh_from_db()
    assert app.transfer.state == T.WITHDRAWN and app.state == S.REJECTED


@pytest.mark.django_db
def test_registering_a_number_of_another_community_sends_a_request(cast):
    """The registry's own form and API: a number registered elsewhere is not created twice
    nor shown; a transfer request goes to its committee."""
    hh = Household.objects.create(place=cast.grid_a2, place_path=cast.grid_a2.path, address="甲二网格20号")
    data = {"name": "靶子丙", "id_number": cast.ids["person_b1"], "phone": make_phone(3), "household_id": hh.pk}
    resp = as_user(cast.committee_a).post("/api/residents", data=data, content_type="application/json")
    assert resp.status_code == 202 and resp.json()["state"] == "requested" and "乙一" not in resp.content.decode()
    t = Transfer.objects.get(pk=resp.json()["id"])
    assert t.person == cast.person_b1 and t.to_place == cast.grid_a2 and t.address == "甲二网格20号"
    page = as_user(cast.worker_a1).post("/residents/new/", {
        "name": "靶子丙", "id_number": cast.ids["person_b1"], "household": cast.hh_a1.pk, "sex": "M",
        "birth_date": "1980-01-01"})
    assert page.status_code == 302 and page["Location"] == "/residents/transfers/"
    assert Transfer.objects.filter(person=cast.person_b1).count() == 2
    assert Person.objects.filter(name="靶子丙").count() == 1
