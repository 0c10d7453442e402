"""The ORM's own SQL for the few statements on the hottest write paths, built once.

Building a statement costs the ORM 0.3–1 ms of CPU (queryset cloning, compiling); the
database then needs 20–50 µs to run it. For the writes a server makes hundreds of times a
second (a temperature report, a gate check-in, their audit events) that compiling was most
of the request (measured: W5 ~3 ms of CPU per report, ~0.25 ms for GET /healthz).

`insert(obj)` stores a new model instance as `obj.save()` would (pre_save of every field:
auto_now_add, defaults; get_db_prep_save: the same values the ORM would send; the primary
key read back with RETURNING), without signals (the models used here have no receivers)
and without the per-call compile. `get(model, fields, for_update=False, **where)` reads
one row by equality on the given columns into a model instance, with the backend's and the
fields' converters (dates, aware datetimes, decimals, JSON) as the ORM applies them;
`Reader` is that row reader for a statement of one's own (a join). `Prepared(obj)` is
insert(obj) in two steps: the values computed now, the statement run later (`run()`),
with the values known only then filled in by `set()` — so that a group commit's writer,
which runs one job at a time for the whole server, runs only the statement.

The statements are cached per (model, field names, database vendor); column and table
names come from the models' _meta and are quoted by the backend, values are always bound
parameters.
"""
from __future__ import annotations

import re

from django.db import connection

_insert_sql: dict = {}
_select_sql: dict = {}


def _insert_plan(model) -> tuple[str, list, dict[str, int]]:
    key = (model, connection.vendor)
    plan = _insert_sql.get(key)
    if plan is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]  # the database numbers the rows
        qn = connection.ops.quote_name
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(meta.pk.column)}")
        plan = _insert_sql[key] = (sql, fields, {f.attname: i for i, f in enumerate(fields)})
    return plan


def insert(obj) -> None:
    """INSERT `obj` (a new instance); sets its primary key and marks it saved."""
    Prepared(obj).run()


class Prepared:
    """The INSERT of the new instance `obj` with its values as insert(obj) would send them,
    computed when this is made; `run()` sends it (and may be sent again after a rollback).
    `set(attname, value)` changes one value before the run (a key made meanwhile: a
    foreign key, an id written as text), on the instance too."""

    __slots__ = ("obj", "sql", "params", "index")

    def __init__(self, obj):
        self.sql, fields, self.index = _insert_plan(type(obj))
        self.obj = obj
        self.params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]

    def set(self, attname: str, value) -> None:
        self.params[self.index[attname]] = value
        setattr(self.obj, attname, value)

    def run(self):
        obj = self.obj
        with connection.cursor() as cur:
            cur.execute(self.sql, self.params)
            self.stored(cur.fetchone()[0])
        return obj

    def stored(self, pk) -> None:
        obj = self.obj
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


_chained_sql: dict = {}


def insert_chained(first: Prepared, second: Prepared, link: str, *, unless: str = "", unless_params=()) -> bool:
    """PostgreSQL: the two prepared INSERTs as one statement (a data-modifying WITH), the
    second's `link` value being the first's key as text (an audit event's object_id naming
    the row it records); both keys set. Outside a transaction it is one round trip and its
    own transaction, instead of BEGIN, two INSERTs and COMMIT: four (the gate check-in,
    gates.actions.record_entry). Refused as a whole (IntegrityError) if either row is.

    `unless`: an SQL condition (with `unless_params`); where it holds, neither row is
    inserted and this returns False (no key set). The first row's values are then selected
    rather than listed (INSERT ... SELECT ... WHERE NOT ...), each cast to its column's type
    without its length (so a value too long is refused by the column, as with VALUES, not
    cut by the cast)."""
    key = (type(first.obj), type(second.obj), link, connection.vendor, unless)
    plan = _chained_sql.get(key)
    if plan is None:
        if connection.vendor != "postgresql":
            raise NotImplementedError("insert_chained: PostgreSQL only (a data-modifying WITH)")
        qn = connection.ops.quote_name
        _sql, a_fields, _i = _insert_plan(type(first.obj))
        _sql, b_fields, _i = _insert_plan(type(second.obj))
        a_meta, b_meta = first.obj._meta, second.obj._meta
        b_vals = ", ".join(f'"a".{qn(a_meta.pk.column)}::text' if f.attname == link else "%s" for f in b_fields)
        if unless:
            a_rows = (f'SELECT {", ".join("%s::" + _base_type(f) for f in a_fields)} '
                      f"WHERE NOT ({unless})")
        else:
            a_rows = f'VALUES ({", ".join(["%s"] * len(a_fields))})'
        sql = (f'WITH "a" AS (INSERT INTO {qn(a_meta.db_table)} ({", ".join(qn(f.column) for f in a_fields)}) '
               f'{a_rows} RETURNING {qn(a_meta.pk.column)}), '
               f'"b" AS (INSERT INTO {qn(b_meta.db_table)} ({", ".join(qn(f.column) for f in b_fields)}) '
               f'SELECT {b_vals} FROM "a" RETURNING {qn(b_meta.pk.column)}) '
               f'SELECT "a".{qn(a_meta.pk.column)}, "b".{qn(b_meta.pk.column)} FROM "a", "b"')
        plan = _chained_sql[key] = (sql, [f.attname != link for f in b_fields])
    sql, keep = plan
    with connection.cursor() as cur:
        cur.execute(sql, [*first.params, *unless_params, *(v for v, k in zip(second.params, keep) if k)])
        row = cur.fetchone()
    if row is None:
        return False
    a_id, b_id = row
    first.stored(a_id)
    second.set(link, str(a_id))
    second.stored(b_id)
    return True


def _base_type(field) -> str:
    """The field's column type without its length or precision: varchar(24) -> varchar."""
    return re.sub(r"\(.*\)", "", field.db_type(connection)).strip()


def run_many(rows: list[Prepared]) -> None:
    """Prepared inserts of one model as multi-row INSERTs (as many rows a statement as the
    backend's limit of bound values allows), each row's key set. Only where no other
    transaction inserts into the table meanwhile (SQLite's single writer, holding its
    lock): the keys are numbered in the order of the rows, so the returned keys, sorted,
    are the rows' in order."""
    if not rows:
        return
    sql = rows[0].sql
    head, _values, _tail = sql.partition(" VALUES ")
    width = len(rows[0].params)
    one = "(" + ", ".join(["%s"] * width) + ")"
    per = len(rows)
    if connection.features.max_query_params:
        per = max(1, connection.features.max_query_params // width)
    returning = sql[sql.rindex(" RETURNING "):]
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        with connection.cursor() as cur:
            cur.execute(f"{head} VALUES {', '.join([one] * len(chunk))}{returning}",
                        [v for row in chunk for v in row.params])
            keys = sorted(r[0] for r in cur.fetchall())
        if len(keys) != len(chunk):
            raise RuntimeError(f"{len(chunk)} rows inserted, {len(keys)} keys returned")
        for row, pk in zip(chunk, keys):
            row.stored(pk)


def insert_new(objs: list, *, unique: str | tuple[str, ...], batch_size: int = 500) -> list:
    """INSERT the new instances `objs` of one model, skipping each whose `unique` column(s)
    (a field with a unique index, or the fields of a unique constraint, in its order) are
    stored already, also by a concurrent transaction (INSERT ... ON CONFLICT DO NOTHING
    RETURNING, on SQLite and PostgreSQL alike). Returns the instances this statement
    stored, their primary keys set: what bulk_create with ignore_conflicts cannot tell. Rows
    that wait for a concurrent insert of the same key are decided by its outcome
    (PostgreSQL) or by the single writer (SQLite)."""
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    key_fields = [meta.get_field(name) for name in ((unique,) if isinstance(unique, str) else unique)]
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(fields))})"
    if connection.features.max_query_params:  # SQLite as Django declares it (999 bound values)
        batch_size = max(1, min(batch_size, connection.features.max_query_params // len(fields)))
    key_columns = ", ".join(qn(f.column) for f in key_fields)
    # The rows returned are matched to the instances by their key's values as the ORM reads
    # them back (the backend's and the fields' converters: SQLite returns a naive datetime).
    converters = []
    for f in key_fields:
        col = f.get_col(meta.db_table)
        converters.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))

    def read(values) -> tuple:
        out = []
        for value, (col, convs) in zip(values, converters):
            for conv in convs:
                value = conv(value, col, connection)
            out.append(value)
        return tuple(out)

    by_key, stored = {}, set()
    for obj in objs:
        by_key[tuple(getattr(obj, f.attname) for f in key_fields)] = obj
    for start in range(0, len(objs), batch_size):
        chunk = objs[start:start + batch_size]
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES {', '.join([row] * len(chunk))} ON CONFLICT ({key_columns}) DO NOTHING "
               f"RETURNING {qn(meta.pk.column)}, {key_columns}")
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk for f in fields]
        with connection.cursor() as cur:
            cur.execute(sql, params)
            returned = cur.fetchall()
        for pk, *key in returned:
            obj = by_key[read(key)]
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
            stored.add(id(obj))
    return [obj for obj in objs if id(obj) in stored]


def get(model, fields: tuple[str, ...], *, for_update: bool = False, order_by: str = "", **where):
    """One instance of `model` with `fields` loaded (others deferred), the row where every
    column of `where` equals its value (the first by `order_by`, a field name, "-" for
    descending); None if there is none. for_update: FOR UPDATE on backends that have it (a
    row lock until the transaction ends)."""
    meta = model._meta
    names = tuple(where)
    key = (model, fields, names, for_update, order_by, connection.vendor)
    plan = _select_sql.get(key)
    if plan is None:
        qn = connection.ops.quote_name
        reader = Reader(model, fields)
        conds = [meta.get_field(n) for n in names]
        sql = (f"SELECT {reader.columns} FROM {qn(meta.db_table)} "
               f"WHERE {' AND '.join(f'{qn(f.column)} = %s' for f in conds)}")
        if order_by:
            sql += f" ORDER BY {qn(meta.get_field(order_by.lstrip('-')).column)} {'DESC' if order_by[0] == '-' else 'ASC'}"
        sql += " LIMIT 1"
        if for_update and connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        plan = _select_sql[key] = (sql, reader, conds)
    sql, reader, conds = plan
    params = [f.get_db_prep_value(where[n], connection, prepared=False) for f, n in zip(conds, names)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return None if row is None else reader.instance(row)


class Reader:
    """The columns of `model` with `fields` loaded (and the primary key; others deferred) for
    a SELECT list, and the instance made of such a row with the backend's and the fields'
    converters, as the ORM applies them. Build once per (model, fields, vendor) and keep:
    for statements that read one model's row beside other columns (a join)."""

    def __init__(self, model, fields: tuple[str, ...]):
        meta = model._meta
        qn = connection.ops.quote_name
        wanted = {meta.pk.name, *fields}
        cols = [f for f in meta.concrete_fields if f.name in wanted]  # model order: what from_db expects
        self.model, self.width = model, len(cols)
        self.columns = ", ".join(f"{qn(meta.db_table)}.{qn(f.column)}" for f in cols)
        self.attnames = [f.attname for f in cols]
        self.converters = []
        for f in cols:
            col = f.get_col(meta.db_table)
            self.converters.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))

    def instance(self, row):
        """The instance of the first `width` values of `row`."""
        return self.model.from_db(connection.alias, self.attnames, self.values(row))

    def values(self, row) -> list:
        """The first `width` values of `row`, converted as the ORM would: what
        `self.model.from_db(alias, self.attnames, values)` takes (to keep and make
        instances of again without converting anew)."""
        values = []
        for value, (col, convs) in zip(row, self.converters):
            for conv in convs:
                value = conv(value, col, connection)
            values.append(value)
        return values
