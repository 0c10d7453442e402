"""Gunicorn's access log without bearer secrets: a resident's personal-link token and a
staff member's one-time sign-in token are part of the URL (/r/<token>/…,
/signin/<token>/), so they are replaced by "…" before the line is written; so are ID and
phone numbers (a search in a query string)."""
from __future__ import annotations

from gunicorn.glogging import Logger

from fangkong.lib.logs import redact  # ID and phone numbers (in query strings) go too


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
