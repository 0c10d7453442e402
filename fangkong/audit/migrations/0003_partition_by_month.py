"""PostgreSQL: audit_auditevent partitioned by month on `at` (issue 22, item 2), with a
DEFAULT partition and the partitions from the month of the oldest event to two months
ahead (the worker's daily task makes the later ones: audit.tasks). The rows, the identity
sequence, the indexes and the append-only triggers of 0002 are kept; the primary key is
(id, at) in the database (Django's model keeps `id`). See fangkong.lib.db.partitions.

SQLite: nothing (one table, as before). Reversible: the attached partitions' rows go back
into one plain table (detached partitions stay the plain tables they are).
"""
from django.db import migrations

from fangkong.lib.db import partitions

TABLE, COLUMN = "audit_auditevent", "at"


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        partitions.migration(TABLE, COLUMN, months_ahead=2),
    ]
