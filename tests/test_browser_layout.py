"""Every page fits a phone (issue 14, point 8): each role of the fixed cast, with one row of
every kind in its lists (the access matrix's objects), opens every page it may open at
390×844, and no page scrolls sideways. A wide table scrolls inside its own box instead.

Routes come from the URL resolver (as in the access matrix), so a new page is walked the
day it is added. Which pages a role may open is asked of the server first (a plain test
client, fast), for the routes whose permission the role holds (the others are refused, as
the access matrix checks: asking the server about them was half of this walk's time, 5,919
requests for 674 pages, 2026-12-07); only full HTML pages that answer 200 are then opened
in the browser, one tab per role, unless another role opened the same markup on the same
route (_new_layout). The resident's own pages (personal link) are walked without a session.
"""
from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests import matrix
from tests.cast import build_cast
from tests.test_access_matrix import _url, declared, is_file_route, page_routes
from tests.test_browser import PHONE, browser, no_horizontal_overflow, open_page, screenshot  # noqa: F401 (fixtures)

# A page's layout does not depend on the database: run in one of the two runs only, the
# SQLite one (with the page words: tests/test_page_words.py; every page route runs on both
# databases through the access matrix).
pytestmark = [pytest.mark.browser, pytest.mark.one_database]

# One user of every role of the cast (the scope does not change a page's layout).
ROLE_USERS = ("admin", "commander", "coordinator", "committee_a", "worker_a1", "medic_a", "guard_a", "liaison_x", "volunteer")
# Routes that are no page of their own (files, fragments, the service worker, redirects).
NOT_PAGES = {"logout", "set_language", "healthz", "readyz", "gates_sw", "inbox_read"}


def _pages(cast, objects):
    """(name, url) of every GET page route that can be filled with the matrix's objects."""
    out = []
    token = None
    for name, pattern, cb in page_routes():
        if name in NOT_PAGES or is_file_route(pattern):
            continue
        kind = declared(cb)
        if kind == "fk_personal_link":
            if token is None:
                from fangkong.accounts.actions import issue_resident_link

                token = issue_resident_link(acting_user=None, person=cast.person_a1)
            out.append((name, reverse(name, kwargs={"token": token}), "resident", None))
            continue
        model = getattr(cb, "fk_object", None)
        obj = objects.get(model) if model is not None else None
        if "<" in pattern and obj is None and name not in matrix.url_kwargs():
            continue
        out.append((name, _url(name, pattern, obj), kind, getattr(cb, "fk_perm", None)))
    return out


def _is_html_page(resp) -> bool:
    return (resp.status_code == 200 and resp.get("Content-Type", "").startswith("text/html")
            and b"<html" in resp.content[:400])


def _overflow_details(page) -> list[str]:
    """The widest elements sticking out of the viewport, to say what to fix."""
    return page.evaluate("""() => {
        const w = window.visualViewport ? 390 : document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > 391 && r.width > 0) {
                let p = el.parentElement, clipped = false;
                while (p) { const s = getComputedStyle(p); if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') { clipped = true; break; } p = p.parentElement; }
                if (!clipped) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' right=' + Math.round(r.right) + ' text=' + (el.textContent || '').trim().slice(0, 30));
            }
        }
        return out.slice(0, 5);
    }""")


# A table header broken onto more than two lines (one character per line on a phone).
_WRAPPED_HEADERS = """() => [...document.querySelectorAll('main thead th')].filter(th => {
    const text = th.textContent.trim();
    if (text.length < 2 || th.rowSpan > 1) return false;
    const line = parseFloat(getComputedStyle(th).lineHeight) || 24;
    const pad = parseFloat(getComputedStyle(th).paddingTop) + parseFloat(getComputedStyle(th).paddingBottom);
    return th.getBoundingClientRect().height - pad > line * 2.5;
}).map(th => th.textContent.trim().slice(0, 20)).slice(0, 3)"""


def _module_role_users(cast) -> list[tuple[str, object]]:
    """One user of each role the cast does not hold, granted where that role works."""
    from fangkong.places.access import all_roles
    from fangkong.places.actions import create_organization
    from tests.cast import make_user

    lab = create_organization(acting_user=None, kind="clinic", name="检测实验室", code="LABL", place=cast.street)
    targets = {"inspector": cast.street, "duty_officer": cast.street, "police": cast.comm_a, "site_lead": cast.orgs["site"],
               "storekeeper": cast.street, "registrar": cast.orgs["site"], "lab": lab, "property": cast.compound_a1}
    held = {g.role for name in ROLE_USERS for g in getattr(cast, name).grants.all()}
    missing = [r for r in all_roles() if r not in held and r not in ("resident", "hq_member")]
    assert set(missing) <= set(targets), f"roles without a user in the phone walk: {set(missing) - set(targets)}"
    users = [(role, make_user(f"phone_{role}", [(role, targets[role])])) for role in missing]
    # hq_member is held by membership of a headquarters' working group, never granted.
    from fangkong.command import actions as command
    from tests.matrix.command import group

    member = make_user("phone_hq_member", [])
    command.add_member(acting_user=None, group=group(cast), user=member)
    return users + [("hq_member", member)]


_MAIN = re.compile(rb"<main\b.*</main>", re.S)
_PER_REQUEST = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"|"X-CSRFToken": "[^"]*"|nonce="[^"]*"')


def _new_layout(seen: set, name: str, html: bytes) -> bool:
    """Whether this page's <main> (without its per-request tokens) was not opened yet on the
    same route by another role: the same markup lays out the same. Of 668 pages the roles
    may open, 365 differ (2026-12-07): 374 opened with the homes, the walk 131 -> 107 s. Each
    role's header (its name, its menu) is still laid out on its home page and on every
    page whose main differs."""
    main = _MAIN.search(html)
    key = (name, hashlib.sha256(_PER_REQUEST.sub(b"", main.group(0) if main else html)).digest())
    if key in seen:
        return False
    seen.add(key)
    return True


def test_every_page_of_every_role_fits_a_phone(live_server, transactional_db, open_page):
    from fangkong.places.access import has_perm

    cast = build_cast()
    objects = matrix.build_objects(cast)
    pages = _pages(cast, objects)
    assert len(pages) > 60, "the resolver's routes were not found"

    visited, problems, laid_out = 0, [], set()
    walks = [(username, getattr(cast, username)) for username in ROLE_USERS] + _module_role_users(cast) + [("resident", None)]
    for label, user in walks:
        client = Client()
        tab = open_page(**PHONE)
        if user is not None:
            client.force_login(user)
            tab.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        for name, path, kind, perm in pages:
            if (kind == "resident") != (user is None):
                continue
            if kind == "fk_perm" and not has_perm(user, perm):
                continue  # a 403: the access matrix checks it (asking the server was most of this walk)
            resp = client.get(path)
            if not _is_html_page(resp):
                continue  # not this role's page (403/404/405), a file or a fragment
            if name != "home" and not _new_layout(laid_out, name, resp.content):
                continue
            tab.goto(live_server.url + path, wait_until="load")
            visited += 1
            wrapped = tab.evaluate(_WRAPPED_HEADERS)
            if wrapped:
                problems.append(f"{label} {name} {path}: table headers wrapped onto several lines: {wrapped}")
            if not no_horizontal_overflow(tab):
                width = tab.evaluate("() => document.documentElement.scrollWidth")
                problems.append(f"{label} {name} {path}: {width}px wide; {_overflow_details(tab)}")
    assert visited > 150, f"only {visited} pages were opened"
    assert not problems, "pages wider than a 390 px phone:\n" + "\n".join(problems)


def _sign_in_cookie(tab, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    tab.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


def _declaration_to_verify(cast):
    """A fever declaration in grid A1: the grid worker's first to-do."""
    from tests.matrix.declarations import declaration

    return declaration(cast)


def test_phone_header_is_one_row_and_home_starts_with_the_to_dos(live_server, transactional_db, open_page):
    """Issue 14, point 7: on a phone the header is one row and a collapsed menu (no longer a
    quarter of the screen), the home page's first section is the role's to-do list, and the
    menu holds the role's links grouped by task."""
    from playwright.sync_api import expect

    cast = build_cast()
    _declaration_to_verify(cast)
    groups_of = {}
    for username in ("committee_a", "worker_a1", "medic_a", "guard_a", "commander"):
        user = getattr(cast, username)
        tab = open_page(**PHONE)
        _sign_in_cookie(tab, live_server, user)
        tab.goto(live_server.url + reverse("home"))
        header = tab.locator("header").bounding_box()
        assert header["height"] <= 844 * 0.15, f"{username}: the header takes {header['height']} px of an 844 px phone"
        menu = tab.locator("details#site-menu")
        assert not menu.evaluate("d => d.open"), f"{username}: the menu should be collapsed on a phone"
        # The to-dos come first in the page's content, and within the first screen.
        first = tab.locator("main > section, main > form, main > p:not(.flash), main > div").first
        assert first.get_attribute("id") == "todos", f"{username}: the home page does not start with the to-dos"
        assert tab.locator("#todos").bounding_box()["y"] < 844 / 3
        screenshot(tab, f"layout-home-{username}-phone")
        # Opening the menu shows the links, grouped by task.
        menu.locator("summary").click()
        expect(tab.locator("nav.menu-groups a").first).to_be_visible()
        groups_of[username] = tab.locator("nav.menu-groups section.menu-group").evaluate_all(
            "els => els.map(e => e.dataset.group)")
        assert no_horizontal_overflow(tab)
        screenshot(tab, f"layout-menu-{username}-phone")
    # Grouped by what the role can do: a gate guard sees no residents, a medic no staff.
    assert "people" in groups_of["committee_a"] and "health" in groups_of["committee_a"]
    assert "gates" in groups_of["guard_a"] and "people" not in groups_of["guard_a"]
    assert "admin" not in groups_of["medic_a"] and "admin" not in groups_of["worker_a1"]
    # The grid worker's to-do list holds the declaration to verify.
    tab = open_page(**PHONE)
    _sign_in_cookie(tab, live_server, cast.worker_a1)
    tab.goto(live_server.url + reverse("home"))
    assert tab.locator("#todos ul.todos li").count() >= 1


def test_desktop_menu_is_open(live_server, transactional_db, open_page):
    from playwright.sync_api import expect

    from tests.test_browser import DESKTOP

    cast = build_cast()
    tab = open_page(**DESKTOP)
    _sign_in_cookie(tab, live_server, cast.committee_a)
    tab.goto(live_server.url + reverse("home"))
    expect(tab.locator(f"header nav a[href='{reverse('person_list')}']")).to_be_visible()
    screenshot(tab, "layout-home-committee-desktop")
    tab.goto(live_server.url + reverse("person_detail", args=[cast.person_a1.pk]))
    expect(tab.locator("#action-issue-pass")).to_be_visible()
    screenshot(tab, "layout-person-committee-desktop")
