"""Browser test of the committee's review queue (M4 link 3): the top application's
approve button has the focus, so Enter approves it; one click approves the next."""
from __future__ import annotations

import pytest
from django.utils import timezone

from fangkong.inflow import actions
from fangkong.inflow.models import Application, Origin
from tests.cast import make_id, make_phone
from tests.test_browser import DESKTOP, browser, live_cast, open_page, screenshot, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser


def forwarded(cast, seq, name):
    origin, _ = Origin.objects.get_or_create(name="河南省濮阳市", defaults={"risk": "medium"})
    app = actions.apply(acting_user=cast.liaison_x, employer=cast.org_x, place=cast.compound_a1, address=f"甲一小区{seq}号",
                        origin=origin, person_fields={"name": name, "id_number": make_id(seq), "phone": make_phone(seq)})
    return actions.transition(acting_user=cast.coordinator, app=app, action="forward")


def test_committee_approves_from_its_queue_with_the_keyboard_and_one_click(live_server, live_cast, open_page):
    late = forwarded(live_cast, 951, "季师傅")
    fresh = forwarded(live_cast, 952, "王师傅")
    Application.objects.filter(pk=late.pk).update(due_at=timezone.now() - timezone.timedelta(minutes=10))

    page = open_page(**DESKTOP)
    sign_in(page, live_server, "committee_a")
    page.goto(url(live_server, "inflow_board") + "?state=queue")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2 and late.serial in rows.first.inner_text()  # overdue first
    screenshot(page, "inflow-queue-desktop")
    focused = page.evaluate("() => document.activeElement && document.activeElement.closest('form').action")
    assert focused.endswith(f"/inflow/{late.pk}/approve/"), focused
    with page.expect_navigation(url="**/inflow/?state=queue"):
        page.keyboard.press("Enter")
    late.refresh_from_db()
    assert late.state == Application.State.APPROVED and late.decided_at is not None

    with page.expect_navigation(url="**/inflow/?state=queue"):
        page.locator(f"form[action$='/inflow/{fresh.pk}/approve/'] button").click()
    fresh.refresh_from_db()
    assert fresh.state == Application.State.APPROVED
    assert page.locator("table.list tbody tr td[colspan]").count() == 1  # the queue is empty
    assert not page.js_errors
