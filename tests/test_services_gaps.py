"""Resident services (issue 20): receipt photos on deliveries, the delivery sheet per
distribution point, the hand-overs' offline queue (client ids sent once), imports of group
orders and of the points' plan, the command module's notices in force on the hotline console,
and goods issued from the supplies ledger by hand-overs and revisits."""
from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fangkong.places.actions import create_place
from fangkong.residents.actions import create_household
from fangkong.services import actions
from fangkong.services.models import DistributionPoint, Handover, OrderLine, Revisit, ServiceRequest
from fangkong.uploads.models import Attachment
from tests.cast import make_user

S = ServiceRequest.State


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(buf, "PNG")
    return buf.getvalue()


def xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _vol(cast, name="vol_g"):
    return make_user(name, [("volunteer", cast.comm_a)])


# --- 1. Receipt photos ---------------------------------------------------------------------

def test_receipt_photo_on_a_delivery_private_checked_and_shown_to_the_committee(cast, settings):
    vol, other = _vol(cast), _vol(cast, "vol_h")
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="降压药", source="staff")
    c = as_user(vol)
    assert c.post(f"/services/tasks/{req.pk}/accept/").status_code == 302
    # Not an image: refused with the reason, the purchase not marked either.
    r = c.post(f"/services/tasks/{req.pk}/bought/", {"amount": "30", "receipt": SimpleUploadedFile("r.png", b"not a png")})
    assert r.status_code == 400
    req.refresh_from_db()
    assert req.state == S.ACCEPTED and not Attachment.objects.exists()
    r = c.post(f"/services/tasks/{req.pk}/bought/", {"amount": "30", "receipt": SimpleUploadedFile("票据.png", png_bytes())})
    assert r.status_code == 302
    req.refresh_from_db()
    assert req.state == S.BOUGHT
    att = Attachment.objects.get()
    assert att.owner_type == "services.servicerequest" and att.owner_id == req.pk and att.content_type.startswith("image/")
    assert att.place_path == req.place_path
    # Too big: refused, nothing stored.
    settings.UPLOAD_MAX_BYTES = 100
    r = c.post(f"/services/tasks/{req.pk}/receipt/", {"receipt": SimpleUploadedFile("big.png", png_bytes())})
    assert r.status_code == 400 and Attachment.objects.count() == 1
    settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    # A second photo through the API.
    r = c.post(f"/api/services/tasks/{req.pk}/receipt", {"file": SimpleUploadedFile("2.png", png_bytes())})
    assert r.status_code == 201, r.content
    assert Attachment.objects.filter(owner_id=req.pk).count() == 2
    # Another volunteer of the area: not its task (409); outside the area (404); not a deliverer (403).
    r = as_user(other).post(f"/services/tasks/{req.pk}/receipt/", {"receipt": SimpleUploadedFile("x.png", png_bytes())})
    assert r.status_code == 409
    vol_b = make_user("vol_b", [("volunteer", cast.comm_b)])
    assert as_user(vol_b).post(f"/services/tasks/{req.pk}/receipt/",
                               {"receipt": SimpleUploadedFile("x.png", png_bytes())}).status_code == 404
    assert as_user(cast.commander).post(f"/services/tasks/{req.pk}/receipt/",
                                        {"receipt": SimpleUploadedFile("x.png", png_bytes())}).status_code == 403
    assert Attachment.objects.count() == 2
    # The committee sees the receipts on the request's page and opens them; the other committee cannot.
    page = as_user(cast.committee_a).get(f"/services/{req.pk}/").content.decode()
    assert f"/uploads/{att.pk}/" in page
    assert as_user(cast.committee_a).get(f"/uploads/{att.pk}/").status_code == 200
    assert as_user(cast.committee_b).get(f"/uploads/{att.pk}/").status_code == 404
    assert as_user(cast.committee_b).get(f"/services/{req.pk}/").status_code == 404
    # Settled: no more receipts.
    actions.transition(acting_user=vol, request=req, action="deliver", code=req.code)
    actions.transition(acting_user=vol, request=req, action="settle", amount="30")
    r = c.post(f"/services/tasks/{req.pk}/receipt/", {"receipt": SimpleUploadedFile("late.png", png_bytes())})
    assert r.status_code == 409 and Attachment.objects.count() == 2


# --- 2. The delivery sheet per distribution point ------------------------------------------------

def _two_points(cast):
    b1 = create_place(acting_user=None, kind="building", name="1号楼", code="A1Y-1", parent=cast.compound_a1)
    b2 = create_place(acting_user=None, kind="building", name="2号楼", code="A1Y-2", parent=cast.compound_a1)
    h1 = create_household(acting_user=None, place=b1, address="甲一小区5号楼101室")
    h2 = create_household(acting_user=None, place=b1, address="甲一小区5号楼102室")
    h3 = create_household(acting_user=None, place=b2, address="甲一小区6号楼201室")
    east = actions.create_point(acting_user=None, community=cast.comm_a, name="东门发放点", buildings=[b1])
    west = actions.create_point(acting_user=None, community=cast.comm_a, name="西门发放点", buildings=[b2])
    return b1, b2, (h1, h2, h3), east, west


def _compound_b(cast):
    return create_place(acting_user=None, kind="compound", name="乙一小区", code="B1Y", parent=cast.grid_b1)


def _rows(ws):
    return [[c for c in row] for row in ws.iter_rows(values_only=True)]


def test_delivery_sheet_per_distribution_point_read_back(cast):
    b1, b2, (h1, h2, h3), east, west = _two_points(cast)
    order = actions.open_order(acting_user=cast.committee_a, place=cast.compound_a1, title="周三蔬菜", items="蔬菜包,鸡蛋",
                               closes_at=timezone.now() + dt.timedelta(hours=2))
    actions.set_quantity(acting_user=None, order=order, household=h1, item="蔬菜包", quantity=2)
    actions.set_quantity(acting_user=None, order=order, household=h1, item="鸡蛋", quantity=1)
    actions.set_quantity(acting_user=None, order=order, household=h2, item="鸡蛋", quantity=3)
    actions.set_quantity(acting_user=None, order=order, household=h3, item="蔬菜包", quantity=5)
    actions.set_quantity(acting_user=None, order=order, household=cast.hh_a1, item="鸡蛋", quantity=4)  # under no point
    c = as_user(cast.committee_a)
    wb = load_workbook(io.BytesIO(c.get(f"/services/orders/{order.pk}/sheet.xlsx").content))
    assert wb.sheetnames[1:] == ["东门发放点", "西门发放点", wb.sheetnames[-1]] and len(wb.sheetnames) == 4
    east_rows = _rows(wb["东门发放点"])
    assert east_rows[0][0] == "东门发放点"
    assert east_rows[2:4] == [["1号楼", "甲一小区5号楼101室", 2, 1], ["1号楼", "甲一小区5号楼102室", 0, 3]]
    assert east_rows[4][2:] == [2, 4]  # the point's totals
    assert _rows(wb["西门发放点"])[2] == ["2号楼", "甲一小区6号楼201室", 5, 0]
    assert [r[1] for r in _rows(wb[wb.sheetnames[-1]])[2:-1]] == [cast.hh_a1.address]
    purchase = _rows(wb[wb.sheetnames[0]])
    assert purchase[1:] == [["蔬菜包", 7], ["鸡蛋", 8]]
    # One point's sheet alone.
    one = load_workbook(io.BytesIO(c.get(f"/services/orders/{order.pk}/sheet.xlsx?point={west.pk}").content))
    assert one.sheetnames == ["西门发放点"] and len(_rows(one.active)) == 4
    assert c.get(f"/services/orders/{order.pk}/sheet.xlsx?point=999999").status_code == 404
    assert as_user(cast.committee_b).get(f"/services/orders/{order.pk}/sheet.xlsx?point={west.pk}").status_code == 404
    assert as_user(cast.worker_a1).get(f"/services/orders/{order.pk}/sheet.xlsx").status_code == 403
    assert f"?point={east.pk}" in c.get(f"/services/orders/{order.pk}/").content.decode()


# --- 3. Hand-overs queued on the phone: sent once ------------------------------------------------

def test_handover_resend_is_already_recorded_another_mark_is_409(cast):
    b1, _b2, (h1, h2, _h3), east, _west = _two_points(cast)
    vol = _vol(cast)
    east.staff.add(vol)
    rnd = actions.open_round(acting_user=None, point=east, day=timezone.localdate(), what="蔬菜包")
    c = as_user(vol)
    cid = str(uuid.uuid4())
    url = f"/api/services/rounds/{rnd.pk}/handovers"
    r = c.post(url, {"room": "101", "client_id": cid}, content_type="application/json")
    assert r.status_code == 201 and r.json()["already"] is False
    r = c.post(url, {"room": "101", "client_id": cid}, content_type="application/json")  # the resend
    assert r.status_code == 200 and r.json()["already"] is True
    r = c.post(url, {"room": "101", "client_id": str(uuid.uuid4())}, content_type="application/json")  # another mark
    assert r.status_code == 409
    r = c.post(url, {"room": "102", "client_id": cid}, content_type="application/json")  # the id reused elsewhere
    assert r.status_code == 409
    assert Handover.objects.filter(round=rnd).count() == 1
    # The phone's queue in a batch: new, resent, a second mark of a household, an unknown room,
    # a round of another community (unknown to this volunteer).
    other_b = create_place(acting_user=None, kind="building", name="乙1号楼", code="B1-1", parent=_compound_b(cast))
    create_household(acting_user=None, place=other_b, address="乙小区1号楼101室")
    point_b = actions.create_point(acting_user=None, community=cast.comm_b, name="乙发放点", buildings=[other_b])
    rnd_b = actions.open_round(acting_user=None, point=point_b, day=timezone.localdate(), what="蔬菜包")
    c2 = str(uuid.uuid4())
    entries = [{"client_id": c2, "round": rnd.pk, "room": "102", "device_at": timezone.now().isoformat()},
               {"client_id": cid, "round": rnd.pk, "room": "101"},
               {"client_id": str(uuid.uuid4()), "round": rnd.pk, "room": "102"},
               {"client_id": str(uuid.uuid4()), "round": rnd.pk, "room": "999"},
               {"client_id": str(uuid.uuid4()), "round": rnd_b.pk, "room": "101"}]
    body = c.post("/api/services/handovers/batch", {"entries": entries}, content_type="application/json").json()
    assert [(x["client_id"], x["already"]) for x in body["recorded"]] == [(c2, False), (cid, True)]
    assert [list(x["errors"]) for x in body["rejected"]] == [["household"], ["room"], ["round"]]
    assert Handover.objects.filter(round=rnd).count() == 2 and not Handover.objects.filter(round=rnd_b).exists()
    # Sent again whole (the answer was lost): nothing new.
    body = c.post("/api/services/handovers/batch", {"entries": entries[:2]}, content_type="application/json").json()
    assert [x["already"] for x in body["recorded"]] == [True, True]
    assert Handover.objects.filter(round=rnd).count() == 2
    # The page form with a client id behaves alike (no script: a plain form post).
    r = c.post(f"/services/rounds/{rnd.pk}/", {"room": "102", "client_id": c2})
    assert r.status_code == 302
    assert as_user(cast.commander).post("/api/services/handovers/batch", {"entries": []},
                                        content_type="application/json").status_code == 403
    # The page carries the queue's script and its service worker (code only, public).
    page = c.get(f"/services/rounds/{rnd.pk}/").content.decode()
    assert "handover-config" in page and "services/handover.js" in page
    sw = Client().get("/services/rounds/sw.js")
    assert sw.status_code == 200 and sw["Service-Worker-Allowed"] == "/services/rounds/"


# --- 4. Imports ----------------------------------------------------------------------------------

def test_group_order_quantities_imported_from_the_owners_list(cast):
    _b1, _b2, (h1, h2, h3), _east, _west = _two_points(cast)
    order = actions.open_order(acting_user=cast.committee_a, place=cast.compound_a1, title="周三蔬菜", items="蔬菜包,鸡蛋",
                               closes_at=timezone.now() + dt.timedelta(hours=2))
    rows = [["周三蔬菜接龙"], ["房号", "地址", "蔬菜包", "鸡蛋", "备注"],
            ["", h1.address, 2, 1, "放门口"],
            ["201", "", 3, "", ""],  # by room number; eggs left blank
            ["", "乙小区1号楼101室", 1, 1, ""],  # not a household of the order
            ["", h2.address, "两个", 1, ""]]  # not a number: the row is refused whole
    upload = SimpleUploadedFile("接龙.xlsx", xlsx(rows))
    r = as_user(cast.worker_a1).post(f"/services/orders/{order.pk}/import/", {"file": upload})
    assert r.status_code == 200
    got = {(line.household_id, line.item): line.quantity for line in OrderLine.objects.filter(order=order)}
    assert got == {(h1.pk, "蔬菜包"): 2, (h1.pk, "鸡蛋"): 1, (h3.pk, "蔬菜包"): 3}
    page = r.content.decode()
    assert ">5<" in page and ">6<" in page and ">3<" not in page
    assert as_user(cast.committee_b).post(f"/services/orders/{order.pk}/import/", {"file": upload}).status_code == 404
    assert as_user(cast.commander).get(f"/services/orders/{order.pk}/import/").status_code == 403
    actions.close_order(acting_user=cast.committee_a, order=order)
    again = SimpleUploadedFile("接龙.xlsx", xlsx(rows[1:3]))
    assert as_user(cast.committee_a).post(f"/services/orders/{order.pk}/import/", {"file": again}).status_code == 409


def test_points_plan_imported_all_or_nothing(cast):
    b1 = create_place(acting_user=None, kind="building", name="1号楼", code="A1Y-1", parent=cast.compound_a1)
    b2 = create_place(acting_user=None, kind="building", name="2号楼", code="A1Y-2", parent=cast.compound_a1)
    create_place(acting_user=None, kind="building", name="乙1号楼", code="B1-1", parent=_compound_b(cast))
    make_user("cadre_1")
    make_user("vol_1")
    bad = [["发放点", "楼栋编码", "工作人员"], ["东门发放点", "A1Y-1", "cadre_1、vol_1"], ["西门发放点", "B1-1", ""],
           ["西门发放点", "A1Y-2", "nobody"]]
    c = as_user(cast.committee_a)
    r = c.post("/services/points/import/", {"file": SimpleUploadedFile("points.xlsx", xlsx(bad))})
    assert r.status_code == 200 and not DistributionPoint.objects.exists()
    assert ">3<" in r.content.decode() and ">4<" in r.content.decode()
    good = [bad[0], bad[1], ["西门发放点", "A1Y-2", "vol_1"]]
    r = c.post("/services/points/import/", {"file": SimpleUploadedFile("points.xlsx", xlsx(good))})
    assert r.status_code == 200
    east, west = DistributionPoint.objects.order_by("name")
    assert {east.name, west.name} == {"东门发放点", "西门发放点"}
    east = DistributionPoint.objects.get(name="东门发放点")
    assert list(east.buildings.all()) == [b1] and {u.username for u in east.staff.all()} == {"cadre_1", "vol_1"}
    assert east.place == cast.comm_a
    # A building moves to the point of its new row (one point per building).
    moved = [bad[0], ["西门发放点", "A1Y-1", ""]]
    c.post("/services/points/import/", {"file": SimpleUploadedFile("points.csv", "\n".join(
        ",".join(map(str, row)) for row in moved).encode("gbk"))})
    assert not DistributionPoint.objects.get(name="东门发放点").buildings.exists()
    assert set(DistributionPoint.objects.get(name="西门发放点").buildings.all()) == {b1, b2}
    assert as_user(cast.worker_a1).get("/services/points/import/").status_code == 403
    # Another community's committee: the buildings are not in its area; nothing changes.
    r = as_user(cast.committee_b).post("/services/points/import/", {"file": SimpleUploadedFile("p.xlsx", xlsx(
        [bad[0], ["乙发放点", "A1Y-1", ""]]))})
    assert r.status_code == 200 and not DistributionPoint.objects.filter(name="乙发放点").exists()
    assert set(DistributionPoint.objects.get(name="西门发放点").buildings.all()) == {b1, b2}
    west = DistributionPoint.objects.get(name="西门发放点")
    assert as_user(cast.committee_b).post("/services/points/", {"do": "holder", "point": west.pk}).status_code == 400


# --- 5. The command module's notices in force on the hotline console --------------------------------

def test_hotline_console_shows_the_notices_in_force(cast):
    from fangkong.command import actions as command

    officer = make_user("duty_n", [("duty_officer", cast.street)])
    hq = command.create_hq(acting_user=cast.admin, place=cast.street, name="测试街道疫情防控指挥部")
    n = command.draft_notice(acting_user=cast.coordinator, hq=hq, title="关于发热门诊开放时间的通知",
                             body="街道社区卫生服务中心发热门诊24小时开放。", places=[cast.comm_a, cast.comm_b])
    n = command.notice_action(acting_user=cast.coordinator, notice=n, action="submit")
    draft = command.draft_notice(acting_user=cast.coordinator, hq=hq, title="尚未发布的通告", body="草稿",
                                 places=[cast.comm_a])
    c = as_user(officer)
    page = c.get("/hotline/").content.decode()
    assert n.title not in page  # not published yet: not in force
    n = command.publish(acting_user=cast.commander, notice=n)
    page = c.get("/hotline/").content.decode()
    assert n.title in page and n.serial in page and draft.title not in page
    assert n.title in c.get("/hotline/?q=发热门诊").content.decode()
    assert n.title not in c.get("/hotline/?q=核酸检测").content.decode()
    command.notice_action(acting_user=cast.commander, notice=n, action="withdraw", reason="已调整")
    assert n.title not in c.get("/hotline/").content.decode()


# --- 6. Goods from the supplies ledger -----------------------------------------------------------

@pytest.fixture
def stock(cast):
    from fangkong.supplies import actions as supplies
    from fangkong.supplies.catalogue import install
    from fangkong.supplies.models import Item, Package

    install(Item, Package)
    hy = supplies.create_holder(acting_user=None, kind="compound", place=cast.compound_a1)
    hb = supplies.create_holder(acting_user=None, kind="compound", place=_compound_b(cast))
    masks = Item.objects.get(code="masks")
    supplies.receive(acting_user=None, holder=hy, item=masks, quantity=5)
    return {"hy": hy, "hb": hb, "masks": masks, "on_hand": lambda: supplies.on_hand(hy, masks)}


def test_handovers_issue_from_the_points_holder_when_it_has_one(cast, stock):
    from fangkong.supplies.models import Entry

    _b1, _b2, (h1, h2, _h3), east, _west = _two_points(cast)
    vol = _vol(cast)
    c = as_user(cast.committee_a)
    # No holder: a round may hand out goods outside the ledger, not from it.
    r = c.post("/services/points/", {"point": east.pk, "what": "口罩", "item": stock["masks"].pk, "quantity_each": "2"})
    assert r.status_code == 400
    plain = actions.open_round(acting_user=None, point=east, day=timezone.localdate(), what="蔬菜包")
    actions.hand_over(acting_user=vol, rnd=plain, household=h1)
    assert not Entry.objects.filter(task="services.handover").exists() and stock["on_hand"]() == 5
    # The holder: of the point's community only.
    assert c.post("/services/points/", {"do": "holder", "point": east.pk, "holder": stock["hb"].pk}).status_code == 400
    assert c.post("/services/points/", {"do": "holder", "point": east.pk, "holder": stock["hy"].pk}).status_code == 302
    east.refresh_from_db()
    assert east.holder == stock["hy"]
    r = c.post("/services/points/", {"point": east.pk, "what": "口罩", "item": stock["masks"].pk, "quantity_each": "2"})
    assert r.status_code == 302
    rnd = east.rounds.get(item=stock["masks"])
    cid = str(uuid.uuid4())
    h = actions.hand_over(acting_user=vol, rnd=rnd, household=h1, client_id=cid)
    assert stock["on_hand"]() == 3
    entry = Entry.objects.get(task="services.handover")
    assert entry.task_id == h.pk and entry.quantity == -2 and entry.holder == stock["hy"]
    actions.hand_over(acting_user=vol, rnd=rnd, household=h1, client_id=cid)  # the resend takes nothing more
    assert stock["on_hand"]() == 3
    actions.hand_over(acting_user=vol, rnd=rnd, household=h2)
    assert stock["on_hand"]() == 1
    # Too little on hand: 409, nothing marked.
    h3 = create_household(acting_user=None, place=_b1, address="甲一小区5号楼103室")
    r = as_user(cast.committee_a).post(f"/api/services/rounds/{rnd.pk}/handovers", {"household_id": h3.pk},
                                       content_type="application/json")
    assert r.status_code == 409
    assert not Handover.objects.filter(round=rnd, household=h3).exists() and stock["on_hand"]() == 1


def test_revisits_issue_from_the_cases_holder_when_it_has_one(cast, stock):
    from fangkong.supplies.models import Entry

    partner = make_user("party_l")
    case = actions.register_case(acting_user=cast.committee_a, person=cast.person_a1, category="elderly_alone",
                                 cause="独居", degree=2)
    actions.pair(acting_user=cast.committee_a, case=case, partner=partner)
    p = as_user(partner)
    # No holder: the revisit records what was brought, no ledger entry; an item is refused.
    assert p.post("/services/pairing/", {"case": case.pk, "given": "米"}).status_code == 302
    assert p.post("/services/pairing/", {"case": case.pk, "item": stock["masks"].pk, "quantity": "2"}).status_code == 400
    assert not Entry.objects.filter(task="services.revisit").exists()
    c = as_user(cast.committee_a)
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "holder", "holder": stock["hb"].pk}).status_code == 400
    assert c.post(f"/services/hardship/{case.pk}/", {"do": "holder", "holder": stock["hy"].pk}).status_code == 302
    r = p.post("/services/pairing/", {"case": case.pk, "given": "口罩", "item": stock["masks"].pk, "quantity": "3"})
    assert r.status_code == 302
    visit = Revisit.objects.filter(case=case).order_by("-id").first()
    entry = Entry.objects.get(task="services.revisit")
    assert entry.task_id == visit.pk and entry.quantity == -3 and stock["on_hand"]() == 2
    assert visit.item == stock["masks"] and visit.quantity == 3
    # Too little on hand: 409, no revisit recorded.
    before = Revisit.objects.count()
    assert p.post("/services/pairing/", {"case": case.pk, "item": stock["masks"].pk, "quantity": "5"}).status_code == 409
    assert Revisit.objects.count() == before and stock["on_hand"]() == 2
    assert as_user(cast.committee_b).post(f"/services/hardship/{case.pk}/",
                                          {"do": "holder", "holder": stock["hy"].pk}).status_code == 404


# --- The hotline's rota moved onto the duty module ---------------------------------------------

BEFORE_ROTA = [("services", "0002_ledger_receipts_offline"), ("duty", "0004_hotline_post")]


@pytest.mark.django_db(transaction=True)
def test_old_hotline_rota_rows_become_duty_assignments_then_the_table_is_dropped(cast):
    """The database as it was with services.DutyShift: services/0003 makes each street a
    hotline site, deploys the officers there and turns every row into an assignment to a
    shift of the post "hotline" (shifts of the same times one shift with more places; a
    shift over served as planned, one running or ahead waiting for its check-in), then
    drops the table; the console reads the moved rota; undone, the rows come back."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from fangkong.duty.models import Assignment, Deployment, Shift
    from fangkong.places.models import Organization

    o1 = make_user("duty_m1", [("duty_officer", cast.street)])
    o2 = make_user("duty_m2", [("duty_officer", cast.street)])
    street_t = create_place(acting_user=None, kind="street", name="别的街道", code="T", parent=None)
    ot = make_user("duty_mt", [("duty_officer", street_t)])
    now = timezone.now()
    h = dt.timedelta(hours=1)
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        MigrationExecutor(connection).migrate(BEFORE_ROTA)
        old = MigrationExecutor(connection).loader.project_state(BEFORE_ROTA).apps
        DutyShift = old.get_model("services", "DutyShift")
        S_ = cast.street.path
        for officer, path, start, end in ((o1, S_, now - 20 * h, now - 8 * h), (o1, S_, now - h, now + 11 * h),
                                          (o2, S_, now - h, now + 11 * h), (o2, S_, now + 11 * h, now + 23 * h),
                                          (ot, street_t.path, now - h, now + 11 * h)):
            DutyShift.objects.create(officer_id=officer.pk, place_path=path, starts_at=start, ends_at=end)
        MigrationExecutor(connection).migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert "services_dutyshift" not in connection.introspection.table_names()
    site = Organization.objects.get(kind="site", place=cast.street, code__startswith="HOTLINE")  # besides the cast's site
    assert site.code == "HOTLINE-S" and site.place_path == cast.street.path and "热线" in site.name
    shifts = list(Shift.objects.filter(site=site, post="hotline").order_by("starts_at"))
    assert [(s.starts_at, s.slots) for s in shifts] == [(now - 20 * h, 1), (now - h, 2), (now + 11 * h, 1)]
    past = Assignment.objects.get(shift=shifts[0])
    assert (past.user_id, past.state, past.checkin_at, past.checkout_at, past.minutes) == (
        o1.pk, "checked_out", now - 20 * h, now - 8 * h, 720)
    assert set(Assignment.objects.filter(shift=shifts[1]).values_list("user_id", "state")) == {(o1.pk, "assigned"),
                                                                                               (o2.pk, "assigned")}
    assert set(Deployment.objects.filter(site=site).values_list("user_id", flat=True)) == {o1.pk, o2.pk}
    assert Assignment.objects.filter(site__place=street_t, user=ot, shift__post="hotline").count() == 1
    # The console reads the moved rota: both on duty now (not checked in), o2 next; not the other street's.
    section = as_user(o1).get("/hotline/").content.decode().split('id="hotline-on-duty"', 1)[1].split("</section>")[0]
    now_part, next_part = section.split("</p>", 1)
    assert "duty_m1" in now_part and "duty_m2" in now_part and "duty_mt" not in section and "duty_m2" in next_part
    # Undone: the old rows come back from the hotline assignments.
    try:
        MigrationExecutor(connection).migrate(BEFORE_ROTA)
        back = MigrationExecutor(connection).loader.project_state(BEFORE_ROTA).apps.get_model("services", "DutyShift")
        assert sorted(back.objects.values_list("officer_id", "starts_at")) == sorted(
            [(o1.pk, now - 20 * h), (o1.pk, now - h), (o2.pk, now - h), (o2.pk, now + 11 * h), (ot.pk, now - h)])
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert "services_dutyshift" not in connection.introspection.table_names()
