"""The shared cache on the database (settings.CACHES on SQLite or PostgreSQL when no Redis is
configured): Django's database cache with an atomic `incr`.

Django's DatabaseCache increments by reading the value and writing it back in two steps,
so two processes incrementing at once both write n+1 and one hit is lost: rate limits
(lib.throttle) would then let through more than their limit. Here the read and the write
are one transaction that holds the row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE serializes writers anyway). The table is created by the migration
core/0001_cache_table (createcachetable)."""
from __future__ import annotations

import base64
import pickle

from django.core.cache.backends.db import DatabaseCache as _DatabaseCache
from django.db import connections, router, transaction
from django.utils.timezone import now as tz_now


class DatabaseCache(_DatabaseCache):
    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        q = connection.ops.quote_name
        table = q(self._table)
        now = connection.ops.adapt_datetimefield_value(tz_now().replace(microsecond=0, tzinfo=None))
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        # ">=": a row whose expiry is this very second is alive, as Django's get and add see it
        # (with ">" an add refused it as present and the incr after it as missing: a 500).
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(f"SELECT {q('value')} FROM {table} WHERE {q('cache_key')} = %s AND {q('expires')} >= %s{lock}",
                           [key, now])
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found.")
            value = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode())) + delta
            pickled = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(f"UPDATE {table} SET {q('value')} = %s WHERE {q('cache_key')} = %s", [pickled, key])
        return value
