"""Browser tests of work resumption (M9) on a phone (390x844): the liaison applies from its
portal; the committee starts the review and assigns the on-site check; the grid worker fills
the checklist on its phone with a photo, and the application is approved."""
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
    committee.locator("form[action$='/review/'] button").click()
    committee.wait_for_url(url(live_server, "resumption_detail", app.pk))
    committee.locator(f"input[name=checkers][value='{live_cast.worker_a1.pk}']").check()
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
    worker.wait_for_url(url(live_server, "resumption_check", check.pk))
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
