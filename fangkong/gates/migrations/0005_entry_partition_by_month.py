"""Gate entries partitioned by month on `occurred_at` on PostgreSQL (issue 22, item 2), like
the audit trail (audit 0003) and the temperature reports (observation 0005;
fangkong.lib.db.partitions).

Both databases: `client_id` is no longer unique alone but with `occurred_at`
(gate_entry_client_time; its index, client_id first, serves the lookups by client_id),
since a partitioned table's unique keys must hold the partition key. A resend carries the
same device time, so the constraint still refuses it (actions.record_entry's IntegrityError,
record_batch's ON CONFLICT); an entry whose device clock is suspect is stored at the time
it was received, so it is looked up by client_id before the insert (actions.py).

PostgreSQL: then gates_gateentry is converted into a table partitioned by RANGE on
`occurred_at`, with a DEFAULT partition and the partitions from the month of the oldest
entry to two months ahead (the worker's daily task makes the later ones: gates.tasks). The
rows, the identity sequence, the indexes, the unique constraint and the foreign keys from
the table (place, guard) are kept; the primary key is (id, occurred_at) in the database
(Django's model keeps `id`). The clinic's visits point at their gate entry without a
foreign key in the database (clinic 0003, made first: PostgreSQL refuses to drop a table a
foreign key points at, and a foreign key to a partitioned table would need its whole
unique key).

SQLite: the constraint change only (one table, as before). Reversible: the attached
partitions' rows go back into one plain table (detached partitions stay as they are), then
client_id unique alone again.
"""
from django.db import migrations, models

from fangkong.lib.db import partitions

TABLE, COLUMN = "gates_gateentry", "occurred_at"


class Migration(migrations.Migration):

    dependencies = [
        ("gates", "0004_drop_triage"),
        ("clinic", "0003_gate_entry_without_db_constraint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gateentry",
            name="client_id",
            field=models.UUIDField(),
        ),
        migrations.AddConstraint(
            model_name="gateentry",
            constraint=models.UniqueConstraint(fields=("client_id", "occurred_at"), name="gate_entry_client_time"),
        ),
        partitions.migration(TABLE, COLUMN, months_ahead=2),
    ]
