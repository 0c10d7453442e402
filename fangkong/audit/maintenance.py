"""Maintenance of the append-only audit trail: the only code that may delete audit events.

The database refuses UPDATE and DELETE on audit_auditevent (migration 0002). A maintenance
transaction lifts the refusal for deletes within itself only:

* SQLite: the row of the one-row table `audit_maintenance`, inserted and removed inside the
  transaction (no other connection ever sees it: the transaction commits without it);
* PostgreSQL: `SET LOCAL fangkong.audit_maintenance = on`. In a deployment the
  application's role has no DELETE/TRUNCATE right on the table at all; the maintenance
  commands run as the database owner (README, "Audit trail").

The application never calls this; the `purge-audit` command and `flush` (Django's, used by
the test suite to empty the database between transactional tests) do.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from django.db import connections, transaction

from fangkong.lib.db.partitions import Monthly


@contextmanager
def deletes_allowed(using: str = "default"):
    """A transaction in which audit events may be deleted."""
    connection = connections[using]
    with transaction.atomic(using=using):
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("INSERT OR IGNORE INTO audit_maintenance (one) VALUES (1)")
            elif connection.vendor == "postgresql":
                cur.execute("SELECT set_config('fangkong.audit_maintenance', 'on', true)")
        yield
        # Closed again within the transaction (inside an outer transaction, a SET LOCAL
        # would last to its end; a rollback undoes both anyway).
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("DELETE FROM audit_maintenance")
            elif connection.vendor == "postgresql":
                cur.execute("SELECT set_config('fangkong.audit_maintenance', '', true)")


def purge_cutoff(now: dt.datetime, older_than_days: int) -> dt.datetime:
    """The first instant kept: the start of the month in which the retention age falls, so
    that only whole months, every event of which is older than `older_than_days`, go."""
    from django.utils import timezone

    edge = timezone.localtime(now) - dt.timedelta(days=older_than_days)
    return edge.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def purge(*, older_than_days: int, now: dt.datetime, using: str = "default") -> tuple[dt.datetime, int]:
    """Delete the audit events of the whole months older than `older_than_days`."""
    from .models import AuditEvent

    cutoff = purge_cutoff(now, older_than_days)
    with deletes_allowed(using):
        deleted = AuditEvent.objects.using(using).filter(at__lt=cutoff)._raw_delete(using)
    return cutoff, deleted


# --- Monthly partitions (PostgreSQL) ------------------------------------------------------
# On PostgreSQL audit_auditevent is partitioned by month on `at` (migration 0003,
# fangkong.lib.db.partitions); on SQLite it is one table and these do nothing.

# ensure_partitions: rows waiting in the DEFAULT partition moved in a maintenance
# transaction (the one that may delete); detach_old: the detached months keep the
# append-only triggers (fangkong.lib.db.partitions.detach_before).
EVENTS = Monthly("audit_auditevent", "at", months_ahead=2, moving=deletes_allowed)
ensure_partitions, detach_old = EVENTS.ensure_partitions, EVENTS.detach_old
