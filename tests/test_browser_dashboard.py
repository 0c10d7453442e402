"""Browser test of the dashboard: a coordinator opens it on a phone and on a desktop, the
ECharts charts render with the stored figures, and a tap on a community's bar drills down
to that community's page with its grids (the URL changes, so back works)."""
from __future__ import annotations

import re

import pytest

from tests.test_browser import DESKTOP, PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in  # noqa: F401
from tests.test_dashboard import activity, stored

pytestmark = pytest.mark.browser

CHART = """id => { const c = echarts.getInstanceByDom(document.getElementById(id));
  if (!c) return null;
  const o = c.getOption();
  return { series: o.series.map(s => ({ name: s.name, data: s.data.map(d => (d && typeof d === 'object') ? d.value : d) })),
           categories: (o.yAxis[0].type === 'category' ? o.yAxis[0] : o.xAxis[0]).data,
           width: c.getWidth(), height: c.getHeight() }; }"""


def open_dashboard(page, live_server, path="/dashboard/"):
    page.goto(live_server.url + path)
    page.wait_for_selector("body[data-charts=ready]")


def click_bar(page, category: str):
    """Click the middle of the bar of `category` in the breakdown chart."""
    chart = page.locator("#breakdown-chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()  # relative to the viewport
    x, y = page.evaluate("""name => { const c = echarts.getInstanceByDom(document.getElementById('breakdown-chart'));
        const o = c.getOption(); const i = o.yAxis[0].data.indexOf(name); const v = o.series[0].data[i].value;
        const end = c.convertToPixel({seriesIndex: 0}, [v, i]); const start = c.convertToPixel({seriesIndex: 0}, [0, i]);
        return [(start[0] + end[0]) / 2, end[1]]; }""", category)
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_coordinator_opens_the_dashboard_and_drills_down(live_server, live_cast, open_page):
    cast = live_cast
    today = activity(cast)
    metric = "observation.active"  # A: 2, B: 1 today

    # On a phone.
    page = open_page(**PHONE)
    sign_in(page, live_server, "coordinator")
    page.locator("#home-dashboard").click()
    page.wait_for_selector("body[data-charts=ready]")
    assert page.url.endswith("/dashboard/")
    trend = page.evaluate(CHART, "trend-chart")
    assert trend is not None and trend["width"] <= 390
    names = {s["name"]: s["data"] for s in trend["series"]}
    assert len(trend["categories"]) == 14 and all(len(d) == 14 for d in names.values())
    label = label_of("observation.new", "zh-hans")
    assert not label.isascii() and names[label][-1] == stored(cast.street, today)["observation.new"] == 2
    bars = page.evaluate(CHART, "breakdown-chart")
    assert bars["categories"] == [cast.comm_b.name, cast.comm_a.name]  # first child on top
    assert no_horizontal_overflow(page), "the dashboard scrolls sideways on a phone"
    cards = page.eval_on_selector_all("#cards .card", "els => els.map(e => e.getBoundingClientRect().width)")
    assert cards and max(cards) < 390 / 2 + 10  # two cards a row on a phone
    screenshot(page, "dashboard-1-street-phone")
    assert not page.js_errors

    # On a desktop, the breakdown of one metric; then a tap on community A's bar.
    page = open_page(**DESKTOP)
    sign_in(page, live_server, "coordinator")
    open_dashboard(page, live_server)
    page.select_option("#metric", metric)
    assert page.url.endswith(f"metric={metric}")
    bars = page.evaluate(CHART, "breakdown-chart")
    values = dict(zip(bars["categories"], bars["series"][0]["data"]))
    assert values == {cast.comm_a.name: stored_state(cast.comm_a, today, metric),
                      cast.comm_b.name: stored_state(cast.comm_b, today, metric)} == {cast.comm_a.name: 2, cast.comm_b.name: 1}
    trend = page.evaluate(CHART, "trend-chart")
    assert trend["width"] > 900
    screenshot(page, "dashboard-2-street-desktop")
    street_url = page.url
    click_bar(page, cast.comm_a.name)
    page.wait_for_url(re.compile(rf"/dashboard/{cast.comm_a.pk}/\?.*metric={re.escape(metric)}"))
    page.wait_for_selector("body[data-charts=ready]")
    assert page.locator("h1").inner_text().startswith(cast.comm_a.name)
    bars = page.evaluate(CHART, "breakdown-chart")
    assert bars["categories"] == [cast.grid_a2.name, cast.grid_a1.name]
    assert dict(zip(bars["categories"], bars["series"][0]["data"])) == {cast.grid_a1.name: 1, cast.grid_a2.name: 1}
    rows = page.eval_on_selector_all("#breakdown-table tbody tr[data-place]", "els => els.map(e => e.dataset.place)")
    assert rows == [str(cast.grid_a1.pk), str(cast.grid_a2.pk)]
    assert cast.street.name in page.locator("#breadcrumb").inner_text()
    screenshot(page, "dashboard-3-community-desktop")
    page.go_back()
    page.wait_for_url(street_url)
    assert not page.js_errors


def label_of(key, lang):
    from django.utils import translation

    from fangkong.lib import registry

    with translation.override(lang):
        return str(next(m.label for m in registry.metrics() if m.key == key))


def stored_state(place, day, metric):
    from fangkong.observation.models import Observation

    assert metric == "observation.active"
    return Observation.objects.filter(place_path__startswith=place.path, state="active", start_date__lte=day).count()


def test_english_labels_when_switched(live_server, live_cast, open_page):
    cast = live_cast
    activity(cast)
    page = open_page(**DESKTOP)
    sign_in(page, live_server, "committee_a")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    open_dashboard(page, live_server)
    trend = page.evaluate(CHART, "trend-chart")
    assert label_of("observation.active", "en") == "Under observation" in [s["name"] for s in trend["series"]]
    assert page.locator("h1").inner_text().startswith(cast.comm_a.name)
    screenshot(page, "dashboard-4-community-english")
    assert no_horizontal_overflow(page), "the English header's links push the page sideways"
    assert not page.js_errors


def test_place_names_are_text_in_the_charts(live_server, live_cast, open_page):
    """A place name with markup shows as text in the chart's tooltip, never as HTML."""
    from fangkong.places.models import Place

    cast = live_cast
    activity(cast)
    Place.objects.filter(pk=cast.comm_b.pk).update(name='乙<img src=x id=pwned onerror="window.pwned=1">')
    page = open_page(**DESKTOP)
    sign_in(page, live_server, "coordinator")
    open_dashboard(page, live_server, "/dashboard/?metric=observation.active")
    chart = page.locator("#breakdown-chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    x, y = page.evaluate("""() => { const c = echarts.getInstanceByDom(document.getElementById('breakdown-chart'));
        const o = c.getOption(); const i = o.yAxis[0].data.findIndex(n => n.startsWith('乙'));
        const end = c.convertToPixel({seriesIndex: 0}, [o.series[0].data[i].value, i]);
        const start = c.convertToPixel({seriesIndex: 0}, [0, i]); return [(start[0] + end[0]) / 2, end[1]]; }""")
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => [...document.querySelectorAll('#breakdown-chart div')].some(d => d.textContent.includes('乙<img'))")
    assert page.evaluate("() => document.getElementById('pwned') === null && !window.pwned")
    assert "乙<img" in page.locator("#breakdown-table").inner_text()
    assert not page.js_errors
