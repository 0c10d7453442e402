"""Browser tests of work resumption (M9) on a phone (390x844): the liaison applies from its
portal; the committee starts the review and assigns the on-site check; the grid worker fills
the checklist on its phone with a photo, and the application is approved. Without network:
the checklist is filled at the enterprise, kept on the phone (page reloaded from the service
worker), and sent once when the network returns."""
from __future__ import annotations

import pytest
from django.utils import timezone

from fangkong.resumption import actions
from fangkong.resumption.models import Application, CheckAnswer, SiteCheck
from fangkong.uploads.models import Attachment
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)

pytestmark = pytest.mark.browser


def _png(path):
    from PIL import Image

    Image.new("RGB", (64, 48), (30, 120, 200)).save(path, "PNG")
    return str(path)


def test_liaison_applies_and_checker_fills_the_checklist_with_a_photo(live_server, live_cast, open_page, tmp_path):
    from playwright.sync_api import expect

    ent = actions.register_enterprise(acting_user=None, name="", code="", place=live_cast.compound_a1,
                                      organization=live_cast.org_x, priority="key", size=25)

    # The liaison applies from its portal.
    page = open_page(**PHONE)
    sign_in(page, live_server, "liaison_x")
    page.goto(url(live_server, "resumption_portal"))
    page.locator("#apply-link").click()
    page.locator("input[name=planned_date]").fill(timezone.localdate().isoformat())
    page.locator("input[name=headcount]").fill("18")
    page.locator("textarea[name=measures]").fill("入口测温，每日消毒两次")
    assert no_horizontal_overflow(page), "the application form scrolls sideways on a phone"
    screenshot(page, "resumption-1-apply-phone")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/resumption/*/")
    app = Application.objects.get(enterprise=ent)
    assert app.state == Application.State.SUBMITTED
    assert not page.js_errors

    # The committee starts the material review and assigns the check to the grid worker.
    committee = open_page(**PHONE)
    sign_in(committee, live_server, "committee_a")
    committee.goto(url(live_server, "resumption_detail", app.pk))
    # Each form posts and redirects back to this same page: waiting for its URL would return
    # at once, so each click waits for the navigation it makes.
    with committee.expect_navigation():
        committee.locator("form[action$='/review/'] button").click()
    committee.wait_for_url(url(live_server, "resumption_detail", app.pk))
    committee.locator(f"input[name=checkers][value='{live_cast.worker_a1.pk}']").check()
    with committee.expect_navigation():
        committee.locator("form[action$='/assign/'] button").click()
    committee.wait_for_url(url(live_server, "resumption_detail", app.pk))
    check = SiteCheck.objects.get(application=app)

    # The grid worker fills in the checklist on its phone, with a photo of the masks.
    worker = open_page(**PHONE)
    sign_in(worker, live_server, "worker_a1")
    worker.goto(url(live_server, "resumption_checks"))
    worker.locator(f"a[href$='/checks/{check.pk}/']").click()
    for item in check.checklist.items:
        worker.locator(f"input[name=result_{item['key']}][value=pass]").check()
        if item["quantity"]:
            worker.locator(f"input[name=quantity_{item['key']}]").fill("200")
    worker.locator("input[name=photo_masks]").set_input_files(_png(tmp_path / "masks.png"))
    assert no_horizontal_overflow(worker), "the checklist scrolls sideways on a phone"
    screenshot(worker, "resumption-2-checklist-phone")
    worker.locator("form.checklist button[type=submit]").click()
    # Sent at once through the queue (online); the page then shows what the server has.
    expect(worker.locator("#check-state")).to_have_attribute("data-state", "passed", timeout=15_000)
    assert worker.locator("#check-state").inner_text().strip() in ("合格", "Passed")
    screenshot(worker, "resumption-3-checked-phone")
    assert not worker.js_errors
    app.refresh_from_db()
    assert app.state == Application.State.APPROVED
    answer = CheckAnswer.objects.get(check_run=check, key="masks")
    assert Attachment.objects.filter(owner_type="resumption.checkanswer", owner_id=answer.pk).count() == 1
    # The photo is served to those in scope only, never from the web root.
    worker.goto(url(live_server, "resumption_check", check.pk))
    assert worker.locator("a[href*='/uploads/']").count() == 1


def test_checker_fills_the_checklist_offline_and_it_syncs_once(live_server, live_cast, open_page, tmp_path):
    from playwright.sync_api import expect

    cast = live_cast
    ent = actions.register_enterprise(acting_user=None, name="", code="", place=cast.compound_a1,
                                      organization=cast.org_x, priority="key", size=25)
    today = timezone.localdate()
    app = actions.create_application(acting_user=None, enterprise=ent, planned_date=today, submit=True)
    actions.transition(acting_user=None, app=app, action="review")
    actions.transition(acting_user=None, app=app, action="assign", checkers=[cast.worker_a1], check_date=today)
    check = SiteCheck.objects.get(application=app)

    # At the office, with network: the list keeps the check's page on the phone.
    worker = open_page(**PHONE)
    sign_in(worker, live_server, "worker_a1")
    worker.goto(url(live_server, "resumption_checks"))
    worker.wait_for_function("() => navigator.serviceWorker.controller !== null")
    worker.locator(f"a[href$='/checks/{check.pk}/']").click()
    worker.wait_for_url(url(live_server, "resumption_check", check.pk))
    expect(worker.locator("#net-status")).to_have_attribute("data-state", "online")

    # At the enterprise, no network: the page reloads from the phone and the answers wait there.
    worker.context.set_offline(True)
    worker.reload()
    expect(worker.locator("#net-status")).to_have_attribute("data-state", "offline")
    for item in check.checklist.items:
        worker.locator(f"input[name=result_{item['key']}][value=pass]").check()
        if item["quantity"]:
            worker.locator(f"input[name=quantity_{item['key']}]").fill("120")
    worker.locator("input[name=result_canteen][value=fail]").check()
    worker.locator("input[name=note_canteen]").fill("食堂未分餐")
    worker.locator("input[name=photo_masks]").set_input_files(_png(tmp_path / "masks.png"))
    worker.locator("form.checklist button[type=submit]").click()
    expect(worker.locator("#waiting")).to_have_text("1")
    expect(worker.locator("#queued-note")).to_be_visible()
    expect(worker.locator("#item-masks .photo-state")).to_be_visible()
    assert no_horizontal_overflow(worker), "the offline checklist scrolls sideways on a phone"
    screenshot(worker, "resumption-4-checklist-offline-phone")
    check.refresh_from_db()
    assert check.state == SiteCheck.State.ASSIGNED and not CheckAnswer.objects.filter(check_run=check).exists()
    # Reloaded without network, the page still says the answers wait on the phone.
    worker.reload()
    expect(worker.locator("#queued-note")).to_be_visible()
    expect(worker.locator("#waiting")).to_have_text("1")

    # The network returns: sent once, with the photo; the page shows the result.
    worker.context.set_offline(False)
    expect(worker.locator("#check-state")).to_have_attribute("data-state", "failed", timeout=20_000)
    expect(worker.locator("#waiting")).to_have_text("0")
    worker.locator("#sync-now").click()
    worker.wait_for_timeout(500)
    check.refresh_from_db()
    assert check.state == SiteCheck.State.FAILED and check.finished_offline and check.client_id
    assert CheckAnswer.objects.filter(check_run=check).count() == len(check.checklist.items)
    answer = CheckAnswer.objects.get(check_run=check, key="masks")
    assert answer.quantity == 120
    assert Attachment.objects.filter(owner_type="resumption.checkanswer", owner_id=answer.pk).count() == 1
    app.refresh_from_db()
    assert app.state == Application.State.RETURNED and app.problems.count() == 1
    screenshot(worker, "resumption-5-checklist-synced-phone")
    assert not worker.js_errors
