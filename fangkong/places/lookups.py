"""`field__under=path`: the rows whose materialized path lies in the subtree of `path`.

SQLite's LIKE is case-insensitive, so `LIKE 'prefix%'` cannot use an ordinary (BINARY)
index and scans the whole index instead (EXPLAIN QUERY PLAN: SCAN ... USING COVERING
INDEX); a range `>= prefix AND < prefix || U+10FFFF` is a SEARCH on the same index. Paths
are ASCII (base-36 digits and "/"), so the range holds exactly the paths that start with
the prefix. PostgreSQL keeps `LIKE 'prefix%'`, which uses the varchar_pattern_ops index
Django creates for an indexed CharField (a range would follow the database collation).
"""
from __future__ import annotations

from django.db.models import CharField, Lookup
from django.db.models.lookups import StartsWith

TOP = "\U0010ffff"  # above every character a path holds


@CharField.register_lookup
class Under(Lookup):
    lookup_name = "under"

    def as_sql(self, compiler, connection):
        if connection.vendor != "sqlite" or not isinstance(self.rhs, str):
            return StartsWith(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"({lhs} >= %s AND {lhs} < %s)", [*lhs_params, self.rhs, *lhs_params, self.rhs + TOP]
