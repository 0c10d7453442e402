"""Monthly RANGE partitions of a high-volume, time-stamped table on PostgreSQL (issue 22,
item 2). Everything here is a no-op on SQLite (and any other backend): the table stays the
plain table Django made.

* `partition_by_month(table, column)` converts an existing table into one partitioned by
  RANGE on `column` (a timestamptz, or a date), keeping its rows, its identity sequence (the
  same name, continuing from the last id), its indexes (the same names; the primary key
  becomes (id, column) in the database, since a partitioned table's unique keys must hold the
  partition key; Django's model keeps `id` as its pk and reads it back with RETURNING as
  before), its UNIQUE constraints (which must hold `column`) and foreign keys, and its
  triggers (row triggers are cloned by PostgreSQL onto every partition;
  statement triggers, such as a BEFORE TRUNCATE guard, are copied onto each partition here,
  since PostgreSQL runs them only for the table named in the statement). `unpartition`
  undoes it (the attached partitions' rows back in one plain table; detached ones stay
  where they are).
* `ensure_partitions(table, column, months_ahead)` creates the partitions
  `<table>_yYYYYmMM` of the months from the oldest that a row waiting in the DEFAULT
  partition needs up to `months_ahead` months after the current one, and the DEFAULT
  partition itself; idempotent. The DEFAULT partition means no insert ever fails for lack of
  a partition (a clock far off, an imported old event). Creating the partition of a month
  for which the DEFAULT partition holds rows is refused by PostgreSQL ("updated partition
  constraint for default partition would be violated"); here those rows are moved: the new
  month's table is made on its own, the rows are moved into it from the DEFAULT partition
  (DELETE ... RETURNING into INSERT, in the caller's `moving()` context: for an append-only
  table, the one transaction that may delete), and the table is attached, all in one
  transaction with the DEFAULT partition locked, so no insert can slip in between.
* `detach_before(table, month)` DETACHes (never drops) the monthly partitions of the months
  before `month`: they stay as plain tables with their rows, indexes and the parent's
  triggers (copied back: PostgreSQL drops the cloned ones on detach) but without foreign
  keys (an archive does not hold back the deletion of the rows it names), for a DBA to
  archive and drop. A detached month's name stays taken: `ensure_partitions` never makes a second
  table of that month, so a late row of a detached month stays in the DEFAULT partition.
  DETACH (the plain one: CONCURRENTLY cannot run in a transaction, and the triggers are
  put back in the same one) holds an ACCESS EXCLUSIVE lock on the parent for a moment;
  it waits at most LOCK_TIMEOUT for it (inserts queue behind it meanwhile), else fails and
  is tried again the next day. `Monthly(table, column).detach_old(now, months)` is the retention
  rule's form of it: the months wholly older than `months` months before now's (0: none).

Partition bounds are the months of settings.TIME_ZONE (the months the reports and
`purge-audit` count), written as timestamptz constants with their offset; for a `date`
column, the first day of each month (a date has no time zone).

Structure changes need the table's owner: run migrations, and the worker's daily
`ensure`/detach tasks, as the owner (README, "Audit trail"); without that right the task
fails and its rows wait in the DEFAULT partition, nothing is lost.

Why months, not days (measured on PostgreSQL 15.20 on the 2-core machine of the bench,
7 December 2026; `psql -v rows_per_day=2000 -f scripts/partition_measure.sql` repeats the
planner part in a scratch database):

* Volume. The demo street (`fangkong demo`, 3,000 persons, on PostgreSQL) wrote 18,922 audit
  events, 3,556 to 6,266 on each of its full days: 1.2 to 2.1 events per person and day (every
  action writes one; a temperature report, a gate entry, a registration each one). At the
  seed scale of W7 (1M persons; 10M temperature reports and 5M gate entries over 14 days,
  each of which is an audit event when made through the site) that is about 1.07M events a
  day: a month's partition holds ~32M rows, a day's ~1M. Either is a comfortable table
  size; days would not make any query touch fewer rows than months do for the queries the
  trail has (a month's purge or detach, the audit page's newest events).
* Partition count. The trail is kept FANGKONG_AUDIT_RETENTION_DAYS (730): 24 monthly
  partitions against 730 daily ones (plus the DEFAULT one). Every partition a query cannot
  prune costs a lock per partition and per index, and PostgreSQL's planner works through
  each one.
* Planner cost, 2 years of events (2,000 a day, 1.46M rows), the trail's indexes on `at`
  and `place_path`, warm caches, planning + execution:
  - one month's page of 50 newest (a place filter): month 0.15 + 0.05 ms, day 3.0 + 0.21 ms;
  - one month's count (60,000 rows): month 0.27 + 15.4 ms, day 2.9 + 20.9 ms;
  - the audit page as it is, newest 50 without a date bound (no pruning: every
    partition): month 0.68 + 0.10 ms, day 57 + 4.1 ms.
  Days make the one-month query 10–20× slower to plan and the audit page ~80× slower, for
  no gain.
* Retention works in whole months already (`purge-audit`, FANGKONG_AUDIT_DETACH_MONTHS):
  a month's partition is what is detached and archived.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from contextlib import contextmanager, nullcontext
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections, transaction

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "5s"  # a structure change waits this long for a lock, then fails (retried next day)


@contextmanager
def _lock_timeout(cur):
    """LOCK_TIMEOUT for the statements within (inside a transaction), the previous value
    back after them (a SET LOCAL would last to the end of an outer transaction)."""
    cur.execute("SELECT current_setting('lock_timeout')")
    previous = cur.fetchone()[0]
    cur.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
    yield
    cur.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _no_pending_checks(cur) -> None:
    """Run now the deferred constraint checks (Django's foreign keys are DEFERRABLE
    INITIALLY DEFERRED) of rows written earlier in the transaction: PostgreSQL refuses to
    drop or alter a table with such checks pending ("pending trigger events"). A migration
    runs in a transaction of its own, where nothing is pending; an outer transaction (a
    test's) has its checks made immediate until its end."""
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _pg(using: str):
    connection = connections[using]
    return connection if connection.vendor == "postgresql" else None


def _q(connection, name: str) -> str:
    return connection.ops.quote_name(name)


def month_start(when: dt.datetime | dt.date) -> dt.date:
    """The first day of the local month of `when` (an aware datetime, or a date)."""
    if isinstance(when, dt.datetime):
        when = when.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    return when.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def _bound(month: dt.date, is_date: bool = False) -> str:
    """The start of `month` in settings.TIME_ZONE, as a timestamptz literal with its offset
    (a date literal for a date column)."""
    if is_date:
        return f"'{month.isoformat()}'"
    start = dt.datetime(month.year, month.month, 1, tzinfo=ZoneInfo(settings.TIME_ZONE))
    return f"'{start.isoformat(sep=' ')}'"


def is_partitioned(table: str, using: str = "default") -> bool:
    connection = _pg(using)
    if connection is None:
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [_q(connection, table)])
        row = cur.fetchone()
    return row is not None and row[0] == "p"


def partitions(table: str, using: str = "default") -> dict[str, dt.date | None]:
    """The attached partitions of `table`: {name: month}, None for the DEFAULT partition."""
    connection = _pg(using)
    if connection is None:
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
                    [_q(connection, table)])
        rows = cur.fetchall()
    out = {}
    pattern = re.compile(re.escape(table) + r"_y(\d{4})m(\d{2})$")
    for name, bound in rows:
        m = pattern.match(name)
        if bound == "DEFAULT":
            out[name] = None
        elif m:
            out[name] = dt.date(int(m[1]), int(m[2]), 1)
    return out


def _table_exists(cur, name: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ['"' + name.replace('"', '""') + '"'])
    return cur.fetchone()[0]


def _columns(cur, table: str) -> list[str]:
    cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum", ['"' + table.replace('"', '""') + '"'])
    return [r[0] for r in cur.fetchall()]


def _is_date(cur, table: str, column: str) -> bool:
    cur.execute("SELECT atttypid = 'date'::regtype FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s",
                ['"' + table.replace('"', '""') + '"', column])
    return cur.fetchone()[0]


def _triggers(cur, table: str, *, statement_only: bool) -> list[str]:
    """CREATE TRIGGER statements of `table`'s own triggers (not clones, not internal ones),
    with the table's name as a placeholder `{table}`."""
    cur.execute(
        "SELECT pg_get_triggerdef(t.oid), quote_ident(n.nspname) || '.' || quote_ident(c.relname), t.tgtype "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE t.tgrelid = to_regclass(%s) AND NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY t.tgname",
        ['"' + table.replace('"', '""') + '"'])
    out = []
    for definition, qualified, tgtype in cur.fetchall():
        if statement_only and tgtype & 1:  # TRIGGER_TYPE_ROW
            continue
        out.append(definition.replace(f" ON {qualified} ", " ON {table} ", 1))
    return out


def _copy_triggers(cur, connection, definitions: list[str], target: str) -> None:
    for definition in definitions:
        cur.execute(definition.replace("{table}", _q(connection, target), 1))


class _Structure:
    """What a rebuilt table must have again: its indexes (name, definition, primary,
    unique), unique constraints and foreign keys (name, definition), primary key (name and
    columns), own triggers, identity sequence and columns."""

    def __init__(self, cur, connection, table: str):
        qn = lambda name: _q(connection, name)  # noqa: E731
        cur.execute("SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary, x.indisunique "
                    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = to_regclass(%s) ORDER BY i.relname", [qn(table)])
        self.indexes = cur.fetchall()
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = to_regclass(%s) AND contype = 'p'", [qn(table)])
        self.pkey_name, pkey_def = cur.fetchone()
        self.pkey_cols = [c.strip().strip('"') for c in re.match(r"PRIMARY KEY \((.*)\)", pkey_def)[1].split(",")]
        # Constraints an index-copy does not give back: UNIQUE constraints (their indexes are
        # made again as constraints, so that a later migration can drop them as such) and
        # foreign keys (LIKE copies neither).
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = to_regclass(%s) AND contype = 'u' ORDER BY conname", [qn(table)])
        self.unique_constraints = dict(cur.fetchall())
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = to_regclass(%s) AND contype = 'f' AND conparentid = 0 ORDER BY conname",
                    [qn(table)])
        self.foreign_keys = cur.fetchall()
        self.triggers = _triggers(cur, table, statement_only=False)
        cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [qn(table), self.pkey_cols[0]])
        self.sequence = cur.fetchone()[0]
        self.seq_name = self.sequence.rsplit(".", 1)[-1].strip('"') if self.sequence else None
        self.columns = _columns(cur, table)

    def set_aside(self, cur, connection, table: str, old: str) -> None:
        """Rename the table to `old`, and its primary key, indexes and sequence to their
        names + "__old", so that the new table takes the names back."""
        qn = lambda name: _q(connection, name)  # noqa: E731
        cur.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(old)}")
        cur.execute(f"ALTER TABLE {qn(old)} RENAME CONSTRAINT {qn(self.pkey_name)} TO {qn(self.pkey_name + '__old')}")
        for name, _def, primary, _unique in self.indexes:
            if not primary:  # (a unique constraint's index: the constraint renamed with it)
                cur.execute(f"ALTER INDEX {qn(name)} RENAME TO {qn(name + '__old')}")
        if self.sequence:
            cur.execute(f"ALTER SEQUENCE {self.sequence} RENAME TO {qn(self.seq_name + '__old')}")

    def restore(self, cur, connection, table: str) -> None:
        """On the new `table` (its primary key made): the identity sequence under its old
        name, continuing after the last id; the indexes (on a partitioned table they cascade
        to every partition made later); the triggers. The foreign keys: add_foreign_keys,
        once the rows are in (checked in one query each, not row by row at commit)."""
        qn = lambda name: _q(connection, name)  # noqa: E731
        if self.sequence:
            cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [qn(table), self.pkey_cols[0]])
            new_sequence = cur.fetchone()[0]
            if new_sequence.rsplit(".", 1)[-1].strip('"') != self.seq_name:
                cur.execute(f"ALTER SEQUENCE {new_sequence} RENAME TO {qn(self.seq_name)}")
            cur.execute(f"SELECT last_value, is_called FROM {qn(self.seq_name + '__old')}")
            last, called = cur.fetchone()
            cur.execute("SELECT setval(%s, %s, %s)", [qn(self.seq_name), last, called])
        for name, definition, primary, _unique in self.indexes:
            if name in self.unique_constraints:
                cur.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {self.unique_constraints[name]}")
            elif not primary:
                definition = definition.replace(f"INDEX {qn(name + '__old')} ON ", f"INDEX {qn(name)} ON ", 1)
                definition = re.sub(r" ON (ONLY )?\S+ USING ", f" ON {qn(table)} USING ", definition, count=1)
                cur.execute(definition)
        _copy_triggers(cur, connection, self.triggers, table)

    def add_foreign_keys(self, cur, connection, table: str) -> None:
        for name, definition in self.foreign_keys:
            cur.execute(f"ALTER TABLE {_q(connection, table)} ADD CONSTRAINT {_q(connection, name)} {definition}")


def partition_by_month(table: str, column: str, *, months_ahead: int = 2, now: dt.datetime | None = None,
                       using: str = "default") -> bool:
    """Convert the plain table `table` into one partitioned by month on `column`, with every
    row kept (copied: the conversion rewrites the table once, holding an ACCESS EXCLUSIVE
    lock, so run it in a maintenance window on a big table), its partitions from the month
    of its oldest row to `months_ahead` after now, and a DEFAULT partition. True if it was
    converted (False: not PostgreSQL, or already partitioned)."""
    from django.utils import timezone

    connection = _pg(using)
    if connection is None or is_partitioned(table, using):
        return False
    qn = lambda name: _q(connection, name)  # noqa: E731
    old = f"{table}__unpartitioned"
    with transaction.atomic(using=using), connection.cursor() as cur:
        _no_pending_checks(cur)
        cur.execute(f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE")
        st = _Structure(cur, connection, table)
        cur.execute("SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = to_regclass(%s) AND x.indisunique AND NOT x.indisprimary AND NOT "
                    "(SELECT attnum FROM pg_attribute WHERE attrelid = x.indrelid AND attname = %s) = ANY(x.indkey::int2[])",
                    [qn(table), column])
        for (name,) in cur.fetchall():
            raise ValueError(f"{table}: unique index {name} lacks the partition key {column}")
        cur.execute("SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE confrelid = to_regclass(%s) "
                    "AND contype = 'f'", [qn(table)])
        for name, referencing in cur.fetchall():  # it would reference `id`, no longer unique alone
            raise ValueError(f"{table}: referenced by the foreign key {name} of {referencing}")
        st.set_aside(cur, connection, table, old)
        cur.execute(f"CREATE TABLE {qn(table)} (LIKE {qn(old)} INCLUDING DEFAULTS INCLUDING IDENTITY "
                    f"INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({qn(column)})")
        keys = st.pkey_cols + ([column] if column not in st.pkey_cols else [])
        cur.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(st.pkey_name)} PRIMARY KEY ({', '.join(map(qn, keys))})")
        st.restore(cur, connection, table)
        cur.execute(f"CREATE TABLE {qn(table + '_default')} PARTITION OF {qn(table)} DEFAULT")
        _copy_triggers(cur, connection, [t for t in st.triggers if " FOR EACH STATEMENT " in t], table + "_default")
        cur.execute(f"SELECT min({qn(column)}) FROM {qn(old)}")
        oldest = cur.fetchone()[0]
        current = month_start(now or timezone.now())
        first = min(month_start(oldest), current) if oldest else current
        _create_months(cur, connection, table, column, first, add_months(current, months_ahead))
        cols = ", ".join(map(qn, st.columns))
        cur.execute(f"INSERT INTO {qn(table)} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {qn(old)}")
        st.add_foreign_keys(cur, connection, table)
        cur.execute(f"DROP TABLE {qn(old)}")  # its old sequence goes with it (owned by its column)
    return True


def unpartition(table: str, *, using: str = "default") -> bool:
    """Undo partition_by_month: one plain table again, with the rows of the attached
    partitions, the identity sequence, the indexes (the primary key on its first column
    again) and the triggers. Detached partitions stay as the tables they are."""
    connection = _pg(using)
    if connection is None or not is_partitioned(table, using):
        return False
    qn = lambda name: _q(connection, name)  # noqa: E731
    old = f"{table}__partitioned"
    with transaction.atomic(using=using), connection.cursor() as cur:
        _no_pending_checks(cur)
        cur.execute(f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE")
        st = _Structure(cur, connection, table)
        parts = partitions(table, using)
        st.set_aside(cur, connection, table, old)
        cur.execute(f"CREATE TABLE {qn(table)} (LIKE {qn(old)} INCLUDING DEFAULTS INCLUDING IDENTITY "
                    f"INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)")
        cols = ", ".join(map(qn, st.columns))
        cur.execute(f"INSERT INTO {qn(table)} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {qn(old)}")
        cur.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(st.pkey_name)} PRIMARY KEY ({qn(st.pkey_cols[0])})")
        st.restore(cur, connection, table)
        st.add_foreign_keys(cur, connection, table)
        cur.execute(f"DROP TABLE {qn(old)}")  # with its attached partitions (the rows are copied)
        log.info("%s: %d partitions merged back into one table", table, len(parts))
    return True


def _create_months(cur, connection, table: str, column: str, first: dt.date, last: dt.date, moving=None) -> list[str]:
    """Create the missing partitions of the months first..last (inclusive); the rows of those
    months waiting in the DEFAULT partition are moved into them (see the module's docstring)."""
    qn = lambda name: _q(connection, name)  # noqa: E731
    default = table + "_default"
    has_default = _table_exists(cur, default)
    statement_triggers = _triggers(cur, table, statement_only=True)
    is_date = _is_date(cur, table, column)
    columns = None
    created = []
    month = first
    while month <= last:
        name = partition_name(table, month)
        lo, hi = _bound(month, is_date), _bound(add_months(month, 1), is_date)
        if _table_exists(cur, name):  # attached, or detached earlier: never a second table of a month
            month = add_months(month, 1)
            continue
        waiting = 0
        if has_default:
            cur.execute(f"SELECT count(*) FROM {qn(default)} WHERE {qn(column)} >= {lo} AND {qn(column)} < {hi}")
            waiting = cur.fetchone()[0]
        if not waiting:
            cur.execute(f"CREATE TABLE {qn(name)} PARTITION OF {qn(table)} FOR VALUES FROM ({lo}) TO ({hi})")
        else:
            if columns is None:
                columns = ", ".join(map(qn, _columns(cur, table)))
            # The DEFAULT partition locked first (ATTACH would take it anyway): no insert of
            # that month lands there between the move and the attach.
            cur.execute(f"LOCK TABLE {qn(default)} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"CREATE TABLE {qn(name)} (LIKE {qn(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                        f"INCLUDING STORAGE)")
            with (moving() if moving else nullcontext()):
                cur.execute(f"WITH moved AS (DELETE FROM {qn(default)} WHERE {qn(column)} >= {lo} AND {qn(column)} < {hi} "
                            f"RETURNING {columns}) INSERT INTO {qn(name)} ({columns}) SELECT {columns} FROM moved")
                moved = cur.rowcount
            cur.execute(f"ALTER TABLE {qn(table)} ATTACH PARTITION {qn(name)} FOR VALUES FROM ({lo}) TO ({hi})")
            log.info("%s: %d rows moved from the default partition into %s", table, moved, name)
        _copy_triggers(cur, connection, statement_triggers, name)
        created.append(name)
        month = add_months(month, 1)
    return created


def ensure_partitions(table: str, column: str, months_ahead: int = 2, *, now: dt.datetime | None = None,
                      moving=None, using: str = "default") -> list[str]:
    """Create the DEFAULT partition and the monthly partitions of `table` from the month of
    the oldest row in the DEFAULT partition (or the current month) to `months_ahead` after
    the current one, moving the DEFAULT partition's rows of each new month into it;
    `moving` is a context manager factory under which those rows may be deleted from the
    DEFAULT partition (an append-only table's maintenance transaction). Idempotent: the
    names of the partitions created (none the second time). Nothing on SQLite, nor if the
    table is not partitioned."""
    from django.utils import timezone

    connection = _pg(using)
    if connection is None or not is_partitioned(table, using):
        return []
    qn = lambda name: _q(connection, name)  # noqa: E731
    current = month_start(now or timezone.now())
    with transaction.atomic(using=using), connection.cursor() as cur, _lock_timeout(cur):
        _no_pending_checks(cur)  # ATTACH, as DROP and DETACH, is refused with checks pending
        created = []
        default = table + "_default"
        if not _table_exists(cur, default):
            cur.execute(f"CREATE TABLE {qn(default)} PARTITION OF {qn(table)} DEFAULT")
            _copy_triggers(cur, connection, _triggers(cur, table, statement_only=True), default)
            created.append(default)
        cur.execute(f"SELECT min({qn(column)}) FROM {qn(default)}")
        oldest = cur.fetchone()[0]
        first = min(month_start(oldest), current) if oldest else current
        created += _create_months(cur, connection, table, column, first, add_months(current, months_ahead), moving)
    if created:
        log.info("%s: partitions created: %s", table, ", ".join(created))
    return created


def migration(table: str, column: str, months_ahead: int = 2):
    """The migration step that partitions `table` by month on `column` (PostgreSQL; nothing
    on SQLite), reversible: back, the attached partitions' rows in one plain table."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        partition_by_month(table, column, months_ahead=months_ahead, using=schema_editor.connection.alias)

    def backwards(apps, schema_editor):
        unpartition(table, using=schema_editor.connection.alias)

    return migrations.RunPython(forwards, backwards, elidable=False)


class Monthly:
    """One table partitioned by month on `column`, as its app's daily task, retention rule and
    owner's command (partitions_command) use it. `ensure_partitions(now=, using=)`: this
    month's partition and `months_ahead` more (ensure_partitions); `detach_old(now, months,
    dry_run=, using=)`: DETACH the months wholly older than `months` months before now's
    (months 0: nothing), but never the month `keep_from(using)` returns (a month a live row
    still needs) nor a later one. `moving(using)`: the context in which rows waiting in the
    DEFAULT partition are moved (None: the helper's plain transaction)."""

    def __init__(self, table: str, column: str, months_ahead: int = 2, *, moving=None, keep_from=None):
        self.table, self.column, self.months_ahead = table, column, months_ahead
        self.moving, self.keep_from = moving, keep_from

    def ensure_partitions(self, now: dt.datetime | None = None, using: str = "default") -> list[str]:
        moving = (lambda: self.moving(using)) if self.moving else None
        return ensure_partitions(self.table, self.column, self.months_ahead, now=now, using=using, moving=moving)

    def detach_old(self, now: dt.datetime, months: int, *, dry_run: bool = False, using: str = "default") -> list[str]:
        if months <= 0:
            return []
        cutoff = add_months(month_start(now), -months)
        kept = self.keep_from(using) if self.keep_from else None
        if kept is not None:
            cutoff = min(cutoff, kept)
        return detach_before(self.table, cutoff, dry_run=dry_run, using=using)


def detach_before(table: str, month: dt.date, *, dry_run: bool = False, using: str = "default") -> list[str]:
    """DETACH the monthly partitions of `table` for the months before `month` (the first day
    of a month), leaving them plain tables with their rows, indexes and the parent's
    triggers. The names detached (with dry_run: that would be). Nothing on SQLite."""
    connection = _pg(using)
    if connection is None:
        return []
    old = sorted(name for name, m in partitions(table, using).items() if m is not None and m < month)
    if dry_run or not old:
        return old
    qn = lambda name: _q(connection, name)  # noqa: E731
    with transaction.atomic(using=using), connection.cursor() as cur, _lock_timeout(cur):
        _no_pending_checks(cur)
        triggers = _triggers(cur, table, statement_only=False)
        row_triggers = [t for t in triggers if " FOR EACH ROW " in t]
        for name in old:
            cur.execute(f"ALTER TABLE {qn(table)} DETACH PARTITION {qn(name)}")
            # PostgreSQL drops the cloned row triggers on detach; the statement triggers
            # were copied (they stay). The detached table keeps the parent's guard.
            _copy_triggers(cur, connection, row_triggers, name)
            # Its foreign keys (cloned from the parent's) go: an archive must not stop the
            # live rows it names (a round, a person) from being deleted.
            cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'",
                        [qn(name)])
            for (constraint,) in cur.fetchall():
                cur.execute(f"ALTER TABLE {qn(name)} DROP CONSTRAINT {qn(constraint)}")
    log.info("%s: partitions detached: %s", table, ", ".join(old))
    return old
