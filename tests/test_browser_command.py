"""Browser tests of command on a phone: the gate page at a sealed entrance says so and refuses
the check-in with the reason; the inspector records a finding without network, and it
arrives once when the network is back."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from fangkong.command import actions
from fangkong.command.models import Finding
from fangkong.gates.models import GateEntry
from fangkong.passes import tokens
from fangkong.places.actions import create_place
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_sealed_entrance_refuses_check_ins_on_the_gate_page(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    tokens.clear_cache()
    gate = create_place(acting_user=None, kind="checkpoint", name="甲一小区西门", code=f"CP-{uuid.uuid4().hex[:6]}",
                        parent=live_cast.compound_a1)
    actions.set_point(acting_user=live_cast.committee_a, point=actions.point_for(gate), state="sealed",
                      note="街道指挥部会议决定")
    page = open_page(**PHONE)
    sign_in(page, live_server, "guard_a")
    page.goto(url(live_server, "gates_gate"))
    page.locator("#checkpoint").select_option(str(gate.pk))
    expect(page.locator("#closed-banner")).to_be_visible()
    expect(page.locator("#closed-banner")).to_contain_text("街道指挥部会议决定")
    scan = page.locator("#scan")
    scan.fill(tokens.sign(pass_id=301, kind="resident", colour="green", masked="靶*甲",
                          expires_at=timezone.now() + dt.timedelta(hours=8)))
    scan.press("Enter")
    expect(page.locator("#result")).to_have_class("result refused")
    page.locator("#btn-in").click()
    expect(page.locator("#waiting")).to_have_text("0")
    screenshot(page, "command-1-sealed-gate-phone")
    e = GateEntry.objects.get(place=gate)
    assert (e.decision, e.reason_code) == ("refused", "sealed") and "街道指挥部会议决定" in e.reason_text
    # Another checkpoint of the guard is open: no banner.
    page.locator("#checkpoint").select_option(str(live_cast.compound_a1.pk))
    expect(page.locator("#closed-banner")).to_be_hidden()


def test_the_inspector_records_a_finding_offline_and_it_arrives_once(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    hq = actions.create_hq(acting_user=None, place=live_cast.street, name="测试街道指挥部")
    team = actions.create_team(acting_user=None, hq=hq, name="第一督导组", members=[live_cast.inspector])
    actions.create_plan(acting_user=None, team=team, day=timezone.localdate())
    page = open_page(**PHONE)
    sign_in(page, live_server, "inspector")
    page.goto(url(live_server, "command_inspect"))
    form = page.locator("form[data-offline-form]").first
    assert no_horizontal_overflow(page), "the inspector's page scrolls sideways on a phone"
    page.context.set_offline(True)
    form.locator("select[name=place]").select_option(str(live_cast.compound_a1.pk))
    form.locator("select[name=category]").select_option("gate")
    form.locator("textarea[name=text]").fill("东门无人值守")
    form.locator("input[name=responsible]").fill("物业")
    form.locator("input[name=fixed_on_spot]").check()
    form.locator("button[type=submit]").click()
    expect(page.locator("#queue-status")).to_be_visible()
    screenshot(page, "command-2-inspector-offline-phone")
    assert not Finding.objects.exists()
    page.context.set_offline(False)
    page.wait_for_function("() => JSON.parse(localStorage.getItem('fk.command.findings') || '[]').length === 0",
                           timeout=15_000)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")  # a second sync sends nothing again
    page.wait_for_timeout(500)
    f = Finding.objects.get()
    assert (f.state, f.fixed_on_spot, f.text) == ("fixed", True, "东门无人值守")
