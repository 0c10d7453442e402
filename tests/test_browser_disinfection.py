"""Browser test of disinfection (M12) on a phone: the property staff prints the compound's
QR sheet, scans a stairwell's code (the address read back from the printed PDF), logs the
round with the disinfectant used while the phone has no network, and once the network
returns the round is stored once and the stock has gone down; the page fits 390 px."""
from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fangkong.disinfection import actions
from fangkong.disinfection.models import Round
from fangkong.places.actions import create_place
from fangkong.supplies import actions as supplies
from fangkong.supplies.catalogue import install
from fangkong.supplies.models import Entry, Item, Package
from tests.cast import make_user
from tests.test_browser import (ARTIFACTS, PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)
from tests.test_browser_staff import qr_links

pytestmark = pytest.mark.browser


def test_property_scans_a_stairwell_logs_it_offline_and_the_stock_goes_down(live_server, live_cast, open_page):
    cast = live_cast
    install(Item, Package)
    dis = Item.objects.get(code="disinfectant")
    store = supplies.create_holder(acting_user=None, kind="compound", place=cast.compound_a1)
    supplies.receive(acting_user=None, holder=store, item=dis, quantity=20)
    create_place(acting_user=None, kind="building", name="3号楼", code="A1Y-3", parent=cast.compound_a1)
    make_user("property_a", [("property", cast.compound_a1)])
    assert actions.generate_stairwells(acting_user=None, compound=cast.compound_a1, units=2, every_days=1) == 2
    actions.generate(timezone.localdate())
    assert Round.objects.count() == 2

    page = open_page(**PHONE)
    sign_in(page, live_server, "property_a")
    pdf = page.request.get(url(live_server, "disinfection_qr", cast.compound_a1.pk))
    assert pdf.status == 200
    links = qr_links(pdf.body())
    assert len(links) == 2, links
    stairwell = next(link for link in links if link.endswith("/"))
    page.goto(live_server.url + urlsplit(stairwell).path)  # the phone's camera opens the printed address
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    item = page.locator("#rounds li[data-round]")
    expect(item).to_have_count(1)
    r = Round.objects.get(pk=int(item.get_attribute("data-round")))
    assert r.target.code in stairwell
    assert no_horizontal_overflow(page), "the disinfection page scrolls sideways on a phone"
    screenshot(page, "disinfection-1-scanned-phone")

    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    item.locator("select[name=agent]").select_option(str(dis.pk))
    item.locator("input[name=amount]").fill("3")
    item.locator("button[type=submit]").dblclick()
    expect(page.locator("#waiting")).to_have_text("1")
    expect(item).to_have_attribute("data-state", "done")
    assert Round.objects.get(pk=r.pk).state == "due"
    screenshot(page, "disinfection-2-queued-offline-phone")

    page.context.set_offline(False)
    page.locator("#sync-now").click()
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    r.refresh_from_db()
    assert r.state == "done" and r.offline and r.amount == 3 and r.agent_id == dis.pk
    assert supplies.on_hand(store, dis) == 17
    assert Entry.objects.filter(task="disinfection.round").count() == 1
    assert not page.js_errors
