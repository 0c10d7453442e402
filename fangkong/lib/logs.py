"""Logging without secrets or personal data, whatever logger writes the line.

Django's own loggers write request paths ("Not Found: /r/<token>/x/", "Method Not Allowed
(POST): /signin/<token>/"), and any library may put a number into a message. Redaction
therefore happens when a record is made (a log-record factory, installed by `configure`,
Django's LOGGING_CONFIG), not in one handler: every handler, every logger and every test
capture sees the same redacted record. What is removed:

* the bearer tokens of personal links and one-time sign-in links in paths (/r/<token>/,
  /signin/<token>/); the codes of /d/<code>/ and /v/<code>/ are printed on paper and no secret;
* ID numbers (18 characters: 17 digits and a digit or X; and any run of 15 to 20 digits);
* mainland mobile numbers (11 digits starting 13-19, with or without +86 and separators).

A refused request (PermissionDenied) is logged by Django's request logger as one line
without its traceback (see _refusal).

The record's message is formatted once with its arguments and stored redacted (args
emptied), so nothing of the arguments survives beside it.
"""
from __future__ import annotations

import logging
import logging.config
import re

_TOKEN = re.compile(r"(/r/|/signin/|%2Fr%2F|%2Fsignin%2F)[^/?#&%\s\"'<>]+", re.I)  # also URL-encoded (?next=)
# 18 characters, and runs of 15 to 20 digits around them: a mistyped number (one digit too
# many or too few), the old 15-digit numbers and bank cards are as personal.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{14,19}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?![0-9A-Za-z])")

REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` without personal-link/sign-in tokens, ID numbers and phone numbers."""
    if not text:
        return text
    text = _TOKEN.sub(r"\1…", text)
    text = _ID_NUMBER.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def _refusal(exc_info) -> bool:
    """A refused request's exception: the access module's PermissionDenied, which Django
    logs with its traceback ("Forbidden (Permission denied): /path"). The line is kept, the
    traceback is not: a refusal is the access module's answer, recorded in the audit log
    (audit.actions.flush_refusals), not a fault, and a sweep of probes wrote a dozen lines
    of traceback per refused request (formatting it was about a twentieth of a refused
    page's time in the access matrix's profile, 2026-12-07)."""
    from django.core.exceptions import PermissionDenied

    return isinstance(exc_info, tuple) and isinstance(exc_info[0], type) and issubclass(exc_info[0], PermissionDenied)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if record.name == "django.request" and _refusal(record.exc_info):
        record.exc_info = None
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep what can be kept, redacted
        message = f"{record.msg} {record.args!r}"
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # The traceback's text (exception messages may name a path or a number).
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


_installed: list = []


def install_record_factory() -> None:
    """Make every LogRecord of this process redacted at birth (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return redact_record(previous(*args, **kwargs))

    factory.fk_redacting = True
    logging.setLogRecordFactory(factory)
    _installed.append(factory)


class RedactingFilter(logging.Filter):
    """For handlers configured before the factory was installed (and a second line of
    defence): redacts the record passing through."""

    def filter(self, record):
        redact_record(record)
        return True


def configure(config: dict) -> None:
    """Django's LOGGING_CONFIG: the dictConfig of settings.LOGGING, then the factory."""
    install_record_factory()
    logging.config.dictConfig(config)
