"""Transfer requests (issue 15, item 1): an action started in one jurisdiction never reveals
or takes over a person of another. Applying for a return, or registering a person, with an
ID number registered outside the applicant's scope answers as for a new number and sends a
transfer request to the committee where the person is registered; only its acceptance moves
the person. Through HTTP with the fixed cast, then the stored state."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

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


# --- From the review: repeats, withdrawals, closed applications, moved persons ------------

@pytest.mark.django_db
def test_a_second_application_answers_as_for_a_new_number(cast, origin):
    new = [api_apply(cast.liaison_x, cast, origin, id_number=make_id(720), name="新人", seq=720 + i) for i in range(2)]
    other = [api_apply(cast.liaison_x, cast, origin, id_number=cast.ids["person_b1"], name="靶子丙", seq=722 + i)
             for i in range(2)]
    assert [r.status_code for r in new] == [r.status_code for r in other] == [201, 409]
    assert new[1].json() == other[1].json()
    assert Transfer.objects.filter(person=cast.person_b1).count() == 1


@pytest.mark.django_db
def test_only_the_requester_withdraws_an_applications_request_and_a_rejection_withdraws_it(cast, origin):
    resp = api_apply(cast.committee_a, cast, origin, id_number=cast.ids["person_b1"], name="靶子丙")
    app = Application.objects.get(pk=resp.json()["id"])
    # A grid worker of the same side cannot reject the application by withdrawing its request.
    assert as_user(cast.worker_a1).post(f"/api/transfers/{app.transfer_id}/withdraw", data={},
                                        content_type="application/json").status_code == 409
    app.refresh_from_db()
    assert app.state == S.SUBMITTED and app.transfer.state == T.REQUESTED
    # Rejected by the committee (after forwarding): the request waiting for it is withdrawn,
    # so the owners cannot move the person for a closed application.
    assert as_user(cast.coordinator).post(f"/api/inflow/{app.pk}/forward", data={}, content_type="application/json").status_code == 200
    assert as_user(cast.committee_a).post(f"/api/inflow/{app.pk}/reject", data={"reason": "行程不明"},
                                          content_type="application/json").status_code == 200
    app.refresh_from_db()
    assert app.state == S.REJECTED and app.transfer.state == T.WITHDRAWN
    assert as_user(cast.committee_b).post(f"/api/transfers/{app.transfer_id}/accept", data={},
                                          content_type="application/json").status_code == 409
    cast.person_b1.refresh_from_db()
    assert cast.person_b1.household == cast.hh_b1


@pytest.mark.django_db
def test_accepting_one_request_ends_the_others_and_the_owners_no_longer_see_the_person(cast, origin):
    from fangkong.residents import transfers

    first = transfers.request(acting_user=cast.committee_a, person=cast.person_b1, typed_name="靶子丙",
                              to_place=cast.grid_a2, address="甲二网格30号", reason="租住")
    second = transfers.request(acting_user=cast.liaison_x, person=cast.person_b1, typed_name="靶子丙",
                               to_place=cast.compound_a1, address="甲一小区9号楼", reason="返岗")
    assert as_user(cast.committee_b).post(f"/residents/transfers/{first.pk}/accept/").status_code == 302
    second.refresh_from_db()
    assert second.state == T.DECLINED and second.decision_reason
    page = as_user(cast.committee_b).get(f"/residents/transfers/{first.pk}/").content.decode()
    assert "甲二网格30号" in page  # where it asked the person to go, as the request said
    assert "现住户" not in page and f"/residents/{cast.person_b1.pk}/" not in page  # not where they live now


@pytest.mark.django_db
def test_an_arrival_while_the_request_waits_asks_the_owners_to_decide(cast, origin):
    from fangkong.notify.models import Recipient

    resp = api_apply(cast.committee_a, cast, origin, id_number=cast.ids["person_b1"], name="靶子丙")
    app = Application.objects.get(pk=resp.json()["id"])
    c = as_user(cast.committee_a)
    assert as_user(cast.coordinator).post(f"/api/inflow/{app.pk}/forward", data={}, content_type="application/json").status_code == 200
    assert c.post(f"/api/inflow/{app.pk}/approve", data={}, content_type="application/json").status_code == 200
    # (The unit's travel link, skipped: a committee's own application has no unit to confirm it.)
    Application.objects.filter(pk=app.pk).update(state=S.TRAVELLING, planned_arrival=timezone.localdate())
    assert c.post(f"/api/inflow/{app.pk}/arrive", data={"temperature": 36.6, "healthy": True},
                  content_type="application/json").status_code == 200
    assert Recipient.objects.filter(user=cast.committee_b, message__kind="inflow.transfer_arrived").count() == 1
    # Accepted: the measure starts for the person.
    assert as_user(cast.committee_b).post(f"/api/transfers/{app.transfer_id}/accept", data={},
                                          content_type="application/json").status_code == 200
    app.refresh_from_db()
    assert app.person == cast.person_b1
    assert app.measure == "home_observation" and cast.person_b1.observations.exists()
