"""Browser test of the gate page on a phone: a guard checks a pass typed into the scanner
field (checked in the browser with the cached keys), records an entry, loses the network,
records three more (queued on the device), gets the network back, and they arrive once."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangkong.gates.models import GateEntry
from fangkong.passes import tokens
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser


def _token(pass_id, masked, colour="green"):
    return tokens.sign(pass_id=pass_id, kind="resident", colour=colour, masked=masked,
                       expires_at=timezone.now() + dt.timedelta(hours=8))


def test_gate_page_checks_passes_offline_and_syncs_the_queue_once(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    tokens.clear_cache()
    page = open_page(**PHONE)
    sign_in(page, live_server, "guard_a")
    page.goto(url(live_server, "gates_gate"))
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    page.wait_for_function("() => Object.keys(JSON.parse(localStorage.getItem('fk-gate-trust') || '{}').keys || {}).length > 0")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    scan = page.locator("#scan")
    scan.fill(_token(101, "靶*甲"))
    scan.press("Enter")
    expect(page.locator("#result")).to_have_class("result green ok")
    expect(page.locator("#result-name")).to_have_text("靶*甲")
    page.locator("#temperature").fill("36.6")
    screenshot(page, "gates-1-checked-phone")
    page.locator("#btn-in").click()
    expect(page.locator("#waiting")).to_have_text("0")
    assert GateEntry.objects.count() == 1
    e = GateEntry.objects.get()
    assert (e.decision, e.masked, e.offline, str(e.temperature)) == ("allowed", "靶*甲", False, "36.6")

    # A forged code is refused on the spot, in the browser.
    good = _token(102, "靶*乙", colour="red")
    head, payload, sig = good.split(".")
    scan.fill(f"{head}.{payload}.{sig[:-4]}AAAA")
    scan.press("Enter")
    expect(page.locator("#result")).to_have_class("result none refused")

    # Offline: three entries are queued on the device.
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    for i, masked in enumerate(["甲*一", "乙*二", "丙*三"]):
        scan.fill(_token(200 + i, masked))
        scan.press("Enter")
        expect(page.locator("#result-name")).to_have_text(masked)
        page.locator("#btn-in" if i != 1 else "#btn-out").click()
        expect(page.locator("#waiting")).to_have_text(str(i + 1))
    expect(page.locator("#waiting")).to_have_text("3")
    assert no_horizontal_overflow(page), "the gate page scrolls sideways on a phone"
    screenshot(page, "gates-2-offline-3-waiting-phone")
    assert GateEntry.objects.count() == 1

    # The page itself survives a reload without the network (service worker).
    page.reload()
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#waiting")).to_have_text("3")

    # Back online: the queue goes out once.
    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    screenshot(page, "gates-3-synced-phone")
    page.locator("#sync-now").click()  # a second sync sends nothing again
    page.wait_for_timeout(500)
    offline = GateEntry.objects.filter(offline=True)
    assert offline.count() == 3 and GateEntry.objects.count() == 4
    assert sorted(offline.values_list("masked", flat=True)) == sorted(["甲*一", "乙*二", "丙*三"])
    assert set(offline.values_list("decision", flat=True)) == {"allowed"}
    assert offline.filter(direction="out").count() == 1
    assert not page.js_errors, page.js_errors
