"""Database sessions (Django's), with the session read on every signed-in request made
by one prepared statement instead of a compiled queryset: the same row, the same rule
(unexpired), the same result. The same statement reads the auth version
(places.access: the signed-in user kept across requests while it holds)."""
from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from fangkong.lib.db import fastsql
from fangkong.places import access

_PLAN: dict = {}


class SessionStore(db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        access.saw_auth_version(None)  # a new request: nothing seen yet

    def _get_session_from_db(self):
        key = self.session_key
        if not key:
            return None
        plan = _PLAN.get(connection.vendor)
        if plan is None:
            qn = connection.ops.quote_name
            reader = fastsql.Reader(self.model, ("session_data", "expire_date"))
            sql = (f"SELECT {reader.columns}, {access.auth_version_sql()} FROM {qn(self.model._meta.db_table)} "
                   f"WHERE {qn(self.model._meta.pk.column)} = %s")
            plan = _PLAN[connection.vendor] = (sql, reader)
        sql, reader = plan
        with connection.cursor() as cur:
            cur.execute(sql, [key])
            row = cur.fetchone()
        session = None if row is None else reader.instance(row)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        access.saw_auth_version(row[-1])
        return session
