"""Self-declaration beside grid watch (M7) through HTTP as its users drive it: the committee
prints its community's QR code; a resident declares on the public page; the grid worker
verifies; a declaration found false or a confirmed grid-watch finding becomes a credit
entry; the person sees it by their personal link and appeals; the committee decides. Then
the stored state, the audit trail, the notifications and the daily figures."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.declarations import actions
from fangkong.declarations.models import Appeal, CreditEntry, Declaration, Finding, Point
from fangkong.lib import crypto
from fangkong.notify.models import Recipient
from tests.cast import make_id, make_phone
from tests.matrix.declarations import declaration_data

UNREGISTERED_ID = make_id(777)
BAD_CHECKSUM = make_id(5)[:-1] + ("0" if make_id(5)[-1] != "0" else "1")


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post_json(client, url, payload, **kw):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **kw)


def make_point(cast, place=None) -> Point:
    return actions.ensure_point(acting_user=cast.committee_a, place=place or cast.comm_a)


def form(cast, key="person_a1", *, client_key="", travel=(), **extra) -> dict:
    """The POST body of the public page."""
    d = declaration_data(cast, key, **extra)
    body = {k: v for k, v in d.items() if k != "travel"}
    body["client_key"] = client_key
    for i, row in enumerate(travel):
        body[f"travel_place_{i}"], body[f"travel_from_{i}"], body[f"travel_to_{i}"] = row
    return body


def declare(cast, point, key="person_a1", client=None, **extra):
    return (client or Client()).post(f"/d/{point.code}/", form(cast, key, **extra))


def submit(cast, key="person_a1", ip="10.0.0.1", matched=True, **extra) -> Declaration:
    """A declaration from the public page; `matched`: then matched by the committee (who
    checked with the person), as one must be before it can be found false."""
    decl = actions.submit(point=make_point(cast), data=declaration_data(cast, key, **extra), client_ip=ip)
    if matched:
        assert as_user(cast.committee_a).post(f"/declarations/{decl.pk}/match/").status_code == 302
        decl.refresh_from_db()
    return decl


# --- The committee's QR code -------------------------------------------------------------

@pytest.mark.django_db
def test_committee_creates_and_prints_the_community_qr_code(cast):
    c = as_user(cast.committee_a)
    page = c.get("/declarations/points/")
    assert page.status_code == 200 and "甲社区" in page.content.decode() and "乙社区" not in page.content.decode()
    resp = c.post("/declarations/points/", {"place": cast.comm_a.pk})
    point = Point.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/declarations/points/{point.pk}/"
    assert point.place_id == cast.comm_a.pk and len(point.code) >= 20 and str(cast.comm_a.pk) != point.code
    printed = c.get(resp["Location"]).content.decode()
    assert "<svg" in printed and f"/d/{point.code}/" in printed
    # Once per community: a second request gives the same code.
    c.post("/declarations/points/", {"place": cast.comm_a.pk})
    assert Point.objects.count() == 1
    # Another community's place is not a choice for A's committee; a grid is not a community.
    assert c.post("/declarations/points/", {"place": cast.comm_b.pk}).status_code == 400
    assert c.post("/declarations/points/", {"place": cast.grid_a1.pk}).status_code == 400
    assert Point.objects.count() == 1
    assert as_user(cast.committee_b).get(f"/declarations/points/{point.pk}/").status_code == 404
    assert as_user(cast.worker_a1).get("/declarations/points/").status_code == 403
    assert c.get("/d/not-a-real-code-0123456789/").status_code == 404
    # A leaked code is replaced: the old one stops working at once.
    old = point.code
    assert Client().get(f"/d/{old}/").status_code == 200
    assert as_user(cast.worker_a1).post(f"/declarations/points/{point.pk}/renew/").status_code == 403
    assert as_user(cast.committee_b).post(f"/declarations/points/{point.pk}/renew/").status_code == 404
    assert c.get(f"/declarations/points/{point.pk}/renew/").status_code == 405
    assert c.post(f"/declarations/points/{point.pk}/renew/").status_code == 302
    point.refresh_from_db()
    assert point.code != old and Client().get(f"/d/{old}/").status_code == 404
    assert Client().get(f"/d/{point.code}/").status_code == 200


# --- The public page -----------------------------------------------------------------------

@pytest.mark.django_db
def test_public_declaration_is_stored_encrypted_matched_and_told_to_the_grid(cast, django_capture_on_commit_callbacks):
    point = make_point(cast)
    anon = Client(enforce_csrf_checks=True)
    page = anon.get(f"/d/{point.code}/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "健康自我申报" in html and "甲社区" in html and "csrfmiddlewaretoken" in html
    # Without the CSRF token the form is refused.
    assert anon.post(f"/d/{point.code}/", form(cast)).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    today = timezone.localdate()
    body = form(cast, symptoms=["fever", "cough"], temperature="38.2", risk_area="yes",
                travel=[("武汉市", (today - dt.timedelta(days=5)).isoformat(), (today - dt.timedelta(days=2)).isoformat())])
    with django_capture_on_commit_callbacks(execute=True):
        resp = anon.post(f"/d/{point.code}/", {**body, "csrfmiddlewaretoken": token})
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    receipt = resp.content.decode()
    decl = Declaration.objects.get()
    plain_id, plain_phone = cast.ids["person_a1"], cast.phones["person_a1"]
    assert decl.serial in receipt and decl.id_masked in receipt and "申报已收到" in receipt
    assert plain_id not in receipt and plain_phone not in receipt
    # Stored: anyone's word until checked with the person, so not matched, but routed to the
    # grid of the person registered with that number; numbers only encrypted.
    assert decl.person_id is None and decl.place_path == cast.person_a1.place_path
    assert decl.id_bidx == crypto.blind_index("id", plain_id) and decl.id_number() == plain_id
    assert crypto.decrypt(decl.phone_enc) == plain_phone and decl.phone_masked == "139****0001"
    assert plain_id.encode() not in bytes(decl.id_enc) and plain_phone.encode() not in bytes(decl.phone_enc)
    assert (decl.risk, decl.risk_area, decl.symptom_list, str(decl.temperature)) == (True, True, ["fever", "cough"], "38.2")
    assert decl.travel == [{"place": "武汉市", "from": (today - dt.timedelta(days=5)).isoformat(),
                            "to": (today - dt.timedelta(days=2)).isoformat()}]
    # A risk reaches the grid worker of the person's grid, not the other grid's.
    assert Recipient.objects.filter(user=cast.worker_a1, message__kind="declarations.risk").count() == 1
    assert not Recipient.objects.filter(user=cast.worker_b1).exists()
    # The grid worker's queue lists it; the other grid's worker does not see it.
    queue = as_user(cast.worker_a1).get("/declarations/").content.decode()
    assert decl.serial in queue or "靶子甲" in queue
    assert as_user(cast.worker_b1).get(f"/declarations/{decl.pk}/").status_code == 404
    assert "靶子甲" not in as_user(cast.worker_b1).get("/declarations/").content.decode()
    # Nothing in the audit trail carries the raw numbers.
    for e in AuditEvent.objects.all():
        text = json.dumps(e.detail, ensure_ascii=False)
        assert plain_id not in text and plain_phone not in text


@pytest.mark.django_db
@pytest.mark.parametrize("field,value,message", [
    ("id_number", BAD_CHECKSUM, "身份证号校验位不正确"),
    ("id_number", "", "身份证号"),
    ("phone", "12345", "联系电话不是有效的"),
    ("temperature", "99", "体温应在 34 至 43"),
    ("symptoms", [], "请勾选您的症状"),
    ("contact_case", "", "请回答是或否"),
    ("pledge", "", "请承诺申报内容真实"),
    ("address", "联系13912345678", "地址中请不要填写"),
])
def test_bad_fields_get_clear_errors_and_nothing_is_stored(cast, field, value, message):
    point = make_point(cast)
    body = form(cast)
    body[field] = value
    resp = Client().post(f"/d/{point.code}/", body)
    assert resp.status_code == 400
    html = resp.content.decode()
    assert message in html and f'id="{field}-errors"' in html and "请修改下方标出的内容" in html
    assert Declaration.objects.count() == 0


@pytest.mark.django_db
def test_bad_travel_dates_get_clear_errors(cast):
    point = make_point(cast)
    today = timezone.localdate()
    cases = [
        (("上海", "2020-13-45", today.isoformat()), "日期格式应为"),
        (("上海", today.isoformat(), (today + dt.timedelta(days=3)).isoformat()), "该日期晚于今天"),
        (("上海", today.isoformat(), (today - dt.timedelta(days=2)).isoformat()), "结束日期不能早于开始日期"),
        (("上海", "2000-01-01", "2000-01-05"), "只需申报最近 14 天内的行程"),
        (("", today.isoformat(), today.isoformat()), "请填写地点"),
    ]
    for row, message in cases:
        resp = Client().post(f"/d/{point.code}/", form(cast, travel=[row]))
        assert resp.status_code == 400 and message in resp.content.decode(), row
        assert 'id="travel-0-errors"' in resp.content.decode()
    # Been to a risk area, but no place given.
    resp = Client().post(f"/d/{point.code}/", form(cast, risk_area="yes"))
    assert resp.status_code == 400 and "请填写您去过的地点和日期" in resp.content.decode()
    assert Declaration.objects.count() == 0


@pytest.mark.django_db
def test_a_double_submitted_form_makes_one_declaration(cast):
    point = make_point(cast)
    first = declare(cast, point, client_key="form-1")
    second = declare(cast, point, client_key="form-1")
    assert first.status_code == second.status_code == 200
    decl = Declaration.objects.get()
    assert decl.serial in first.content.decode() and decl.serial in second.content.decode()
    # The key is stored hashed with the entry point, never as sent.
    assert decl.client_key and decl.client_key != "form-1"
    declare(cast, point, client_key="form-2")
    assert Declaration.objects.count() == 2
    # The API answers a resend with 200 and the same receipt.
    payload = {**declaration_data(cast), "code": point.code, "client_key": "api-form", "pledge": True}
    r1 = post_json(Client(), "/api/declarations/public", payload)
    r2 = post_json(Client(), "/api/declarations/public", payload)
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json()["serial"] == r2.json()["serial"]
    assert cast.ids["person_a1"] not in r1.content.decode() and r1.json()["id_masked"] == cast.person_a1.id_masked
    assert Declaration.objects.count() == 3
    # The same key with another person's ID number is no resend: nobody's receipt, 409, nothing stored.
    other = {**declaration_data(cast, "person_a2"), "code": point.code, "client_key": "api-form", "pledge": True}
    r3 = post_json(Client(), "/api/declarations/public", other)
    assert r3.status_code == 409 and r1.json()["serial"] not in r3.content.decode()
    assert cast.person_a1.id_masked not in r3.content.decode()
    page = declare(cast, point, "person_a2", client_key="form-1")
    html = page.content.decode()
    assert page.status_code == 409 and decl.serial not in html and 'name="client_key"' in html
    assert 'value="form-1"' not in html  # a fresh key for the next try; what was typed is kept
    assert Declaration.objects.count() == 3


@pytest.mark.django_db
def test_api_submit_errors_are_field_errors(cast):
    point = make_point(cast)
    resp = post_json(Client(), "/api/declarations/public", {**declaration_data(cast, phone="1"), "code": point.code})
    assert resp.status_code == 422 and {e["field"] for e in resp.json()["detail"]} == {"phone"}
    resp = post_json(Client(), "/api/declarations/public", {**declaration_data(cast), "code": "x" * 22})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "code"
    resp = post_json(Client(), "/api/declarations/public", {**declaration_data(cast), "code": point.code,
                                                            "travel": [{"place": "上海", "from": "bad", "to": "bad"}]})
    assert resp.status_code == 422 and {e["field"] for e in resp.json()["detail"]} == {"travel.0.from", "travel.0.to"}
    assert Declaration.objects.count() == 0


@pytest.mark.django_db
def test_the_public_page_limits_declarations_per_address(cast, monkeypatch):
    monkeypatch.setattr(actions, "RATE_LIMIT", 2)
    point = make_point(cast)
    codes = [Client(REMOTE_ADDR="10.1.1.1").post(f"/d/{point.code}/", form(cast, client_key=f"k{i}")).status_code
             for i in range(3)]
    assert codes == [200, 200, 429]
    assert Client(REMOTE_ADDR="10.1.1.2").post(f"/d/{point.code}/", form(cast, client_key="k9")).status_code == 200
    assert Declaration.objects.count() == 3


@pytest.mark.django_db
def test_an_unknown_id_is_kept_unmatched_for_the_committee_to_register_and_match(cast, django_capture_on_commit_callbacks):
    point = make_point(cast)
    body = form(cast, name="新住户", symptoms=["fatigue"])
    body["id_number"], body["phone"] = UNREGISTERED_ID, make_phone(777)
    with django_capture_on_commit_callbacks(execute=True):
        resp = Client().post(f"/d/{point.code}/", body)
    assert resp.status_code == 200
    decl = Declaration.objects.get()
    assert decl.person_id is None and decl.place_path == cast.comm_a.path
    # The community's committee lists it as not in the registry and hears of the risk.
    committee = as_user(cast.committee_a)
    listed = committee.get("/declarations/?unmatched=1").content.decode()
    assert "新住户" in listed and "未在登记中" in listed
    assert Recipient.objects.filter(user=cast.committee_a, message__kind="declarations.risk").exists()
    assert as_user(cast.worker_a1).get(f"/declarations/{decl.pk}/").status_code == 404
    # Found false needs a person: 409 until the person is registered and matched.
    resp = committee.post(f"/declarations/{decl.pk}/find_false/", {"note": "不实"})
    assert resp.status_code == 409 and "请先将申报与登记人员匹配" in resp.content.decode()
    assert committee.post(f"/declarations/{decl.pk}/match/").status_code == 409
    from fangkong.residents.actions import create_person
    from fangkong.residents.validation import validate_person

    clean, errors = validate_person({"name": "新住户", "id_number": UNREGISTERED_ID})
    assert not errors
    person = create_person(acting_user=cast.committee_a, clean=clean, household=cast.hh_a1)
    resp = committee.post(f"/declarations/{decl.pk}/match/")
    assert resp.status_code == 302
    decl.refresh_from_db()
    assert decl.person_id == person.pk and decl.place_path == person.place_path
    # Now in grid A1: its worker sees it; matching again is a conflict.
    assert as_user(cast.worker_a1).get(f"/declarations/{decl.pk}/").status_code == 200
    assert committee.post(f"/declarations/{decl.pk}/match/").status_code == 409
    assert as_user(cast.committee_b).post(f"/declarations/{decl.pk}/match/").status_code == 404


# --- Verification by the grid ---------------------------------------------------------------

@pytest.mark.django_db
def test_grid_worker_verifies_in_own_grid_only(cast):
    decl = submit(cast)
    url = f"/declarations/{decl.pk}/verify/"
    assert as_user(cast.worker_b1).post(url).status_code == 404
    assert as_user(cast.guard_a).post(url).status_code == 403
    assert as_user(cast.liaison_x).post(url).status_code == 403
    assert as_user(cast.medic_a).post(url).status_code == 403
    assert as_user(cast.worker_a1).get(url).status_code == 405
    assert Declaration.objects.get().state == "submitted"
    w = as_user(cast.worker_a1)
    detail = w.get(f"/declarations/{decl.pk}/").content.decode()
    assert "核实属实" in detail and "查实不实" in detail and "需跟进" in detail
    assert w.post(f"/declarations/{decl.pk}/follow_up/", {"note": "电话未接通"}).status_code == 302
    assert w.post(url, {"note": "已电话核实"}).status_code == 302
    decl.refresh_from_db()
    assert (decl.state, decl.checked_by_id, decl.check_note) == ("verified", cast.worker_a1.pk, "已电话核实")
    # Not allowed from its state now: 409, nothing changes.
    resp = w.post(f"/declarations/{decl.pk}/find_false/", {"note": "x"})
    assert resp.status_code == 409
    assert Declaration.objects.get().state == "verified" and not CreditEntry.objects.exists()
    # API: the same machine.
    resp = post_json(w, f"/api/declarations/{decl.pk}/check", {"action": "verify"})
    assert resp.status_code == 409
    assert post_json(as_user(cast.worker_b1), f"/api/declarations/{decl.pk}/check", {"action": "verify"}).status_code == 404
    assert post_json(as_user(cast.guard_a), f"/api/declarations/{decl.pk}/check", {"action": "verify"}).status_code == 403


@pytest.mark.django_db
def test_queue_lists_risky_declarations_first(cast):
    safe = submit(cast, symptoms=["none"], ip="10.0.0.2")
    risky = submit(cast, symptoms=["fever"], ip="10.0.0.3")
    resp = as_user(cast.worker_a1).get("/api/declarations")
    assert resp.status_code == 200
    ids = [d["id"] for d in resp.json()]
    assert ids == [risky.pk, safe.pk]
    assert [d["risk"] for d in resp.json()] == [True, False]
    assert as_user(cast.worker_b1).get("/api/declarations").json() == []
    assert as_user(cast.guard_a).get("/api/declarations").status_code == 403


@pytest.mark.django_db
def test_found_false_becomes_a_credit_entry_with_the_evidence(cast):
    decl = submit(cast, symptoms=["none"])
    w = as_user(cast.worker_a1)
    resp = w.post(f"/declarations/{decl.pk}/find_false/", {"note": ""})
    assert resp.status_code == 400 and "请填写申报不实的证据" in resp.content.decode()
    assert not CreditEntry.objects.exists() and Declaration.objects.get().state == "submitted"
    assert w.post(f"/declarations/{decl.pk}/find_false/", {"note": "门岗记录显示其当日体温38.5°C"}).status_code == 302
    entry = CreditEntry.objects.get()
    assert (entry.person_id, entry.kind, entry.state, entry.recorded_by_id) == (
        cast.person_a1.pk, "false_declaration", "active", cast.worker_a1.pk)
    assert entry.evidence == "门岗记录显示其当日体温38.5°C" and decl.serial in entry.reason
    assert entry.declaration_id == decl.pk and entry.place_path == cast.person_a1.place_path
    # Committee and commander list it; the other community does not see it.
    assert "靶子甲" in as_user(cast.committee_a).get("/credit/").content.decode()
    assert "靶子甲" in as_user(cast.commander).get("/credit/").content.decode()
    assert "靶子甲" not in as_user(cast.committee_b).get("/credit/").content.decode()
    assert as_user(cast.committee_b).get(f"/credit/{entry.pk}/").status_code == 404
    assert as_user(cast.guard_a).get("/credit/").status_code == 403
    api = as_user(cast.committee_a).get("/api/credit/entries").json()
    assert [(e["id"], e["evidence"]) for e in api] == [(entry.pk, entry.evidence)]


# --- Grid watch --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_grid_watch_finding_confirmed_by_the_committee_becomes_an_entry(cast):
    w = as_user(cast.worker_a1)
    assert w.get("/declarations/findings/new/").status_code == 200
    # A person outside the grid looks unregistered.
    resp = w.post("/declarations/findings/new/", {"id_number": cast.ids["person_b1"], "kind": "travel", "evidence": "x"})
    assert resp.status_code == 400 and "辖区内没有登记此身份证号的人员" in resp.content.decode()
    resp = w.post("/declarations/findings/new/", {"id_number": "", "kind": "", "evidence": ""})
    html = resp.content.decode()
    assert resp.status_code == 400 and all(f'id="{f}-errors"' in html for f in ("id_number", "kind", "evidence"))
    resp = w.post("/declarations/findings/new/", {"id_number": cast.ids["person_a1"], "kind": "", "evidence": ""})
    html = resp.content.decode()
    assert resp.status_code == 400 and 'id="kind-errors"' in html and 'id="evidence-errors"' in html
    resp = w.post("/declarations/findings/new/", {"id_number": cast.ids["person_a1"], "kind": "travel",
                                                   "evidence": "x", "found_on": "2001-01-01"})
    assert resp.status_code == 400 and 'id="found_on-errors"' in resp.content.decode()
    assert not Finding.objects.exists()
    resp = w.post("/declarations/findings/new/", {"id_number": cast.ids["person_a1"], "kind": "travel",
                                                   "evidence": "返乡未申报，邻居反映其3天前从风险地区返回"})
    assert resp.status_code == 302
    finding = Finding.objects.get()
    assert (finding.person_id, finding.state, finding.recorded_by_id) == (cast.person_a1.pk, "recorded", cast.worker_a1.pk)
    assert not CreditEntry.objects.exists()  # not before the committee confirms
    url = f"/declarations/findings/{finding.pk}/confirm/"
    assert w.post(url).status_code == 403
    assert as_user(cast.committee_b).post(url).status_code == 404
    assert as_user(cast.committee_a).get(url).status_code == 405
    assert as_user(cast.committee_a).post(f"/declarations/findings/{finding.pk}/dismiss/", {"note": ""}).status_code == 400
    assert as_user(cast.committee_a).post(url, {"note": "经核实属实"}).status_code == 302
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.finding_id, entry.person_id) == ("undeclared_risk", finding.pk, cast.person_a1.pk)
    assert entry.evidence == finding.evidence
    assert as_user(cast.committee_a).post(url).status_code == 409
    assert CreditEntry.objects.count() == 1
    # API: record by person id, then dismiss.
    resp = post_json(w, "/api/findings", {"person_id": cast.person_a1.pk, "kind": "contact", "evidence": "接触未申报"})
    assert resp.status_code == 201
    assert post_json(w, "/api/findings", {"person_id": cast.person_b1.pk, "kind": "contact", "evidence": "x"}).status_code == 404
    pk = resp.json()["id"]
    resp = post_json(as_user(cast.committee_a), f"/api/findings/{pk}/decide", {"action": "dismiss", "note": "误报"})
    assert resp.status_code == 200 and resp.json()["state"] == "dismissed"
    assert CreditEntry.objects.count() == 1


# --- The person's own page, appeals and the committee's decision ----------------------------

@pytest.mark.django_db
def test_person_sees_the_entry_appeals_and_the_committee_decides(cast, django_capture_on_commit_callbacks):
    decl = submit(cast, symptoms=["none"])
    actions.check(acting_user=cast.worker_a1, declaration=decl, action="find_false", note="核实发现其隐瞒发热")
    entry = CreditEntry.objects.get()
    token = issue_resident_link(acting_user=cast.committee_a, person=cast.person_a1)
    anon = Client()
    home = anon.get(f"/r/{token}/").content.decode()
    assert f"/r/{token}/credit/" in home and "我的诚信档案" in home
    page = anon.get(f"/r/{token}/credit/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "核实发现其隐瞒发热" in page.content.decode() and "虚假申报" in page.content.decode()
    # Another person's link shows nothing of A1's record.
    other = issue_resident_link(acting_user=None, person=cast.person_b1)
    assert "核实发现其隐瞒发热" not in anon.get(f"/r/{other}/credit/").content.decode()
    assert anon.post(f"/r/{other}/credit/appeal/", {"entry": entry.pk, "text": "冒充"}).status_code == 400
    assert anon.get(f"/r/{token}/credit/appeal/").status_code == 405
    assert anon.post(f"/r/{token}/credit/appeal/", {"entry": entry.pk, "text": ""}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        resp = anon.post(f"/r/{token}/credit/appeal/", {"entry": entry.pk, "text": "当天体温正常，有门诊记录"})
    assert resp.status_code == 302
    appeal = Appeal.objects.get()
    assert (appeal.entry_id, appeal.state) == (entry.pk, "open")
    assert Recipient.objects.filter(user=cast.committee_a, message__kind="credit.appeal").count() == 1
    assert not Recipient.objects.filter(user=cast.committee_b, message__kind="credit.appeal").exists()
    # A second appeal while one is open: 409, still one.
    resp = anon.post(f"/r/{token}/credit/appeal/", {"entry": entry.pk, "text": "再次申诉"})
    assert resp.status_code == 409 and "正在等待居委会决定" in resp.content.decode()
    resp = post_json(anon, "/api/resident/credit/appeals", {"entry_id": entry.pk, "text": "再次申诉"},
                     headers={"X-Resident-Token": token})
    assert resp.status_code == 409
    assert Appeal.objects.count() == 1
    # Decision: the wrong role 403, the other community 404, GET 405, no reason 400.
    url = f"/credit/appeals/{appeal.pk}/uphold/"
    assert as_user(cast.worker_a1).post(url, {"reason": "x"}).status_code == 403
    assert as_user(cast.committee_b).post(url, {"reason": "x"}).status_code == 404
    assert as_user(cast.committee_a).get(url).status_code == 405
    assert as_user(cast.committee_a).post(url, {"reason": ""}).status_code == 400
    assert as_user(cast.committee_a).post(url, {"reason": "门岗记录清楚，维持"}).status_code == 302
    appeal.refresh_from_db()
    assert (appeal.state, appeal.decided_by_id) == ("upheld", cast.committee_a.pk)
    assert CreditEntry.objects.get().state == "active"
    assert "门岗记录清楚，维持" in anon.get(f"/r/{token}/credit/").content.decode()
    assert as_user(cast.committee_a).post(f"/credit/appeals/{appeal.pk}/revoke/", {"reason": "y"}).status_code == 409
    # A new appeal after the decision; this time the committee revokes the entry.
    resp = post_json(anon, "/api/resident/credit/appeals", {"entry_id": entry.pk, "text": "补充门诊病历"},
                     headers={"X-Resident-Token": token})
    assert resp.status_code == 201
    second = Appeal.objects.get(state="open")
    resp = post_json(as_user(cast.committee_a), f"/api/credit/appeals/{second.pk}/decide",
                     {"action": "revoke", "reason": "门诊病历证明体温正常"})
    assert resp.status_code == 200 and resp.json()["state"] == "revoked"
    entry.refresh_from_db()
    assert entry.state == "revoked" and entry.revoked_at is not None
    # The revoked entry stays in the history, marked, on both sides.
    api = Client().get("/api/resident/credit", headers={"X-Resident-Token": token}).json()
    assert [(e["id"], e["state"], [a["state"] for a in e["appeals"]]) for e in api] == [
        (entry.pk, "revoked", ["revoked", "upheld"])]
    assert "已撤销" in anon.get(f"/r/{token}/credit/").content.decode()
    assert "门诊病历证明体温正常" in anon.get(f"/r/{token}/credit/").content.decode()
    assert "已撤销" in as_user(cast.committee_a).get(f"/credit/{entry.pk}/").content.decode()
    assert anon.post(f"/r/{token}/credit/appeal/", {"entry": entry.pk, "text": "x"}).status_code == 409
    assert Client().get("/api/resident/credit", headers={"X-Resident-Token": "wrong-token-123"}).status_code == 401
    # The decisions are audited, without raw numbers.
    actions_seen = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"credit.appeal.file", "credit.appeal.uphold", "credit.appeal.revoke", "credit.entry.create",
            "declarations.find_false", "declarations.submit"} <= actions_seen
    for e in AuditEvent.objects.all():
        text = json.dumps(e.detail, ensure_ascii=False)
        assert cast.ids["person_a1"] not in text and cast.phones["person_a1"] not in text


@pytest.mark.django_db
def test_revoking_an_entry_that_is_no_longer_in_force_changes_nothing(cast):
    """The credit entry's own transition (active → revoked) is checked too: if the entry is
    not in force when the committee revokes (changed meanwhile), the decision is a 409 and
    the appeal stays open for another decision."""
    decl = submit(cast, symptoms=["none"])
    actions.check(acting_user=cast.worker_a1, declaration=decl, action="find_false", note="核实发现其隐瞒发热")
    entry = CreditEntry.objects.get()
    token = issue_resident_link(acting_user=cast.committee_a, person=cast.person_a1)
    assert Client().post(f"/r/{token}/credit/appeal/", {"entry": entry.pk, "text": "当天体温正常"}).status_code == 302
    appeal = Appeal.objects.get()
    CreditEntry.objects.filter(pk=entry.pk).update(state=CreditEntry.State.REVOKED, revoked_at=timezone.now())
    resp = as_user(cast.committee_a).post(f"/credit/appeals/{appeal.pk}/revoke/", {"reason": "门诊病历证明体温正常"})
    assert resp.status_code == 409
    appeal.refresh_from_db()
    assert (appeal.state, appeal.decided_by_id) == ("open", None)
    assert not AuditEvent.objects.filter(action="credit.appeal.revoke").exists()


@pytest.mark.django_db(transaction=True)
def test_two_appeals_at_the_same_moment_open_one():
    import threading

    from django.db import connection

    from tests.cast import build_cast

    cast = build_cast()
    decl = submit(cast, symptoms=["none"])
    actions.check(acting_user=cast.worker_a1, declaration=decl, action="find_false", note="证据")
    entry = CreditEntry.objects.get()
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    barrier = threading.Barrier(2)
    codes = []

    def go():
        barrier.wait()
        resp = post_json(Client(), "/api/resident/credit/appeals", {"entry_id": entry.pk, "text": "申诉"},
                         headers={"X-Resident-Token": token})
        codes.append(resp.status_code)
        connection.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409], codes
    assert Appeal.objects.filter(state="open").count() == 1


# --- Daily figures ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_daily_figures_add_up_to_the_stored_rows(cast):
    from collections import Counter

    a = submit(cast, symptoms=["fever"], ip="10.0.0.4")
    b = submit(cast, "person_a2", symptoms=["none"], ip="10.0.0.5")
    submit(cast, "person_a2", symptoms=["none"], ip="10.0.0.6")
    actions.submit(point=make_point(cast, cast.comm_b), data=declaration_data(cast, "person_b1"), client_ip="10.0.0.7")
    actions.check(acting_user=cast.worker_a1, declaration=a, action="verify")
    actions.check(acting_user=cast.committee_a, declaration=b, action="find_false", note="证据")
    f = actions.record_finding(acting_user=cast.worker_a1, person=cast.person_a1, kind="travel", evidence="返乡未报")
    actions.decide_finding(acting_user=cast.committee_a, finding=f, action="confirm")
    today = timezone.localdate()
    by_key = {m.key: m for m in registry.metrics()}

    def counted(key, day=today):
        out = Counter()
        for path, n in by_key[key].counts(day):
            out[path] += n
        return dict(out)

    def rows(qs):
        return dict(Counter(qs.values_list("place_path", flat=True)))

    assert counted("declarations.submitted") == rows(Declaration.objects.all())
    assert counted("declarations.risk") == rows(Declaration.objects.filter(risk=True))
    assert counted("declarations.verified") == rows(Declaration.objects.filter(state="verified"))
    assert counted("declarations.found_false") == rows(Declaration.objects.filter(state="found_false"))
    assert counted("declarations.findings") == rows(Finding.objects.all())
    assert counted("credit.entries") == rows(CreditEntry.objects.all())
    assert sum(counted("declarations.submitted").values()) == 4 and sum(counted("credit.entries").values()) == 2
    assert counted("declarations.submitted", today - dt.timedelta(days=1)) == {}


@pytest.mark.django_db
def test_staff_pages_render_in_chinese_and_nav_links_by_role(cast):
    submit(cast, symptoms=["fever"])
    html = as_user(cast.worker_a1).get("/declarations/").content.decode()
    assert "自我申报" in html and "有风险" in html and "网格盯防" in html
    home = as_user(cast.committee_a).get("/declarations/").content.decode()
    assert 'href="/declarations/"' in home and 'href="/credit/"' in home
    guard = as_user(cast.guard_a).get("/").content.decode()
    assert 'href="/declarations/"' not in guard and 'href="/credit/"' not in guard
    assert as_user(cast.liaison_x).get("/declarations/").status_code == 403
    assert as_user(cast.guard_a).get("/credit/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_verifications_at_the_same_moment_one_wins():
    """The worker verifies while the committee finds the same declaration false: one wins,
    the other gets 409, and the credit record matches the winner."""
    import threading

    from django.db import connection

    from tests.cast import build_cast

    cast = build_cast()
    decl = submit(cast, symptoms=["none"])
    barrier = threading.Barrier(2)
    results = {}

    def go(user, action):
        c = as_user(user)
        barrier.wait()
        resp = post_json(c, f"/api/declarations/{decl.pk}/check", {"action": action, "note": "证据"})
        results[action] = resp.status_code
        connection.close()

    threads = [threading.Thread(target=go, args=(cast.worker_a1, "verify")),
               threading.Thread(target=go, args=(cast.committee_a, "find_false"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409], results
    decl.refresh_from_db()
    winner = "verify" if results["verify"] == 200 else "find_false"
    assert decl.state == {"verify": "verified", "find_false": "found_false"}[winner]
    assert CreditEntry.objects.count() == (1 if winner == "find_false" else 0)


# --- Declarations in someone else's name (issue 15, item 2) -------------------------------

@pytest.mark.django_db
def test_a_public_declaration_in_someone_elses_name_touches_nobodys_credit(cast):
    """Anyone may type a registered resident's ID number into the public form. Before the
    fix the declaration was attached to that resident at once and a "found false" landed
    on their credit record. Now it stays unmatched until the grid worker, having checked
    with the person, matches it; until then it cannot be found false."""
    point = make_point(cast)
    resp = declare(cast, point, "person_a1", name="冒名者", client_key="impostor-1")
    assert resp.status_code == 200
    decl = Declaration.objects.get()
    assert decl.person_id is None and decl.name == "冒名者"
    worker = as_user(cast.worker_a1)
    # Routed to the grid of the number's resident, who can check with them.
    assert worker.get(f"/declarations/{decl.pk}/").status_code == 200
    refused = worker.post(f"/declarations/{decl.pk}/find_false/", {"note": "本人称未申报"})
    assert refused.status_code == 409
    assert not CreditEntry.objects.exists()
    assert not Declaration.objects.filter(person=cast.person_a1).exists()
    # The resident's own pages show nothing of it.
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    assert "冒名者" not in Client().get(f"/r/{token}/credit/").content.decode()


@pytest.mark.django_db
def test_a_declaration_through_the_persons_own_link_is_theirs_at_once(cast):
    point = make_point(cast)
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    anon = Client()
    home = anon.get(f"/r/{token}/").content.decode()
    assert f"/r/{token}/declare/" in home
    page = anon.get(f"/r/{token}/declare/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'name="id_number"' not in html and cast.person_a1.id_masked in html and cast.ids["person_a1"] not in html
    body = {k: v for k, v in form(cast, "person_a1", client_key="own-1").items() if k not in ("name", "id_number")}
    # A typed ID number or name is ignored: the link's person declares.
    resp = anon.post(f"/r/{token}/declare/", {**body, "id_number": cast.ids["person_b1"], "name": "别人"})
    assert resp.status_code == 200 and f"/r/{token}/" in resp.content.decode()
    decl = Declaration.objects.get()
    assert decl.person_id == cast.person_a1.pk and decl.name == "靶子甲" and decl.place_path == cast.person_a1.place_path
    assert decl.id_number() == cast.ids["person_a1"] and decl.point == point
    # Being the person's own, it can be found false without a match.
    ok = as_user(cast.worker_a1).post(f"/declarations/{decl.pk}/find_false/", {"note": "门岗记录显示其当日体温38.5°C"})
    assert ok.status_code == 302 and CreditEntry.objects.get().person_id == cast.person_a1.pk
    # A community without an entry point: the page says so.
    other = issue_resident_link(acting_user=None, person=cast.person_b1)
    assert anon.get(f"/r/{other}/declare/").status_code == 404
