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
