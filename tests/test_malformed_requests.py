"""Malformed requests are answered 4xx, never 5xx (issue 15, item 6): a body the server
cannot read (multipart without a boundary, a JSON operation sent a form or multipart),
numbers beyond 64 bits where they would reach SQL (list offsets, ids to act on), on the
API and on the pages (an unknown URL too: Django's error pages read the form)."""
from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from fangkong.notify.models import Recipient

BIG = 2**64
NO_BOUNDARY = "multipart/form-data"
MULTIPART = "multipart/form-data; boundary=fzB"
PARTS = b'--fzB\r\nContent-Disposition: form-data; name="reason"\r\n\r\nx\r\n--fzB--\r\n'
LISTS = ("/api/inflow", "/api/observations", "/api/inbox", "/api/census/followups", "/api/passes", "/api/households")


@pytest.fixture
def browser(cast):
    """A client as a browser is: CSRF checked (the test client skips that by default, and
    the check is what reads a POSTed form first), signed in as the admin."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    token = _get_new_csrf_string()
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/inflow/1/forward", "/api/inbox/read", "/api/uploads", "/api/residents",
                                 "/api/no-such-operation"])
def test_multipart_without_a_boundary_is_a_400_in_json_on_the_api(browser, url):
    resp = browser.post(url, data=b"x=1", content_type=NO_BOUNDARY)
    assert resp.status_code == 400, resp.content[:300]
    assert resp.json() == {"detail": "Cannot parse request body"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/staff/new/", "/login/", "/no-such-page/", "/inbox/read/"])
def test_multipart_without_a_boundary_is_a_400_on_the_pages(browser, url):
    resp = browser.post(url, data=b"x=1", content_type=NO_BOUNDARY)
    assert resp.status_code == 400, resp.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("content_type,body", [(MULTIPART, PARTS), ("application/x-www-form-urlencoded", b"reason=x")],
                         ids=["multipart", "urlencoded"])
@pytest.mark.parametrize("url", ["/api/inflow/1/reject", "/api/inbox/read", "/api/gates/entries/batch"])
def test_a_json_operation_sent_a_form_is_a_400(browser, url, content_type, body):
    resp = browser.post(url, data=body, content_type=content_type)
    assert resp.status_code == 400, resp.content[:300]
    assert resp.json() == {"detail": "Cannot parse request body"}


@pytest.mark.django_db
def test_in_debug_mode_too_the_api_answers_an_unreadable_body_with_a_400(browser, settings):
    """ninja answers an exception it has no handler for with a 500 and the traceback in
    DEBUG (a developer's machine): the unreadable body has its handler."""
    settings.DEBUG = True
    resp = browser.post("/api/inflow/1/reject", data=PARTS, content_type=MULTIPART)
    assert resp.status_code == 400 and resp.json() == {"detail": "Cannot parse request body"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", LISTS)
def test_list_offsets_beyond_64_bits_are_a_422_naming_the_offset(browser, url):
    resp = browser.get(url, {"offset": BIG})
    assert resp.status_code == 422, resp.content[:300]
    assert [d["field"] for d in resp.json()["detail"]] == ["offset"]
    assert browser.get(url, {"offset": -1}).status_code == 422
    last = browser.get(url, {"offset": 2**63 - 1})  # the largest the database holds: nothing there
    assert last.status_code == 200, last.content[:300]
    items = last.json()
    assert (items["items"] if isinstance(items, dict) else items) == []


@pytest.mark.django_db
def test_inbox_read_with_ids_beyond_64_bits_is_a_422_and_marks_nothing(cast, browser):
    from fangkong.notify.actions import notify

    notify(kind="test", title="t", body="b", place_path=cast.street.path, users=[cast.admin])
    for ids in ([BIG], [-BIG], [0]):
        resp = browser.post("/api/inbox/read", data=json.dumps({"ids": ids}), content_type="application/json")
        assert resp.status_code == 422, (ids, resp.content[:300])
        assert resp.json()["detail"][0]["field"].startswith("ids")
    assert not Recipient.objects.filter(read_at__isnull=False).exists()
    mine = Recipient.objects.get(user=cast.admin)
    resp = browser.post("/api/inbox/read", data=json.dumps({"ids": [mine.pk]}), content_type="application/json")
    assert resp.status_code == 200 and resp.json()["marked"] == 1


@pytest.mark.django_db
def test_every_page_route_answers_ids_beyond_64_bits_and_an_unreadable_form_with_a_4xx(browser):
    """Every page route of the URL resolver (the access matrix's walk): its path with each
    number beyond 64 bits (GET), and a POST of multipart without a boundary."""
    import re

    from tests.test_access_matrix import page_routes

    wrong, walked = [], 0
    for name, pattern, _callback in page_routes():
        if pattern.startswith("^") or "(?P" in pattern:
            continue  # a regular expression route (static files in DEBUG): none of ours
        path = "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: str(BIG) if m.group(1) in ("int", None) else "x", pattern)
        walked += 1
        got = browser.get(path)
        if got.status_code >= 500:
            wrong.append(("GET", path, got.status_code))
        posted = browser.post(path, data=b"x=1", content_type=NO_BOUNDARY)
        if posted.status_code != 400:
            wrong.append(("POST", path, posted.status_code))
    assert walked > 50
    assert not wrong, wrong


@pytest.mark.django_db
@pytest.mark.parametrize("url,body,field", [
    ("/api/inflow-origins", {"name": "甲\x00乙", "risk": "low"}, "name"),
    ("/api/households", {"address": "a\x00b", "place_id": 1}, "address"),
    ("/api/gates/entries/batch", {"entries": [{"client_id": "x", "token": "\x00"}]}, "entries.0.token"),
    ("/api/inbox/read", {"ids\x00": [1]}, "ids"),
])
def test_a_nul_character_in_a_json_body_is_a_422_naming_the_field(browser, url, body, field):
    """PostgreSQL cannot store or compare text holding NUL: it was a 500 there."""
    resp = browser.post(url, data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 422, resp.content[:300]
    assert resp.json()["detail"] == [{"field": field, "message": "Text must not contain NUL characters"}]


@pytest.mark.django_db
def test_a_nul_character_in_a_query_parameter_or_form_field_is_a_4xx(browser):
    resp = browser.get("/api/residents", {"tag": "a\x00b"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "tag"
    resp = browser.post("/api/uploads", data={"owner_type": "x\x00", "owner_id": "1"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "owner_type"
    assert browser.get("/residents/", {"q": "a\x00b"}).status_code == 400
    assert browser.post("/inflow-origins/new/", {"name": "a\x00b"}).status_code == 400
    assert browser.get("/d/a%00b/").status_code == 400  # a public page looking up a code
    assert browser.get("/api/documents/1%00").status_code == 422
