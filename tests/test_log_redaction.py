"""A resident's personal-link token never reaches the web server's access log."""
import datetime as dt

from gunicorn.config import Config

from fangkong.core.gunicorn_logging import RedactingLogger


class _Resp:
    status = "200 OK"
    headers = []
    response_length = sent = 10


class _Req:
    method, query, version, headers = "GET", "t=1", (1, 1), []
    path = uri = "/r/SECRET-token_123/report/"


def test_access_log_atoms_hold_no_personal_link_token():
    environ = {"RAW_URI": _Req.uri + "?t=1", "REQUEST_METHOD": "GET", "PATH_INFO": _Req.path, "QUERY_STRING": "t=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "http://x/r/SECRET-token_123/"}
    atoms = RedactingLogger(Config()).atoms(_Resp(), _Req(), environ, dt.timedelta(seconds=0.01))
    assert not [k for k, v in atoms.items() if "SECRET" in str(v)]
    assert atoms["r"] == "GET /r/…/report/?t=1 HTTP/1.1"


def test_a_one_time_sign_in_token_is_redacted_too():
    from fangkong.core.gunicorn_logging import redact

    assert redact("GET /signin/SECRET-abc_123/ HTTP/1.1") == "GET /signin/…/ HTTP/1.1"
    assert redact("GET /residents/12/ HTTP/1.1") == "GET /residents/12/ HTTP/1.1"


# --- Every logger, every line (issue 15, point 3) -------------------------------------------

import logging  # noqa: E402

import pytest  # noqa: E402
from django.test import Client  # noqa: E402

from tests.cast import make_id, make_phone  # noqa: E402

_LOGGERS = ("", "django", "django.request", "django.server", "fangkong", "fangkong.request")


@pytest.fixture
def all_logs(caplog):
    """Every record of the run, at DEBUG, from the root logger and Django's request loggers."""
    for name in _LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def _texts(caplog):
    for record in caplog.records:
        yield f"{record.name}: {record.getMessage()} {record.args!r} {record.exc_text or ''}"
    yield caplog.text


def test_any_logger_writes_no_token_id_or_phone(all_logs):
    plain_id, phone = make_id(41), make_phone(41)
    logging.getLogger("some.library").warning("looked up %s (%s) at %s", plain_id, phone, "/r/SECRETtok123/pass/")
    logging.getLogger("fangkong.x").error(f"person {plain_id} phone +86 {phone[:3]}-{phone[3:7]}-{phone[7:]}")
    logging.getLogger("django.request").warning("Not Found: %s", "/signin/SECRETsign456/",
                                                extra={"status_code": 404})
    logging.getLogger("django.server").info('"%s" %s %s', "GET /login/?next=%2Fr%2FSECRETenc789%2F HTTP/1.1", "302", "0")
    for text in _texts(all_logs):
        assert "SECRET" not in text and plain_id not in text and phone not in text and phone[7:] not in text, text
    assert "/r/…/pass/" in all_logs.records[0].getMessage()
    # Ordinary numbers stay readable.
    logging.getLogger("fangkong.x").info("imported %d rows in %s ms, job %s", 12345, "1234567", 99)
    assert all_logs.records[-1].getMessage() == "imported 12345 rows in 1234567 ms, job 99"


@pytest.mark.django_db
def test_resident_pages_leave_no_token_id_or_phone_in_any_log_line(cast, all_logs):
    """A run through the resident's pages by personal link (with a 404 and a 405 on the
    token's path), a staff member's sign-in link and the public declaration page."""
    from fangkong.accounts.actions import issue_resident_link, issue_signin_link
    from fangkong.declarations import actions as declarations
    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation
    from tests.matrix.declarations import declaration_data

    person = cast.person_a1
    observation.start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=14)
    token = issue_resident_link(acting_user=None, person=person)
    phone = Client()
    for url in ("", "pass/", "pass/qr/", "credit/", "return/", "no-such-page/"):
        phone.get(f"/r/{token}/{url}")
    phone.post(f"/r/{token}/report/", {"temperature": "36.6", "client_key": "k1"})
    phone.post(f"/r/{token}/request/", {"kind": "medicine", "text": "药", "client_key": "k2"})
    assert phone.post(f"/r/{token}/").status_code == 405
    assert phone.get(f"/r/{token}/nope/").status_code == 404
    assert phone.get("/r/SECRETunknown-token/").status_code == 404
    signin = issue_signin_link(acting_user=cast.admin, user=cast.nogrant)
    Client().get(f"/signin/{signin}/")
    assert Client().delete(f"/signin/{signin}/").status_code == 405
    point = declarations.ensure_point(acting_user=cast.committee_a, place=cast.comm_a)
    body = {k: v for k, v in declaration_data(cast, "person_a1").items() if k != "travel"}
    Client().post(f"/d/{point.code}/", body)
    Client().post(f"/d/{point.code}/", {**body, "id_number": cast.ids["person_a1"] + "9"})  # refused

    assert any(token not in t and "/r/…/" in t for t in _texts(all_logs))  # the 404/405 lines were written
    secrets_ = [token, signin, "SECRET", *cast.ids.values(), *cast.phones.values()]
    for text in _texts(all_logs):
        leaked = [s for s in secrets_ if s in text]
        assert not leaked, text


@pytest.mark.django_db
def test_a_refused_page_is_one_log_line_without_a_traceback(cast, all_logs):
    """A refusal (403) is the access module's answer, audited, not a fault: Django's request
    logger writes its line ("Forbidden (Permission denied): /path") without the traceback.
    Another exception keeps its traceback."""
    client = Client()
    client.force_login(cast.guard_a)
    assert client.get("/duty/").status_code == 403
    refused = [r for r in all_logs.records if r.name == "django.request" and "Forbidden" in r.getMessage()]
    assert refused and refused[0].getMessage() == "Forbidden (Permission denied): /duty/"
    assert all(r.exc_info is None and not r.exc_text for r in refused)
    assert "Traceback" not in all_logs.text
    try:
        raise ValueError("a fault")
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: %s", "/x/")
    assert all_logs.records[-1].exc_text and "ValueError: a fault" in all_logs.records[-1].exc_text
