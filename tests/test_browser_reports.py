"""Browser test of the daily report (M8) on a phone: a unit's liaison enters and confirms its
figures; the coordinator reads the street's report, whose wide table scrolls inside its box
while the page itself does not scroll sideways."""
from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from fangkong.gates.models import GateEntry
from fangkong.reports import actions
from fangkong.reports.models import Submission
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)

pytestmark = pytest.mark.browser


def test_unit_enters_figures_and_coordinator_reads_the_report_on_a_phone(live_server, live_cast, open_page):
    cast = live_cast
    actions.create_definition(acting_user=None, key="masks", label="口罩", unit="个", org_kinds=["employer"])
    actions.create_definition(acting_user=None, key="disinfectant", label="消毒液", unit="斤", org_kinds=["employer"])
    now = timezone.now()
    for place in (cast.compound_a1, cast.compound_a1, cast.grid_b1):
        GateEntry.objects.create(client_id=uuid.uuid4(), place=place, place_path=place.path, direction="in",
                                 decision="allowed", occurred_at=now, device_time=now, received_at=now)

    page = open_page(**PHONE)
    sign_in(page, live_server, "liaison_x")
    page.goto(url(live_server, "reports_entry"))
    unit = page.locator(f"#unit-{cast.org_x.pk}")
    unit.locator("input[name=f_masks]").fill("-5")
    unit.locator("input[name=f_disinfectant]").fill("200")
    unit.locator("button[name=confirm]").click()
    assert "请输入 0 或正整数" in page.locator("#f_masks-errors").inner_text()
    assert not Submission.objects.exists()
    unit = page.locator(f"#unit-{cast.org_x.pk}")
    unit.locator("input[name=f_masks]").fill("3000")
    assert no_horizontal_overflow(page), "the entry form scrolls sideways on a phone"
    screenshot(page, "reports-1-entry-phone")
    unit.locator("button[name=confirm]").click()
    page.wait_for_selector(".flash")
    assert "已确认" in page.locator(".flash").first.inner_text()
    assert page.locator(f"#unit-{cast.org_x.pk} input[name=f_masks]").is_disabled()
    sub = Submission.objects.get()
    assert (sub.state, sub.values) == ("confirmed", {"masks": 3000, "disinfectant": 200})
    assert not page.js_errors

    page = open_page(**PHONE)
    sign_in(page, live_server, "coordinator")
    page.goto(url(live_server, "reports_report"))
    assert "测试街道" in page.locator("#report-title").inner_text()
    rows = page.locator("#report-table tbody tr")
    assert rows.count() == 2
    total = page.locator("#totals td").all_inner_texts()
    assert total[0] == "合计"
    assert no_horizontal_overflow(page), "the report page scrolls sideways on a phone"
    wide = page.eval_on_selector("#report-table", "t => t.parentElement.scrollWidth > t.parentElement.clientWidth")
    assert wide, "the table is expected to scroll inside its box"
    org_row = page.locator(f"#org-table tr[data-org='{cast.org_x.pk}']").inner_text()
    assert "3000" in org_row and "200" in org_row
    screenshot(page, "reports-2-report-phone")
    assert not page.js_errors
