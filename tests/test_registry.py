"""Resident registry through the pages and the API: search, detail, create, edit,
duplicates, masking and audited unmasking."""
from __future__ import annotations

import json

import pytest

from fangkong.audit.models import AuditEvent
from fangkong.lib import crypto
from fangkong.residents.models import Household, Person
from tests.cast import make_id, make_phone


def events(user, action):
    return AuditEvent.objects.filter(user=user, action=action)


# --- Search and list ----------------------------------------------------------------------

def test_list_shows_only_own_jurisdiction_masked(cast, login):
    client = login(cast.committee_a)
    resp = client.get("/residents/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "靶子甲" in body and "靶子乙" in body and "靶子丙" not in body
    assert cast.persons["person_a1"].id_masked in body
    assert cast.ids["person_a1"] not in body and cast.phones["person_a1"] not in body
    assert resp["Cache-Control"] == "no-store"
    assert events(cast.committee_a, "person.list").exists()


@pytest.mark.parametrize("how", ["id", "id_lower_x_spaces", "phone", "name", "name_part"])
def test_search_by_exact_id_phone_or_name(cast, login, how):
    client = login(cast.committee_a)
    q = {
        "id": cast.ids["person_a1"],
        "id_lower_x_spaces": " " + cast.ids["person_a1"].lower() + " ",
        "phone": cast.phones["person_a1"],
        "name": "靶子甲",
        "name_part": "子甲",
    }[how]
    body = client.post("/residents/", {"q": q}).content.decode()
    assert "靶子甲" in body and "靶子乙" not in body
    # The raw search term is not kept in the audit log.
    detail = json.dumps(list(events(cast.committee_a, "person.list").values_list("detail", flat=True)), ensure_ascii=False)
    assert cast.ids["person_a1"] not in detail and cast.phones["person_a1"] not in detail


def test_search_text_is_never_read_from_the_url(cast, login):
    body = login(cast.committee_a).get("/residents/", {"q": "靶子甲"}).content.decode()
    assert "靶子乙" in body  # q in a URL is ignored: the full list is shown
    page = login(cast.committee_a).get("/residents/").content.decode()
    assert 'method="post"' in page and 'name="q"' in page


def test_search_by_id_of_other_jurisdiction_finds_nothing(cast, login):
    body = login(cast.committee_a).post("/residents/", {"q": cast.ids["person_b1"]}).content.decode()
    assert "靶子丙" not in body


def test_filters_grid_and_tag_and_pagination(cast, login):
    client = login(cast.committee_a)
    body = client.get("/residents/", {"place": cast.grid_a2.pk}).content.decode()
    assert "靶子乙" in body and "靶子甲" not in body
    body = client.get("/residents/", {"tag": "elderly_alone"}).content.decode()
    assert "靶子甲" in body and "靶子乙" not in body
    # A place outside the user's scope is ignored, never used to widen the search.
    body = client.get("/residents/", {"place": cast.grid_b1.pk}).content.decode()
    assert "靶子丙" not in body
    from fangkong.residents.actions import create_person
    from fangkong.residents.validation import validate_person

    for i in range(30):
        clean, _ = validate_person({"name": "翻页", "id_number": make_id(700 + i), "phone": ""})
        create_person(acting_user=None, clean=clean, household=cast.hh_a2)
    page1 = client.post("/residents/", {"q": "翻页"}).content.decode()
    page2 = client.post("/residents/", {"q": "翻页", "page": 2}).content.decode()
    assert page1.count(">翻页<") == 25 and page2.count(">翻页<") == 5
    # htmx requests get only the results fragment
    frag = client.post("/residents/", {"q": "翻页"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results").content.decode()
    assert "<html" not in frag and ">翻页<" in frag


def test_grid_worker_sees_only_own_grid(cast, login):
    body = login(cast.worker_a1).get("/residents/").content.decode()
    assert "靶子甲" in body and "靶子乙" not in body


def test_unit_liaison_sees_own_staff_only(cast, login):
    client = login(cast.liaison_x)
    body = client.get("/residents/").content.decode()
    assert "靶子甲" in body and "靶子乙" not in body and "靶子丙" not in body
    assert client.get(f"/residents/{cast.person_b1.pk}/").status_code == 404


def test_user_without_grant_sees_nothing(cast, login):
    client = login(cast.nogrant)
    assert client.get("/residents/").status_code == 403
    assert client.get(f"/residents/{cast.person_a1.pk}/").status_code == 403
    home = client.get("/")
    assert home.status_code == 200 and "靶子" not in home.content.decode()


# --- Detail and unmask ----------------------------------------------------------------

def test_detail_masked_and_audited(cast, login):
    client = login(cast.committee_a)
    resp = client.get(f"/residents/{cast.person_a1.pk}/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "370102********" in body and cast.ids["person_a1"] not in body
    assert "139****0001" in body and cast.phones["person_a1"] not in body
    assert events(cast.committee_a, "person.view").filter(object_id=str(cast.person_a1.pk)).exists()
    assert login(cast.committee_b).get(f"/residents/{cast.person_a1.pk}/").status_code == 404
    assert login(cast.committee_b).get("/residents/999999/").status_code == 404


def test_unmask_needs_permission_and_is_audited_without_the_number(cast, login):
    client = login(cast.committee_a)
    resp = client.post(f"/residents/{cast.person_a1.pk}/unmask/", {"reason": "核对身份"})
    assert resp.status_code == 200 and cast.ids["person_a1"] in resp.content.decode()
    ev = events(cast.committee_a, "person.unmask").get()
    assert ev.object_id == str(cast.person_a1.pk) and ev.detail["reason"] == "核对身份" and ev.ip == "127.0.0.1"
    assert cast.ids["person_a1"] not in json.dumps(ev.detail)
    assert login(cast.worker_a1).post(f"/residents/{cast.person_a1.pk}/unmask/").status_code == 403
    assert login(cast.committee_b).post(f"/residents/{cast.person_a1.pk}/unmask/").status_code == 404
    assert login(cast.committee_a).get(f"/residents/{cast.person_a1.pk}/unmask/").status_code == 405


# --- Create and edit through the pages ----------------------------------------------------

def test_create_person_form(cast, login):
    client = login(cast.committee_a)
    assert client.get("/residents/new/").status_code == 200
    resp = client.post("/residents/new/", {"name": "新居民", "id_number": make_id(800), "phone": "138 0013 8000",
                                           "household": cast.hh_a2.pk, "tags": ["tenant", "floating"]})
    assert resp.status_code == 302
    p = Person.objects.get(name="新居民")
    assert p.id_bidx == crypto.blind_index("id", make_id(800)) and p.phone() == "13800138000"
    assert p.sex == "F" and p.birth_date.isoformat() == "1980-01-01" and p.tag_list == ["tenant", "floating"]
    assert p.place == cast.grid_a2 and p.household == cast.hh_a2
    assert events(cast.committee_a, "person.create").filter(object_id=str(p.pk)).exists()


@pytest.mark.parametrize("field,value,fragment", [
    ("id_number", "370102198001010001", "id_number"),       # bad checksum
    ("id_number", "3701021980", "id_number"),               # too short
    ("id_number", "370102198013010012", "id_number"),       # month 13
    ("phone", "12345", "phone"),
    ("name", "", "name"),
    ("name", "=cmd|' /C calc'!A0", "name"),
    ("sex", "M", "sex"),                                    # ID says female
    ("birth_date", "1999-01-01", "birth_date"),             # ID says 1980
    ("birth_date", "not a date", "birth_date"),
])
def test_create_person_field_errors(cast, login, field, value, fragment):
    client = login(cast.committee_a)
    data = {"name": "错误", "id_number": make_id(810), "phone": "", "household": cast.hh_a2.pk}
    data[field] = value
    n = Person.objects.count()
    resp = client.post("/residents/new/", data)
    assert resp.status_code == 400
    assert f'id="{fragment}-errors"' in resp.content.decode()
    assert Person.objects.count() == n


def test_create_duplicate_id_points_to_existing(cast, login):
    client = login(cast.committee_a)
    resp = client.post("/residents/new/", {"name": "重复", "id_number": cast.ids["person_a2"], "household": cast.hh_a1.pk})
    assert resp.status_code == 409
    assert f'/residents/{cast.person_a2.pk}/' in resp.content.decode()
    # Someone registered outside the user's scope: no pointer, no second person; a transfer
    # request goes to their committee (tests/test_transfers.py).
    resp = client.post("/residents/new/", {"name": "重复", "id_number": cast.ids["person_b1"], "household": cast.hh_a1.pk})
    assert resp.status_code == 302 and resp["Location"] == "/residents/transfers/"
    assert f"/residents/{cast.person_b1.pk}/" not in client.get(resp["Location"]).content.decode()
    assert Person.objects.filter(name="重复").count() == 0


def test_create_in_other_jurisdiction_household_refused(cast, login):
    resp = login(cast.committee_a).post("/residents/new/", {"name": "越界", "id_number": make_id(820), "household": cast.hh_b1.pk})
    assert resp.status_code == 400 and not Person.objects.filter(name="越界").exists()


def test_edit_person(cast, login):
    client = login(cast.committee_a)
    pk = cast.person_a2.pk
    assert client.get(f"/residents/{pk}/edit/").status_code == 200
    resp = client.post(f"/residents/{pk}/edit/", {"name": "靶子乙改", "id_number": "", "phone": "", "household": cast.hh_a1.pk, "note": "搬家"})
    assert resp.status_code == 302
    p = Person.objects.get(pk=pk)
    assert p.name == "靶子乙改" and p.household == cast.hh_a1 and p.place == cast.compound_a1 and p.version == 2
    assert p.id_number() == cast.ids["person_a2"] and p.phone() == cast.phones["person_a2"]  # kept
    assert events(cast.committee_a, "person.update").get().detail["fields"] == ["name", "note", "household"]
    # Sex contradicting the stored ID is refused.
    resp = client.post(f"/residents/{pk}/edit/", {"name": "靶子乙改", "sex": "M"})
    assert resp.status_code == 400
    assert login(cast.committee_b).post(f"/residents/{pk}/edit/", {"name": "x"}).status_code == 404
    assert login(cast.medic_a).post(f"/residents/{pk}/edit/", {"name": "x"}).status_code == 403


def test_household_pages(cast, login):
    client = login(cast.committee_a)
    body = client.get(f"/households/{cast.hh_a1.pk}/").content.decode()
    assert "甲一小区1号楼101室" in body and "靶子甲" in body
    resp = client.post("/households/new/", {"place": cast.grid_a2.pk, "address": "甲二网格10号", "tenure": "rented"})
    assert resp.status_code == 302
    assert Household.objects.get(address="甲二网格10号").place_path == cast.grid_a2.path
    resp = client.post("/households/new/", {"place": cast.grid_a2.pk, "address": "甲二网格10号", "tenure": "rented"})
    assert resp.status_code == 400  # same address twice
    resp = client.post("/households/new/", {"place": cast.grid_b1.pk, "address": "越界1号", "tenure": "owned"})
    assert resp.status_code == 400 and not Household.objects.filter(address="越界1号").exists()
    assert login(cast.committee_b).get(f"/households/{cast.hh_a1.pk}/").status_code == 404


def test_household_edit_moves_members(cast, login):
    client = login(cast.committee_a)
    hh = cast.hh_a2
    assert client.get(f"/households/{hh.pk}/edit/").status_code == 200
    resp = client.post(f"/households/{hh.pk}/edit/", {"place": cast.grid_a1.pk, "address": "甲一网格9号", "tenure": "rented"})
    assert resp.status_code == 302
    hh.refresh_from_db()
    assert (hh.place, hh.address, hh.tenure) == (cast.grid_a1, "甲一网格9号", "rented")
    cast.person_a2.refresh_from_db()
    assert cast.person_a2.place_path == cast.grid_a1.path  # the member moved with the household
    assert events(cast.committee_a, "household.update").get().detail["fields"] == ["place", "address", "tenure"]
    # errors: empty address, an existing address, a place outside the scope
    for data, field in (({"place": cast.grid_a1.pk, "address": "  ", "tenure": "owned"}, "address"),
                        ({"place": cast.compound_a1.pk, "address": "甲一小区1号楼101室", "tenure": "owned"}, "address"),
                        ({"place": cast.grid_b1.pk, "address": "x", "tenure": "owned"}, "place")):
        resp = client.post(f"/households/{hh.pk}/edit/", data)
        assert resp.status_code == 400 and f'id="{field}-errors"' in resp.content.decode()
    hh.refresh_from_db()
    assert hh.address == "甲一网格9号"
    assert login(cast.worker_b1).post(f"/households/{hh.pk}/edit/", {}).status_code == 404
    assert login(cast.medic_a).post(f"/households/{hh.pk}/edit/", {}).status_code == 403


# --- API ------------------------------------------------------------------------------------

def test_api_list_get_create_patch_unmask(cast, login):
    client = login(cast.committee_a)
    data = client.post("/api/residents/search", json.dumps({"q": cast.ids["person_a1"]}), content_type="application/json").json()
    assert data["count"] == 1 and data["items"][0]["name"] == "靶子甲"
    item = data["items"][0]
    assert client.get("/api/residents").json()["count"] == 2
    assert client.get("/api/residents", {"tag": "nope"}).status_code == 422
    assert item["id_masked"].startswith("370102****") and "id_number" not in item
    assert client.get(f"/api/residents/{cast.person_a1.pk}").json()["phone_masked"] == "139****0001"
    assert client.get(f"/api/residents/{cast.person_b1.pk}").status_code == 404

    body = {"name": "接口", "id_number": make_id(900), "phone": "13912345678", "household_id": cast.hh_a2.pk, "tags": ["tenant"]}
    resp = client.post("/api/residents", json.dumps(body), content_type="application/json")
    assert resp.status_code == 201, resp.content
    pk = resp.json()["id"]
    assert Person.objects.get(pk=pk).phone() == "13912345678"
    resp = client.post("/api/residents", json.dumps(body), content_type="application/json")
    assert resp.status_code == 409 and str(pk) in resp.json()["detail"]

    bad = dict(body, id_number="123", phone="x", tags=["nope"])
    resp = client.post("/api/residents", json.dumps(bad), content_type="application/json")
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["detail"]} == {"id_number", "phone", "tags"}

    resp = client.patch(f"/api/residents/{pk}", json.dumps({"note": "已核实"}), content_type="application/json")
    assert resp.status_code == 200 and resp.json()["note"] == "已核实" and resp.json()["version"] == 2
    resp = client.patch(f"/api/residents/{pk}", json.dumps({"sex": "M"}), content_type="application/json")
    assert resp.status_code == 422  # make_id gives a female ID

    resp = client.post(f"/api/residents/{pk}/unmask", json.dumps({"reason": "核对"}), content_type="application/json")
    assert resp.json() == {"id_number": make_id(900), "phone": "13912345678"}
    assert events(cast.committee_a, "person.unmask").count() == 1


def test_api_roles_and_scopes(cast, login):
    body = json.dumps({"name": "越权", "id_number": make_id(910), "household_id": cast.hh_a2.pk})
    assert login(cast.medic_a).post("/api/residents", body, content_type="application/json").status_code == 403
    assert login(cast.committee_b).post("/api/residents", body, content_type="application/json").status_code == 404
    assert login(cast.worker_a1).post("/api/residents", body, content_type="application/json").status_code == 404  # A2 is not their grid
    from django.test import Client

    assert Client().get("/api/residents").status_code == 401
    assert not Person.objects.filter(name="越权").exists()


def test_api_households_and_places(cast, login):
    client = login(cast.committee_a)
    addrs = {h["address"] for h in client.get("/api/households").json()}
    assert addrs == {"甲一小区1号楼101室", "甲二网格8号"}
    resp = client.post("/api/households", json.dumps({"place_id": cast.grid_a1.pk, "address": "甲一网格5号"}), content_type="application/json")
    assert resp.status_code == 201
    resp = client.post("/api/households", json.dumps({"place_id": cast.grid_a1.pk, "address": "甲一网格5号"}), content_type="application/json")
    assert resp.status_code == 409
    resp = client.post("/api/households", json.dumps({"place_id": cast.grid_b1.pk, "address": "乙"}), content_type="application/json")
    assert resp.status_code == 404
    codes = {p["code"] for p in client.get("/api/places").json()}
    assert codes == {"A", "A1", "A2", "A1Y"}
    assert client.get("/api/me").json() == {"username": "committee_a", "roles": ["committee"]}


def test_openapi_docs_available(cast, login):
    client = login(cast.committee_a)
    schema = client.get("/api/openapi.json").json()
    assert "/api/residents" in schema["paths"]
    assert client.get("/api/docs").status_code == 200


def test_403_and_404_pages_explain_in_chinese(cast, login):
    resp = login(cast.nogrant).get("/residents/")
    assert resp.status_code == 403 and "无权访问" in resp.content.decode()
    resp = login(cast.committee_b).get(f"/residents/{cast.person_a1.pk}/")
    body = resp.content.decode()
    assert resp.status_code == 404 and "未找到" in body and "靶子甲" not in body


from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_the_importers_bound_encryption_and_blind_indexes_equal_the_plain_ones(value):
    """crypto.encryptor / blind_indexer (one key lookup per import) make what encrypt /
    blind_index make: the same index, a ciphertext decrypt() reads, a fresh nonce each."""
    enc = crypto.encryptor()
    for kind in ("id", "phone"):
        assert crypto.blind_indexer(kind)(value) == crypto.blind_index(kind, value)
    a, b = enc(value), enc(value)
    assert crypto.decrypt(a) == crypto.decrypt(b) == value and a != b and a[:1] == crypto.encrypt(value)[:1]
