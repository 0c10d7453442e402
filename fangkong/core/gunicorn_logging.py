"""Gunicorn's access log without bearer secrets: a resident's personal-link token and a
staff member's one-time sign-in token are part of the URL (/r/<token>/…,
/signin/<token>/), so they are replaced by "…" before the line is written."""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(/r/|/signin/)[^/?\s\"]+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1…", text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
