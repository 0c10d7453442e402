"""Database sessions (Django's), with the session read on every signed-in request made
by one prepared statement (fangkong/lib/db/fastsql.py) instead of a compiled queryset:
the same row, the same rule (unexpired), the same result."""
from __future__ import annotations

from django.contrib.sessions.backends import db
from django.utils import timezone

from fangkong.lib.db import fastsql


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        session = fastsql.get(self.model, ("session_data", "expire_date"), session_key=key) if key else None
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session
