"""Issue 5's browser test end to end: a grid worker records a census visit on a phone-sized
page; the coordinator opens the dashboard, sees it counted, and downloads the daily report
as XLSX, whose totals row is checked against its rows and against the stored visits."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from fangkong.census.models import Visit
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)
from tests.test_census import make_campaign

pytestmark = pytest.mark.browser


def test_visit_on_a_phone_then_dashboard_and_xlsx(live_server, live_cast, open_page):
    cast = live_cast
    campaign = make_campaign(cast.comm_a)

    page = open_page(**PHONE)
    sign_in(page, live_server, "worker_a1")
    page.goto(url(live_server, "census_visit", campaign.pk))
    page.locator("#households a").first.click()
    page.wait_for_selector("#visit-form")
    member = page.locator(f"#member-{cast.person_a1.pk}")
    for key in ("source_area", "contact_source", "contact_confirmed", "gathering"):
        member.locator(f"input[name=q_{cast.person_a1.pk}_{key}][value=no]").check()
    member.locator(f"input[name=q_{cast.person_a1.pk}_temperature]").fill("36.5")
    assert no_horizontal_overflow(page)
    page.locator("#visit-form button[type=submit]").click()
    page.wait_for_url(url(live_server, "census_visit", campaign.pk))
    assert Visit.objects.count() == 1

    page = open_page(**PHONE)
    sign_in(page, live_server, "coordinator")
    page.goto(url(live_server, "dashboard"))
    card = page.locator("#cards article[data-metric='census.household_visits'] strong")
    assert card.inner_text() == "1"
    assert no_horizontal_overflow(page)
    screenshot(page, "daily-flow-1-dashboard-phone")
    with page.expect_download() as info:
        page.locator("#report-xlsx").click()
    data = open(info.value.path(), "rb").read()
    assert not page.js_errors

    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    labels = [ws.cell(row=3, column=c).value for c in range(1, ws.max_column + 1)]
    col = labels.index("户次") + 1
    rows = [[ws.cell(row=r, column=c).value for c in range(1, ws.max_column + 1)] for r in range(4, ws.max_row + 1)]
    total_at = next(i for i, r in enumerate(rows) if r[0] == "合计")
    body, total = rows[:total_at], rows[total_at]
    assert [r[0] for r in body] == ["甲社区", "乙社区"]
    assert total[col - 1] == sum(r[col - 1] for r in body) == Visit.objects.count() == 1
    assert body[0][col - 1] == 1 and body[1][col - 1] == 0
