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
    expect(page.locator("#result")).to_have_class("result admitted")
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
    expect(page.locator("#result")).to_have_class("result refused")

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


@pytest.fixture
def guard_of_two_compounds(live_cast):
    """Compound A1 (the cast's) and a second compound A2, both guarded by one guard."""
    from fangkong.places.actions import create_place
    from tests.cast import make_user

    a2 = create_place(acting_user=None, kind="compound", name="甲二小区", code="A2Y", parent=live_cast.grid_a2)
    make_user("guard_both", [("gate_guard", live_cast.comm_a)])
    return live_cast.compound_a1, a2


def _gate_page(page, live_server, username):
    from playwright.sync_api import expect

    sign_in(page, live_server, username)
    page.goto(url(live_server, "gates_gate"))
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    page.wait_for_function("() => Object.keys(JSON.parse(localStorage.getItem('fk-gate-trust') || '{}').keys || {}).length > 0")


def _scan(page, token):
    scan = page.locator("#scan")
    scan.fill(token)
    scan.press("Enter")


def test_a_visitor_pass_is_refused_offline_at_another_compounds_gate(live_server, live_cast, guard_of_two_compounds,
                                                                     open_page):
    from playwright.sync_api import expect

    from fangkong.passes import actions as passes

    a1, a2 = guard_of_two_compounds
    tokens.clear_cache()
    passes.clear_revocation_cache()
    page = open_page(**PHONE)
    _gate_page(page, live_server, "guard_both")
    _pass, visitor = passes.issue_visitor_pass(acting_user=live_cast.committee_a, name="访客李四", phone="13912345678",
                                               reason="探亲", host_household=live_cast.hh_a1, hours=3, place=a1)
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    page.locator("#checkpoint").select_option(str(a2.pk))
    _scan(page, visitor)
    expect(page.locator("#result")).to_have_class("result check")
    expect(page.locator("#result-valid")).to_contain_text("该临时通行证不是本小区的")
    screenshot(page, "gates-4-visitor-other-compound-phone")
    page.locator("#btn-in").click()  # recorded as refused at A2
    expect(page.locator("#waiting")).to_have_text("1")
    page.locator("#checkpoint").select_option(str(a1.pk))
    _scan(page, visitor)
    expect(page.locator("#result")).to_have_class("result admitted")
    page.locator("#btn-in").click()
    expect(page.locator("#waiting")).to_have_text("2")
    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    got = sorted(GateEntry.objects.values_list("place_id", "decision", "reason_code", "flagged", "offline"))
    assert got == sorted([(a2.pk, "refused", "wrong_place", False, True), (a1.pk, "allowed", "", False, True)])
    assert not page.js_errors, page.js_errors


def test_after_a_key_rotation_the_gate_page_fetches_the_new_keys_online_and_says_so_offline(
        live_server, live_cast, open_page):
    from playwright.sync_api import expect

    tokens.clear_cache()
    page = open_page(**PHONE)
    _gate_page(page, live_server, "guard_a")
    old_kids = set(page.evaluate("() => Object.keys(JSON.parse(localStorage.getItem('fk-gate-trust')).keys)"))
    new_kid = tokens.rotate_key()
    assert new_kid not in old_kids

    # Offline, a code of the new key: "unknown key, connect to update", not "forged".
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    _scan(page, _token(301, "新*钥"))
    expect(page.locator("#result")).to_have_class("result refused")
    expect(page.locator("#result-valid")).to_contain_text("未知密钥：请联网更新密钥")
    assert "伪造" not in page.locator("#result-valid").inner_text()
    screenshot(page, "gates-5-unknown-key-offline-phone")

    # Online, the unknown key id makes the page fetch the keys (not only the server's answer).
    page.context.set_offline(False)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    _scan(page, _token(302, "新*钥"))
    expect(page.locator("#result")).to_have_class("result admitted")
    page.wait_for_function("(kid) => kid in JSON.parse(localStorage.getItem('fk-gate-trust')).keys", arg=new_kid)
    # And offline again, the new key's codes are checked on the device.
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    _scan(page, _token(303, "再*次"))
    expect(page.locator("#result")).to_have_class("result admitted")
    expect(page.locator("#result-name")).to_have_text("再*次")
    assert not page.js_errors, page.js_errors


RED, GREEN, AMBER = "rgb(198, 40, 40)", "rgb(27, 138, 58)", "rgb(242, 183, 5)"


def _box_colour(page) -> str:
    return page.evaluate("() => getComputedStyle(document.getElementById('result')).backgroundColor")


def test_the_result_box_says_what_the_guard_must_do_not_the_pass_colour(live_server, live_cast, open_page, settings):
    """A green pass with a fever is refused: the box turns red once the entry is recorded,
    never stays green; a yellow code the policy lets in asks for a look (amber)."""
    from playwright.sync_api import expect

    from fangkong.gates import actions as gate_actions

    tokens.clear_cache()
    page = open_page(**PHONE)
    _gate_page(page, live_server, "guard_a")
    page.context.set_offline(True)  # the page decides on its own: the same outcome as online
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    _scan(page, _token(501, "热*一"))
    expect(page.locator("#result")).to_have_class("result admitted")
    assert _box_colour(page) == GREEN
    page.locator("#temperature").fill("38.6")
    page.locator("#btn-in").click()
    expect(page.locator("#result-valid")).to_contain_text("发热")
    expect(page.locator("#result")).to_have_class("result done refused")
    assert _box_colour(page) == RED
    expect(page.locator("#result-colour")).to_have_class("result-colour pass-green")  # the pass colour stays as a chip

    # A refused colour: a red box too.
    _scan(page, _token(502, "黄*二", colour="yellow"))
    expect(page.locator("#result")).to_have_class("result refused")
    assert _box_colour(page) == RED
    assert not page.js_errors, page.js_errors


def test_a_yellow_code_the_policy_lets_in_asks_the_guard_to_look_again(live_server, live_cast, open_page, monkeypatch):
    from playwright.sync_api import expect

    from fangkong.gates import actions as gate_actions

    monkeypatch.setattr(gate_actions, "REFUSED_COLOURS", {"red"})
    tokens.clear_cache()
    page = open_page(**PHONE)
    _gate_page(page, live_server, "guard_a")
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    _scan(page, _token(503, "黄*三", colour="yellow"))
    expect(page.locator("#result")).to_have_class("result check")
    assert _box_colour(page) == AMBER
    page.locator("#btn-in").click()  # let in after the check
    expect(page.locator("#result")).to_have_class("result done admitted")
    assert not page.js_errors, page.js_errors


FILL_STORAGE = """() => {
  // Fill this origin's localStorage to the quota, with ever smaller items.
  let n = 0, size = 1 << 20;
  while (size >= 1) {
    try { localStorage.setItem('filler-' + n, 'x'.repeat(size)); n++; } catch (e) { size = Math.floor(size / 2); }
  }
  return n;
}"""


def test_a_full_device_storage_keeps_the_entry_in_memory_and_tells_the_guard(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    tokens.clear_cache()
    page = open_page(**PHONE)
    _gate_page(page, live_server, "guard_a")
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    assert page.evaluate(FILL_STORAGE) > 0
    assert page.evaluate("() => { try { localStorage.setItem('probe', 'x'); return false; } catch (e) { return true; } }")
    _scan(page, _token(401, "满*一"))
    expect(page.locator("#result-name")).to_have_text("满*一")
    page.locator("#btn-in").click()
    expect(page.locator("#waiting")).to_have_text("1")
    warning = page.locator("#storage-full")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("存储已满")
    expect(page.locator("#result-valid")).to_contain_text("存储已满")
    assert page.evaluate("() => window.fkGate.unsaved()") == 1
    assert page.evaluate("() => JSON.parse(localStorage.getItem('fk-gate-queue:guard_a') || '[]').length") == 0
    screenshot(page, "gates-6-storage-full-phone")
    _scan(page, _token(402, "满*二"))
    page.locator("#btn-out").click()
    expect(page.locator("#waiting")).to_have_text("2")
    assert GateEntry.objects.count() == 0

    # Back online: the entries kept in memory are sent, once, and the warning goes away.
    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    expect(warning).to_be_hidden()
    assert sorted(GateEntry.objects.values_list("masked", "direction", "offline")) == [
        ("满*一", "in", True), ("满*二", "out", True)]
    assert not page.js_errors, page.js_errors
