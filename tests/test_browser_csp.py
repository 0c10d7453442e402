"""The Content-Security-Policy in a real browser (issue 15, point 5): what used to be an
inline handler (the QR code page's print button) works from the platform's own script, and
the browser refuses an inline script (so the policy is in force, not only sent)."""
from __future__ import annotations

import pytest

from fangkong.declarations import actions
from tests.test_browser import browser, live_cast, open_page, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_print_button_works_without_an_inline_handler(live_server, live_cast, open_page):
    point = actions.ensure_point(acting_user=live_cast.committee_a, place=live_cast.comm_a)
    page = open_page()
    sign_in(page, live_server, "committee_a")
    page.goto(url(live_server, "declarations_point", point.pk))
    page.wait_for_load_state("load")
    page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    page.locator("button[data-print]").click()
    assert page.evaluate("() => window.printed") == 1
    # An inline script (as an attacker's injected markup would be) does not run.
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';
                             document.body.appendChild(s); }""")
    assert page.evaluate("() => window.injected") is None
    assert page.js_errors == []
    assert any("inline script" in v for v in page.csp_violations)
    page.csp_violations.clear()  # the refusal above was the point


def test_the_api_docs_load_from_the_platforms_own_files(live_server, live_cast, open_page):
    page = open_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, live_server, "admin")
    page.goto(live_server.url + "/api/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Fangkong API" in page.locator(".swagger-ui .info .title").inner_text()
    assert requests and all(r.startswith(live_server.url) or r.startswith("data:") for r in requests), requests
    assert page.js_errors == []
