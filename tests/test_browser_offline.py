"""Browser tests of the field pages' shared offline parts (fangkong/offline.js, the shared
service worker fangkong/sw.js): a phone updated from the pages' earlier scripts still sends
what it had queued (same storage keys), the module's old cache goes and no other module's
does; the duty page reloads without network with its waiting entries; a disinfection
target's code opened without network shows the kept list on that target."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fangkong.disinfection import actions as disinfection
from fangkong.disinfection.models import Round
from fangkong.duty import actions as duty
from fangkong.duty.models import Assignment
from fangkong.places.actions import create_organization, create_place
from tests.cast import make_user
from tests.test_browser import PHONE, browser, live_cast, open_page, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser
A = Assignment.State

# What the duty page's earlier script left on a phone: a check-in queued under its key, the
# duty worker's cache of that version, and the gate worker's (another module's) cache.
EARLIER_VERSION = """async ([user, assignment, clientId]) => {
    localStorage.setItem('fk-duty-queue:' + user, JSON.stringify([{client_id: clientId, assignment,
        direction: 'in', device_at: new Date().toISOString(), offline: true, note: ''}]));
    await (await caches.open('fk-duty-v2')).put('/duty/', new Response('old page'));
    await (await caches.open('fk-gates-v1')).put('/gates/', new Response('gate page'));
}"""


def test_duty_page_sends_what_the_earlier_version_queued_and_reloads_offline(live_server, live_cast, open_page):
    cast = live_cast
    site = create_organization(acting_user=None, kind="site", name="南门值守点", code="DUTYS", place=cast.compound_a1)
    duty.deploy(acting_user=None, user=cast.volunteer, site=site,
                    starts_on=timezone.localdate() - dt.timedelta(days=1))  # the shift began 2 min ago: maybe yesterday
    now = timezone.now()
    shift = duty.create_shift(acting_user=None, site=site, post="gate", starts_at=now - dt.timedelta(minutes=2),
                              ends_at=now + dt.timedelta(hours=3), slots=2)
    a = duty.assign(acting_user=None, shift=shift, user=cast.volunteer)
    old_id = str(uuid.uuid4())

    page = open_page(**PHONE)
    sign_in(page, live_server, "volunteer")
    page.evaluate(EARLIER_VERSION, [cast.volunteer.get_username(), a.pk, old_id])
    page.goto(url(live_server, "duty_home"))
    # The entry queued by the earlier script goes out once, under its client id.
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    a.refresh_from_db()
    assert a.state == A.CHECKED_IN and a.checkin_client_id == old_id
    # The shared worker took over: the duty page's old cache is gone, the gate page's kept.
    caches = page.evaluate("async () => (await caches.keys()).sort()")
    assert "fk-duty-v2" not in caches and "fk-gates-v1" in caches
    assert any(c.startswith("fk-duty-v") for c in caches), caches

    # Without network: the check-out waits on the phone, and the page reloads from the phone.
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    item = page.locator(f'li[data-assignment="{a.pk}"]')
    item.locator("button.check-out").click()
    expect(page.locator("#waiting")).to_have_text("1")
    page.reload()
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#waiting")).to_have_text("1")
    expect(item).to_have_attribute("data-state", "checked_out")
    assert Assignment.objects.get(pk=a.pk).state == A.CHECKED_IN

    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    page.wait_for_timeout(300)
    assert Assignment.objects.get(pk=a.pk).state == A.CHECKED_OUT
    assert not page.js_errors, page.js_errors


def test_a_targets_code_opened_offline_shows_the_kept_list_on_that_target(live_server, live_cast, open_page):
    cast = live_cast
    make_user("property_o", [("property", cast.compound_a1)])
    create_place(acting_user=None, kind="building", name="3号楼", code="A1Y-3", parent=cast.compound_a1)
    assert disinfection.generate_stairwells(acting_user=None, compound=cast.compound_a1, units=2, every_days=1) == 2
    disinfection.generate(timezone.localdate())
    first, second = Round.objects.select_related("target").order_by("pk")[:2]

    page = open_page(**PHONE)
    sign_in(page, live_server, "property_o")
    page.goto(url(live_server, "disinfection_today"))
    expect(page.locator("#rounds li[data-round]")).to_have_count(2)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    page.goto(url(live_server, "disinfection_scan", second.target.code))
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    shown = page.locator("#rounds li[data-round]:not([hidden])")
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("data-round", str(second.pk))
    shown.locator("select[name=agent]").select_option("")  # none taken from stock
    shown.locator("button[type=submit]").click()
    expect(page.locator("#waiting")).to_have_text("1")
    assert Round.objects.get(pk=second.pk).state == "due"

    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    page.wait_for_timeout(300)
    expect(page.locator("#rejected")).to_be_hidden()
    assert Round.objects.get(pk=second.pk).state == "done" and Round.objects.get(pk=first.pk).state == "due"
    assert Round.objects.get(pk=second.pk).offline
    assert not page.js_errors, page.js_errors
