"""Refused sign-ins answered before Django: a WSGI wrapper (fangkong/wsgi.py) in front
of the whole application.

Why by hand, in front of Django: bench W10 (100 wrong-password sign-ins at once, every
second, while another user works) measured the signed-in user's p99 at 13x its value
alone on SQLite with the refusal answered by SignInGuardMiddleware, although that answer
is a memory lookup: each refusal still cost ~260 us of Django (request object, six
middlewares, a log line) on top of the server's own parsing, and a burst queues 100 of
them ahead of the user on two cores. Here the same refusal costs a few microseconds of
Python (measured in-process on 2026-12-06: 262 us through Django, 4 us here); the
bench's figures before and after are in the issue's note and in the README.

What it answers, and what it leaves to Django:
- only POST to the sign-in page whose refusal this process already knows
  (throttle.refused_here: a refusal read from the shared counters in the last window,
  per address or per name and address) or whose password-hash slot is full — exactly
  the cases the middleware would answer from memory; everything else, including the
  first refusal of a window (which reads the shared counters and is audited), goes to
  Django unchanged (the body it read is handed on);
- with the status, body and headers Django gave the last refusal of the same language
  (security headers and CSP included: they are captured from Django's own answer, never
  written twice), a fresh Retry-After and a fresh X-Request-ID. Until Django has
  answered one refusal in a language, the gate lets Django answer.
- one log line a minute per process with how many refusals it answered, instead of one
  per refusal.
"""
from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from urllib.parse import parse_qs

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.urls import reverse
from django.utils import translation

from fangkong.lib import throttle

from . import actions

log = logging.getLogger("fangkong.request")

MAX_BODY = 8192  # a sign-in form is a few hundred bytes; anything larger goes to Django
_SKIP = {"content-length", "retry-after", "x-request-id", "date", "set-cookie"}


class SignInGate:
    def __init__(self, app):
        self.app = app
        self.path = None
        self.headers: dict[str, list[tuple[str, str]]] = {}  # language -> Django's headers of a refusal
        self.lock = threading.Lock()
        self.answered = 0
        self.since = time.monotonic()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        if self.path is None:
            self.path = reverse("login")
        if environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") != self.path:
            return self.app(environ, start_response)
        body = self._body(environ)
        if body is None:
            return self.app(environ, start_response)
        request = WSGIRequest(environ)
        language = translation.get_language_from_request(request)
        headers = self.headers.get(language)
        refused = self._refused(request, body) if headers is not None else None
        if refused is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, self._capture(start_response, language))
        with translation.override(language):
            page = _page(refused)
        start_response("429 Too Many Requests", headers + [
            ("Content-Length", str(len(page))), ("Retry-After", str(refused.retry_after)),
            ("X-Request-ID", uuid.uuid4().hex)])
        self._count()
        return [page]

    @staticmethod
    def _body(environ) -> bytes | None:
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _refused(request, body: bytes) -> actions.LockedOut | None:
        if throttle.slot_full(actions.HASH_SLOT, settings.LOGIN_HASH_CONCURRENCY):
            return actions.LockedOut(1, busy=True)
        try:
            username = parse_qs(body.decode("utf-8"), max_num_fields=20).get("username", [""])[0]
        except (UnicodeDecodeError, ValueError):
            return None
        keys = actions._signin_keys(request, (username or "").strip()[:150])
        wait = throttle.refused_here(keys[0], keys[2])
        return actions.LockedOut(wait) if wait is not None else None

    def _capture(self, start_response, language):
        def capture(status, headers, exc_info=None):
            if status.startswith("429") and any(k.lower() == "retry-after" for k, _v in headers):
                self.headers[language] = [(k, v) for k, v in headers if k.lower() not in _SKIP]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        return capture

    def _count(self) -> None:
        with self.lock:
            self.answered += 1
            now = time.monotonic()
            if now - self.since < 60:
                return
            answered, self.answered, self.since = self.answered, 0, now
        log.info(json.dumps({"gate": "signin", "refused": answered, "seconds": 60}, separators=(",", ":")))


def _page(refused: actions.LockedOut) -> bytes:
    from .middleware import refused_page

    return refused_page(refused)
