"""Resident services (M13), hardship assistance (M14) and the hotline (M15)."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.models import AuditEvent
from fangkong.places.actions import create_place
from fangkong.residents.actions import create_household
from fangkong.services import actions, queries
from fangkong.services.models import Call, GroupOrder, Handover, HardshipCase, OrderLine, ServiceRequest
from fangkong.lib.workflow import Conflict, Invalid
from tests.cast import add_person, make_user

S = ServiceRequest.State


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def race(n, fn):
    barrier, out = threading.Barrier(n), [None] * n

    def go(i):
        try:
            barrier.wait()
            out[i] = fn(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _volunteers(cast, n=2):
    return [make_user(f"vol_{i}", [("volunteer", cast.comm_a)]) for i in range(n)]


def _officers(cast, n=2):
    return [make_user(f"duty_{i}", [("duty_officer", cast.street)]) for i in range(n)]


# --- Service requests ------------------------------------------------------------------------

def test_request_priority_from_tags_and_state_machine(cast):
    v1, v2 = _volunteers(cast)
    req = actions.create_request(acting_user=cast.worker_a1, person=cast.person_a1, kind="medicine", text="降压药",
                                 source="staff")
    assert req.priority and "elderly_alone" in req.priority_reason
    assert req.due_at - req.created_at == dt.timedelta(hours=actions.PRIORITY_HOURS)
    plain = actions.create_request(acting_user=None, person=cast.person_a2, kind="groceries", text="米", source="link")
    assert not plain.priority
    with pytest.raises(Invalid) as e:
        actions.create_request(acting_user=None, person=cast.person_a2, kind="x", text="", source="link")
    assert set(e.value.errors) == {"kind", "text"}

    req = actions.transition(acting_user=v1, request=req, action="accept")
    assert req.assignee == v1 and req.state == S.ACCEPTED
    with pytest.raises(Conflict):  # one wins: the second finds it accepted
        actions.transition(acting_user=v2, request=req, action="accept")
    with pytest.raises(Conflict):  # only the assignee buys
        actions.transition(acting_user=v2, request=req, action="bought", amount="10")
    with pytest.raises(Invalid) as e:
        actions.transition(acting_user=v1, request=req, action="bought", amount="abc")
    assert "amount" in e.value.errors
    req = actions.transition(acting_user=v1, request=req, action="bought", amount="35.5")
    with pytest.raises(Invalid) as e:
        actions.transition(acting_user=v1, request=req, action="deliver", code="wrong")
    assert "code" in e.value.errors
    req = actions.transition(acting_user=v1, request=req, action="deliver", code=req.code)
    with pytest.raises(Conflict):  # not from delivered
        actions.transition(acting_user=v1, request=req, action="cancel")
    with pytest.raises(Invalid):
        actions.transition(acting_user=v1, request=req, action="settle", amount="")
    req = actions.transition(acting_user=v1, request=req, action="settle", amount="35.50")
    assert req.state == S.SETTLED and str(req.paid) == "35.50"
    assert AuditEvent.objects.filter(action="services.settle").exists()


@pytest.mark.django_db(transaction=True)
def test_two_volunteers_accepting_one_request_one_wins(db):
    from tests.cast import build_cast

    cast = build_cast()
    vols = _volunteers(cast)
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="药", source="staff")
    codes = race(2, lambda i: as_user(vols[i]).post(f"/services/tasks/{req.pk}/accept/").status_code)
    assert sorted(codes) == [302, 409], codes
    req.refresh_from_db()
    assert req.state == S.ACCEPTED and req.assignee_id in {v.pk for v in vols}
    assert AuditEvent.objects.filter(action="services.accept").count() == 1


def test_volunteer_sees_own_tasks_with_address_and_masked_phone(cast):
    v1, v2 = _volunteers(cast)
    site_vol = cast.volunteer  # granted over a site: no area, only the tasks given to it
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="groceries", text="蔬菜", source="staff")
    c1, c2 = as_user(v1), as_user(v2)
    page = c2.get(f"/services/tasks/{req.pk}/").content.decode()
    assert cast.hh_a1.address not in page and cast.person_a1.name not in page  # the open pool: no address, no name
    assert as_user(site_vol).get(f"/services/tasks/{req.pk}/").status_code == 404
    assert c1.post(f"/services/tasks/{req.pk}/accept/").status_code == 302
    page = c1.get(f"/services/tasks/{req.pk}/").content.decode()
    assert cast.hh_a1.address in page and cast.person_a1.phone_masked in page
    assert cast.phones["person_a1"] not in page and cast.ids["person_a1"] not in page
    assert cast.hh_a1.address not in c2.get(f"/services/tasks/{req.pk}/").content.decode()
    # The full number: only the assignee, only while open, audited.
    assert c2.post(f"/services/tasks/{req.pk}/phone/").status_code == 409
    r = c1.post(f"/services/tasks/{req.pk}/phone/")
    assert r.status_code == 200 and cast.phones["person_a1"] in r.content.decode()
    assert AuditEvent.objects.filter(action="services.phone.reveal", user=v1).count() == 1
    # API: the assignee's tasks carry the address and the masked phone only.
    rows = c1.get("/api/services/tasks").json()
    mine = [r for r in rows if r["id"] == req.pk][0]
    assert mine["address"] == cast.hh_a1.address and mine["phone_masked"] == cast.person_a1.phone_masked
    assert cast.phones["person_a1"] not in str(rows)
    # The committee assigns another request to the site's volunteer: it sees it, with the address.
    other = actions.create_request(acting_user=None, person=cast.person_a2, kind="meals", text="午饭", source="staff")
    assert as_user(cast.committee_a).post(f"/services/{other.pk}/assign/", {"assignee": site_vol.pk}).status_code == 302
    other.refresh_from_db()
    assert other.assignee == site_vol
    assert as_user(site_vol).get(f"/services/tasks/{other.pk}/").status_code == 200


def test_resident_link_request_confirm_and_other_residents_requests(cast):
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    c = Client()
    r = c.post(f"/r/{token}/services/", {"do": "request", "kind": "medicine", "text": "感冒药"})
    assert r.status_code == 302
    req = ServiceRequest.objects.get(person=cast.person_a1)
    assert req.source == "link" and req.priority
    other = actions.create_request(acting_user=None, person=cast.person_a2, kind="meals", text="午饭", source="staff")
    assert c.post(f"/r/{token}/services/", {"do": "confirm", "request": other.pk}).status_code == 400
    assert c.post(f"/r/{token}/services/", {"do": "request", "kind": "", "text": ""}).status_code == 400
    v1, = _volunteers(cast, 1)
    actions.transition(acting_user=v1, request=req, action="accept")
    page = c.get(f"/r/{token}/services/").content.decode()
    assert req.code in page and "午饭" not in page
    assert c.post(f"/r/{token}/services/", {"do": "confirm", "request": req.pk}).status_code == 302
    req.refresh_from_db()
    assert req.state == S.DELIVERED


# --- Group orders ------------------------------------------------------------------------------

def test_group_order_totals_and_late_changes_refused(cast):
    b1 = create_place(acting_user=None, kind="building", name="1号楼", code="A1Y-1", parent=cast.compound_a1)
    hh = create_household(acting_user=None, place=b1, address="甲一小区1号楼202室")
    now = timezone.now()
    order = actions.open_order(acting_user=cast.committee_a, place=cast.compound_a1, title="周三蔬菜",
                               items="蔬菜包，鸡蛋\n大米", closes_at=now + dt.timedelta(hours=2))
    assert order.items == ["蔬菜包", "鸡蛋", "大米"]
    actions.set_quantity(acting_user=None, order=order, household=hh, item="鸡蛋", quantity=2)
    actions.set_quantity(acting_user=None, order=order, household=hh, item="鸡蛋", quantity=3)  # a change, not a second line
    actions.set_quantity(acting_user=None, order=order, household=cast.hh_a1, item="鸡蛋", quantity=1)
    with pytest.raises(Invalid):
        actions.set_quantity(acting_user=None, order=order, household=cast.hh_b1, item="鸡蛋", quantity=1)
    with pytest.raises(Invalid):
        actions.set_quantity(acting_user=None, order=order, household=hh, item="牛奶", quantity=1)
    totals = actions.order_totals(order)
    assert totals["items"]["鸡蛋"] == 4 and totals["households"] == 2 and totals["buildings"][b1.path] == {"鸡蛋": 3}
    with pytest.raises(Conflict):  # after the closing time
        actions.set_quantity(acting_user=None, order=order, household=hh, item="大米", quantity=1,
                             at=now + dt.timedelta(hours=3))
    c = as_user(cast.committee_a)
    assert c.post(f"/services/orders/{order.pk}/close/").status_code == 302
    r = c.post(f"/services/orders/{order.pk}/", {"address": hh.address, "item": "大米", "quantity": "1"})
    assert r.status_code == 409
    assert OrderLine.objects.filter(order=order).count() == 2
    sheet = c.get(f"/services/orders/{order.pk}/sheet.xlsx")
    assert sheet.status_code == 200 and "spreadsheetml" in sheet["Content-Type"]
    assert as_user(cast.committee_b).get(f"/services/orders/{order.pk}/").status_code == 404


# --- Distribution points -------------------------------------------------------------------------

def test_round_handover_by_room_counted_once_and_door_list(cast):
    b1 = create_place(acting_user=None, kind="building", name="1号楼", code="A1Y-1", parent=cast.compound_a1)
    hhs = [create_household(acting_user=None, place=b1, address=f"甲一小区1号楼{r}室") for r in (101, 102, 201)]
    vol, = _volunteers(cast, 1)
    point = actions.create_point(acting_user=None, community=cast.comm_a, name="东门发放点", buildings=[b1], staff=[vol])
    rnd = actions.open_round(acting_user=None, point=point, day=timezone.localdate(), what="蔬菜包")
    assert rnd.expected == 3
    c = as_user(vol)
    assert c.post(f"/services/rounds/{rnd.pk}/", {"room": "101"}).status_code == 302
    assert c.post(f"/services/rounds/{rnd.pk}/", {"room": "101"}).status_code == 409
    assert c.post(f"/services/rounds/{rnd.pk}/", {"room": "999"}).status_code == 400
    r = c.post(f"/api/services/rounds/{rnd.pk}/handovers", {"household_id": hhs[1].pk}, content_type="application/json")
    assert r.status_code == 201
    r = c.post(f"/api/services/rounds/{rnd.pk}/handovers", {"room": "102"}, content_type="application/json")
    assert r.status_code == 409
    assert Handover.objects.filter(round=rnd).count() == 2
    actions.close_round(acting_user=cast.committee_a, rnd=rnd)
    assert list(actions.not_collected(rnd)) == [hhs[2]]
    with pytest.raises(Conflict):
        actions.hand_over(acting_user=vol, rnd=rnd, household=hhs[2])
    actions.hand_over(acting_user=vol, rnd=rnd, household=hhs[2], door=True)
    assert not actions.not_collected(rnd).exists()


# --- Hardship ----------------------------------------------------------------------------------

def test_hardship_register_pairing_revisits_visible_to_committee_and_partner(cast):
    partner = make_user("party_member")  # any account
    case = actions.register_case(acting_user=cast.committee_a, person=cast.person_a1, category="elderly_alone",
                                 cause="独居，子女在外地", degree=2, health="高血压")
    with pytest.raises(Conflict):
        actions.register_case(acting_user=cast.committee_a, person=cast.person_a1, category="illness", cause="x", degree=1)
    c = as_user(cast.committee_a)
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "pair", "partner": "party_member"}).status_code == 302
    case.refresh_from_db()
    assert case.partner == partner and case.partner_from == timezone.localdate()
    # Sensitive: not the grid worker, not the other committee, not the commander.
    assert as_user(cast.worker_a1).get("/services/hardship/").status_code == 403
    assert as_user(cast.committee_b).get(f"/services/hardship/{case.pk}/").status_code == 404
    assert as_user(cast.commander).get("/services/hardship/").status_code == 403
    # The partner sees its own case only and records a revisit.
    p = as_user(partner)
    assert cast.person_a1.name in p.get("/services/pairing/").content.decode()
    assert cast.person_a1.name not in as_user(cast.worker_a1).get("/services/pairing/").content.decode()
    assert as_user(cast.worker_a1).post("/services/pairing/", {"case": case.pk, "given": "米"}).status_code == 400
    r = p.post("/services/pairing/", {"case": case.pk, "given": "大米、面粉、油", "notes": "身体尚可"})
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.next_due == timezone.localdate() + dt.timedelta(days=14)
    # Overdue revisits listed.
    HardshipCase.objects.filter(pk=case.pk).update(next_due=timezone.localdate() - dt.timedelta(days=1))
    assert cast.person_a1.name in c.get("/services/hardship/?state=overdue").content.decode()
    # Aid from the union's fund, approved.
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "aid", "kind": "慰问金", "amount": "500",
                                                     "source": "工会帮扶基金"}).status_code == 302
    grant = case.grants.get()
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "approve", "grant": grant.pk}).status_code == 302
    grant.refresh_from_db()
    assert grant.state == "approved"
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "aid", "kind": "", "amount": "x", "source": ""}).status_code == 400


# --- Hotline -----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_officers_answer_one_ring_one_owns_it(db):
    from tests.cast import build_cast

    cast = build_cast()
    officers = _officers(cast)
    ring = actions.ring(acting_user=officers[0], phone="13912345678")
    assert ring.phone_masked and "13912345678" not in ring.phone_masked
    codes = race(2, lambda i: as_user(officers[i]).post(
        f"/hotline/rings/{ring.pk}/answer/", {"topic": "fever_clinic", "question": "发热门诊在哪"}).status_code)
    assert sorted(codes) == [302, 409], codes
    call = Call.objects.get(ring=ring)
    assert call.owner_id in {o.pk for o in officers}
    assert Call.objects.count() == 1


def test_call_ownership_handover_and_close_needs_outcome(cast):
    o1, o2 = _officers(cast)
    call = actions.new_call(acting_user=o1, topic="policy", question="返回需要什么手续", phone="13900002222")
    assert call.owner == o1 and call.phone_masked != "13900002222"
    with pytest.raises(Conflict):
        actions.close_call(acting_user=o2, call=call, outcome="x")
    with pytest.raises(Invalid) as e:
        actions.close_call(acting_user=o1, call=call, outcome=" ")
    assert "outcome" in e.value.errors
    # Hand-over only when the new owner accepts.
    call = actions.offer_call(acting_user=o1, call=call, to=o2)
    assert call.owner == o1 and call.state == Call.State.HANDOVER
    with pytest.raises(Conflict):
        actions.take_call(acting_user=o1, call=call)
    call = actions.take_call(acting_user=o2, call=call)
    assert call.owner == o2 and call.state == Call.State.OPEN
    c2 = as_user(o2)
    assert c2.post(f"/hotline/calls/{call.pk}/", {"do": "close", "outcome": ""}).status_code == 400
    assert as_user(o1).post(f"/hotline/calls/{call.pk}/", {"do": "close", "outcome": "已答复"}).status_code == 409
    assert c2.post(f"/hotline/calls/{call.pk}/", {"do": "close", "outcome": "已答复"}).status_code == 302
    call.refresh_from_db()
    assert call.state == Call.State.CLOSED and call.outcome == "已答复"
    from django.db import IntegrityError, transaction
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(outcome="")  # a closed call without an outcome cannot exist
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(owner=None)  # nor a call without an owner


def test_reference_search_on_the_console(cast):
    o1, = _officers(cast, 1)
    actions.save_reference(acting_user=o1, place_path=cast.street.path, title="发热门诊", body="区人民医院发热门诊",
                           address="人民路1号", hours="24小时", keywords="发烧 fever")
    page = as_user(o1).get("/hotline/?q=发烧").content.decode()
    assert "人民路1号" in page
    assert "人民路1号" not in as_user(o1).get("/hotline/?q=核酸").content.decode()
    assert as_user(cast.committee_a).get("/hotline/").status_code == 403


def test_end_to_end_elderly_resident_calls_for_medicine(cast):
    """An elderly resident living alone calls; the officer who answered owns the call, creates a
    medicine request, a volunteer buys and delivers it, the resident confirms, the call is closed."""
    officer, = _officers(cast, 1)
    vol, = _volunteers(cast, 1)
    oc, vc = as_user(officer), as_user(vol)
    ring = actions.ring(acting_user=officer, phone=cast.phones["person_a1"], caller_name="靶大爷")
    assert oc.post(f"/hotline/rings/{ring.pk}/answer/", {"topic": "medicine", "question": "降压药吃完了"}).status_code == 302
    call = Call.objects.get(ring=ring)
    assert call.owner == officer
    assert oc.post(f"/hotline/calls/{call.pk}/", {"do": "person", "id_number": cast.ids["person_a1"]}).status_code == 302
    assert oc.post(f"/hotline/calls/{call.pk}/", {"do": "request", "kind": "medicine",
                                                  "text": "硝苯地平缓释片一盒"}).status_code == 302
    req = ServiceRequest.objects.get(call=call)
    assert req.source == "hotline" and req.priority and req.person == cast.person_a1
    assert vc.post(f"/services/tasks/{req.pk}/accept/").status_code == 302
    assert vc.post(f"/services/tasks/{req.pk}/bought/", {"amount": "28.00"}).status_code == 302
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    assert Client().post(f"/r/{token}/services/", {"do": "confirm", "request": req.pk}).status_code == 302
    req.refresh_from_db()
    assert req.state == S.DELIVERED
    assert vc.post(f"/services/tasks/{req.pk}/settle/", {"amount": "28.00"}).status_code == 302
    assert oc.post(f"/hotline/calls/{call.pk}/", {"do": "close", "outcome": "药已送到，老人确认"}).status_code == 302
    call.refresh_from_db()
    req.refresh_from_db()
    assert call.state == Call.State.CLOSED and req.state == S.SETTLED


def _hotline_site(street, code):
    from fangkong.places.actions import create_organization

    return create_organization(acting_user=None, kind="site", name=f"{street.name}热线", code=code, place=street)


def _on_duty_section(html: str) -> str:
    return html.split('id="hotline-on-duty"', 1)[1].split("</section>", 1)[0]


def test_rota_is_the_duty_modules_hotline_shifts(cast):
    """The hotline's rota lives in the duty module: the hotline site's responsible person
    deploys the street's officers, makes shifts of the post "hotline" and assigns them (its
    pages); the console shows who is on duty now (planned, then checked in) and next; another
    street's officer on its own hotline shift is not shown. Recording a call needs no shift."""
    from fangkong.duty import actions as duty
    from fangkong.duty.models import Assignment, Shift

    o1, o2 = _officers(cast)
    o1.first_name, o2.first_name = "值班甲", "值班乙"
    o1.save(), o2.save()
    site = _hotline_site(cast.street, "HOTLINE-S")
    lead = make_user("hotline_lead", [("site_lead", site)])
    # Another street with its own hotline, an officer on shift now.
    street_t = create_place(acting_user=None, kind="street", name="别的街道", code="T", parent=None)
    site_t = _hotline_site(street_t, "HOTLINE-T")
    other = make_user("duty_t", [("duty_officer", street_t)])
    other.first_name = "别街值班"
    other.save()
    lead_t = make_user("hotline_lead_t", [("site_lead", site_t)])
    now = timezone.now()
    # Deployed from the day the first shift starts (an hour ago: yesterday just after midnight).
    since = timezone.localtime(now - dt.timedelta(hours=1)).date()
    duty.deploy(acting_user=None, user=other, site=site_t, kind="cadre", starts_on=since)
    shift_t = duty.create_shift(acting_user=None, site=site_t, post="hotline", starts_at=now - dt.timedelta(hours=1),
                                ends_at=now + dt.timedelta(hours=7))
    duty.assign(acting_user=None, shift=shift_t, user=other)

    lc = as_user(lead)
    for o in (o1, o2):
        assert lc.post(f"/duty/sites/{site.pk}/deploy/", {"username": o.username, "kind": "cadre",
                                                          "starts_on": since.isoformat()}).status_code == 302
    fmt, local = "%Y-%m-%dT%H:%M", timezone.localtime
    for start in (now - dt.timedelta(hours=1), now + dt.timedelta(hours=7)):
        assert lc.post(f"/duty/sites/{site.pk}/shifts/", {"post": "hotline", "slots": 1, "starts_at": local(start).strftime(fmt),
                                                          "ends_at": local(start + dt.timedelta(hours=8)).strftime(fmt)}).status_code == 302
    first, second = Shift.objects.filter(site=site, post="hotline").order_by("starts_at")
    assert lc.post(f"/duty/shifts/{first.pk}/assign/", {"user": o1.pk}).status_code == 302
    assert lc.post(f"/duty/shifts/{second.pk}/assign/", {"user": o2.pk}).status_code == 302
    # Wrong role: an officer cannot plan the hotline's shifts (403); another street's site
    # lead cannot touch this street's site (404).
    oc = as_user(o1)
    assert oc.post(f"/duty/sites/{site.pk}/shifts/", {"post": "hotline", "slots": 1}).status_code == 403
    assert as_user(lead_t).post(f"/duty/sites/{site.pk}/shifts/", {"post": "hotline", "slots": 1}).status_code == 404
    assert as_user(lead_t).post(f"/duty/shifts/{first.pk}/assign/", {"user": other.pk}).status_code == 404
    assert Shift.objects.filter(site=site).count() == 2 and not Assignment.objects.filter(user=other, site=site).exists()

    # The console: o1 on duty now (assigned, not checked in yet), o2 next; not the other street's.
    section = _on_duty_section(oc.get("/hotline/").content.decode())
    now_part, next_part = section.split("</p>", 1)
    assert "值班甲" in now_part and "值班乙" not in now_part and "别街值班" not in section
    assert "值班乙" in next_part and "值班甲" not in next_part
    assert 'class="tag warn"' in now_part and 'class="tag ok"' not in now_part  # not checked in yet
    assert [u.pk for u in queries.officers_on_duty(cast.street.path)] == [o1.pk]
    assert [u.pk for u in queries.officers_on_duty(street_t.path)] == [other.pk]
    # o1 checks in on its duty page (a duty officer's own shifts): the console says so.
    a = Assignment.objects.get(shift=first, user=o1)
    assert oc.post("/duty/me/check/", {"assignment": a.pk, "direction": "in"}).status_code == 302
    a.refresh_from_db()
    assert a.state == Assignment.State.CHECKED_IN
    now_part = _on_duty_section(as_user(o2).get("/hotline/").content.decode()).split("</p>", 1)[0]
    assert "值班甲" in now_part and 'class="tag ok"' in now_part and 'class="tag warn"' not in now_part
    # The street's rota page (the coordinator): the shifts and their people, a link to the site.
    page = as_user(cast.coordinator).get("/hotline/rota/").content.decode()
    assert "值班甲" in page and "值班乙" in page and "别街值班" not in page and f"/duty/sites/{site.pk}/" in page
    assert as_user(cast.coordinator).post("/hotline/rota/", {"officer": o1.pk}).status_code == 405
    assert oc.get("/hotline/rota/").status_code == 403
    # An officer off shift still records a call and owns it.
    r = as_user(o2).post("/hotline/", {"topic": "policy", "question": "外地回来要隔离吗"})
    assert r.status_code == 302 and Call.objects.get(question="外地回来要隔离吗").owner == o2


def test_inflow_note_from_a_call(cast):
    o1, o2 = _officers(cast)
    call = actions.new_call(acting_user=o1, topic="travel", question="儿子从外地回来", person=cast.person_a1)
    r = as_user(o1).post(f"/hotline/calls/{call.pk}/", {"do": "inflow", "text": "靶子甲之子下周从外地返回"})
    assert r.status_code == 302
    assert AuditEvent.objects.filter(action="services.call.inflow_note").count() == 1
    assert as_user(o2).post(f"/hotline/calls/{call.pk}/", {"do": "inflow", "text": "x"}).status_code == 409
    page = as_user(cast.commander).get("/hotline/calls/").content.decode()
    assert o1.username in page


def test_daily_figures_and_overdue_board(cast):
    from fangkong.lib import registry

    o1, = _officers(cast, 1)
    vol, = _volunteers(cast, 1)
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="药", source="staff")
    ServiceRequest.objects.filter(pk=req.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    call = actions.new_call(acting_user=o1, topic="fever_clinic", question="发热门诊在哪", person=cast.person_a2)
    actions.close_call(acting_user=o1, call=call, outcome="已告知")
    today = timezone.localdate()
    figures = {m.key: dict(m.counts(today)) for m in registry.metrics() if m.key.startswith("services.")}
    assert figures["services.requests"] == {cast.person_a1.place_path: 1}
    assert figures["services.overdue"] == {cast.person_a1.place_path: 1}
    assert figures["services.calls"] == {cast.person_a2.place_path: 1}
    assert figures["services.calls_fever_clinic"] == {cast.person_a2.place_path: 1}
    assert figures["services.calls_closed_24h"] == {cast.person_a2.place_path: 1}
    assert figures["services.calls_open"] == {}
    page = as_user(cast.committee_a).get("/services/?state=overdue").content.decode()
    assert "甲社区 1" in page and cast.person_a1.name in page
    assert cast.person_a1.name not in as_user(cast.committee_b).get("/services/?state=overdue").content.decode()
    todos = {t.key for t in registry.todos(cast.committee_a)}
    assert "services.overdue" in todos
    actions.transition(acting_user=vol, request=req, action="accept")
    assert "services.tasks" in {t.key for t in registry.todos(vol)}


def test_hardship_register_import(cast):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import Workbook

    make_user("party_2")
    wb = Workbook()
    ws = wb.active
    ws.append(["困难帮扶台账"])
    ws.append(["身份证号", "困难类别", "致困原因", "困难程度", "健康状况", "帮扶责任人"])
    ws.append([cast.ids["person_a1"], "独居老人", "子女在外地", "较重", "高血压", "party_2"])
    ws.append([cast.ids["person_b1"], "低保", "失业", "一般", "", ""])  # another community: refused like an unknown one
    ws.append([cast.ids["person_a2"], "外星人", "x", "9", "", "nobody"])
    out = BytesIO()
    wb.save(out)
    upload = SimpleUploadedFile("帮扶.xlsx", out.getvalue())
    r = as_user(cast.committee_a).post("/services/hardship/import/", {"file": upload})
    assert r.status_code == 200
    assert HardshipCase.objects.count() == 1
    case = HardshipCase.objects.get()
    assert case.person == cast.person_a1 and case.degree == 2 and case.partner.username == "party_2"
    page = r.content.decode()
    assert "靶子丙" not in page and ">4<" in page and ">5<" in page
    assert as_user(cast.committee_a).post("/services/hardship/import/", {}).status_code == 400


def test_resident_joins_the_group_order_of_their_building(cast):
    order = actions.open_order(acting_user=cast.committee_a, place=cast.compound_a1, title="蔬菜接龙", items=["蔬菜包"],
                               closes_at=timezone.now() + dt.timedelta(hours=1))
    other = actions.open_order(acting_user=cast.committee_b, place=cast.grid_b1, title="乙社区接龙", items=["鸡蛋"],
                               closes_at=timezone.now() + dt.timedelta(hours=1))
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    c = Client()
    page = c.get(f"/r/{token}/services/").content.decode()
    assert "蔬菜接龙" in page and "乙社区接龙" not in page
    assert c.post(f"/r/{token}/services/", {"do": "order", "order": order.pk, "item": "蔬菜包", "quantity": "2"}).status_code == 302
    assert c.post(f"/r/{token}/services/", {"do": "order", "order": other.pk, "item": "鸡蛋", "quantity": "2"}).status_code == 400
    assert OrderLine.objects.get(order=order).quantity == 2 and not OrderLine.objects.filter(order=other).exists()


@pytest.mark.django_db
def test_a_request_is_assigned_only_to_volunteers_of_its_community(cast):
    """From the review: the committee's choice of deliverers held volunteers granted over any
    site of the street (a request's address and phone then reachable from another community)."""
    from fangkong.places.models import Organization
    from fangkong.services.views import _deliverers
    from tests.cast import make_user

    here = Organization.objects.create(kind="site", name="甲发放点", code="SVA", place=cast.comm_a, place_path=cast.comm_a.path)
    there = Organization.objects.create(kind="site", name="乙发放点", code="SVB", place=cast.comm_b, place_path=cast.comm_b.path)
    near = make_user("vol_near", [("volunteer", here)])
    far = make_user("vol_far", [("volunteer", there)])
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="药", source="staff")
    chosen = set(_deliverers(req))
    assert near in chosen and far not in chosen
