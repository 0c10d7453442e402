"""Gunicorn's access log without bearer secrets: a resident's personal-link token is part
of the URL (/r/<token>/…), so it is replaced by "…" before the line is written."""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(/r/)[^/?\s\"]+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1…", text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
