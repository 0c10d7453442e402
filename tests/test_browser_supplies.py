"""Browser test of supplies (M11) on a phone: a station's storekeeper opens its holder,
takes disinfectant out for a disinfection round and sees the stock go down; the page fits
390 px; a double tap posts once."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fangkong.places.actions import create_organization
from fangkong.supplies import actions
from fangkong.supplies.catalogue import install
from fangkong.supplies.models import Entry, Item, Package
from tests.cast import make_user
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)

pytestmark = pytest.mark.browser


def test_keeper_takes_disinfectant_on_a_phone_and_stock_goes_down(live_server, live_cast, open_page):
    install(Item, Package)
    dis = Item.objects.get(code="disinfectant")
    station = create_organization(acting_user=None, kind="station", name="甲协调站", code="STA", place=live_cast.comm_a)
    wh = actions.create_holder(acting_user=None, kind="warehouse", name="街道物资仓库", place=live_cast.street)
    h = actions.create_holder(acting_user=None, kind="station", organization=station, supplier=wh)
    actions.receive(acting_user=None, holder=h, item=dis, quantity=3, package="桶")  # 60 jin
    make_user("keeper_a", [("storekeeper", station)])

    page = open_page(**PHONE)
    sign_in(page, live_server, "keeper_a")
    page.goto(url(live_server, "supplies_holder", h.pk))
    row = page.locator("#stock tr[data-item=disinfectant] .on-hand")
    assert row.inner_text().startswith("60")
    assert no_horizontal_overflow(page), "the holder's page scrolls sideways on a phone"
    screenshot(page, "supplies-1-holder-phone")
    form = page.locator("#take-form")
    form.locator("select[name=item]").select_option(str(dis.pk))
    form.locator("input[name=quantity]").fill("8")
    form.locator("select[name=kind]").select_option("consume")
    form.locator("input[name=recipient]").fill("3号楼楼道消杀")
    form.locator("button[type=submit]").dblclick()
    # The form posts and redirects back to this same page, so waiting for its URL returns at
    # once (a CI run read the old page): wait for the new stock to be shown instead.
    expect(page.locator("#stock tr[data-item=disinfectant] .on-hand")).to_have_text(re.compile(r"^52"))
    page.wait_for_load_state()
    assert Entry.objects.filter(holder=h, kind="consume").count() == 1
    assert actions.on_hand(h, dis) == 52
    screenshot(page, "supplies-2-taken-phone")
    assert not page.js_errors
