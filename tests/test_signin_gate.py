"""The sign-in gate in front of Django (fangkong/accounts/gate.py, fangkong/wsgi.py): a
sign-in this process already refuses is answered without Django, exactly as Django
answers it; everything else reaches Django with its body intact."""
from unittest import mock

import pytest
from django.conf import settings
from werkzeug.test import Client as WsgiClient

from fangkong.accounts.gate import SignInGate
from fangkong.audit.models import AuditEvent
from fangkong.wsgi import application
from tests.cast import PASSWORD

A, B = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def gate():
    """A fresh gate over the real application, counting what reaches Django (the
    connection kept open across requests, as Django's test client does)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    inner = application.app if isinstance(application, SignInGate) else application
    calls = []

    def counted(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    g = SignInGate(counted)
    g.calls = calls
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield g
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


_csrf = {}


def post(app, username, password, ip, **headers):
    """A sign-in as a browser sends it: the CSRF cookie from the page and the form's token."""
    if "token" not in _csrf:
        page = WsgiClient(application).get("/login/")
        _csrf["token"] = page.headers["Set-Cookie"].split("csrftoken=", 1)[1].split(";", 1)[0]
    token = _csrf["token"]
    client = WsgiClient(app)
    client.set_cookie("csrftoken", token)
    return client.post("/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                       environ_base={"REMOTE_ADDR": ip}, headers=headers)


def test_the_production_application_has_the_gate():
    assert isinstance(application, SignInGate)


@pytest.mark.django_db
def test_a_known_refusal_is_answered_without_django_as_django_answers_it(cast, gate):
    tries = [post(gate, "committee_a", "wrong-password", A) for _i in range(6)]
    assert [r.status_code for r in tries] == [401] * 4 + [429, 429]  # the fifth reached the limit; the sixth read it
    assert len(gate.calls) == 5  # the sixth was answered by the gate, from the refusal Django gave the fifth
    django_answer = tries[4]
    assert tries[5].get_data() == django_answer.get_data()
    reached, audited = len(gate.calls), AuditEvent.objects.filter(action="auth.login").count()
    with mock.patch("fangkong.accounts.actions.authenticate") as auth:
        answers = [post(gate, "committee_a", PASSWORD, A) for _i in range(20)]
    assert auth.call_count == 0 and len(gate.calls) == reached
    assert AuditEvent.objects.filter(action="auth.login").count() == audited  # no write per refusal
    for resp in answers:
        assert resp.status_code == 429 and 0 < int(resp.headers["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
        assert resp.get_data() == django_answer.get_data()
        assert "登录失败次数过多" in resp.get_data(as_text=True)
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"):
            assert resp.headers[name] == django_answer.headers[name]
        assert "Set-Cookie" not in resp.headers
    assert len({r.headers["X-Request-ID"] for r in answers}) == 20  # each its own request id
    # The owner from another address is not refused: Django signs them in (the body reached it).
    ok = post(gate, "committee_a", PASSWORD, B)
    assert ok.status_code == 302 and len(gate.calls) == reached + 1


@pytest.mark.django_db
def test_the_refusal_in_the_readers_language(cast, gate):
    for _i in range(6):
        post(gate, "committee_a", "wrong-password", A, **{"Accept-Language": "zh-CN"})
    post(gate, "committee_a", "wrong-password", A, **{"Accept-Language": "en"})  # Django answers English once
    reached = len(gate.calls)
    zh = post(gate, "committee_a", "wrong-password", A, **{"Accept-Language": "zh-CN"})
    en = post(gate, "committee_a", "wrong-password", A, **{"Accept-Language": "en"})
    assert len(gate.calls) == reached
    assert "登录失败次数过多" in zh.get_data(as_text=True)
    assert "Too many failed sign-ins" in en.get_data(as_text=True)


@pytest.mark.django_db
def test_what_the_gate_does_not_know_reaches_django(cast, gate):
    assert post(gate, "committee_a", "wrong-password", A).status_code == 401
    assert post(gate, "committee_a", PASSWORD, A).status_code == 302  # body handed on whole
    assert len(gate.calls) == 2
    # Not the sign-in page, not a form body, or a body too large: Django, untouched.
    WsgiClient(gate).post("/api/me", data="x" * 20_000, content_type="application/x-www-form-urlencoded")
    WsgiClient(gate).post("/login/", data="x" * 20_000, content_type="application/x-www-form-urlencoded")
    WsgiClient(gate).post("/login/", json={"username": "committee_a"})
    assert len(gate.calls) == 5
