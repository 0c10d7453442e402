"""Temperature reports partitioned by month on `day` on PostgreSQL (issue 22, item 2), like
the audit trail (audit 0003; fangkong.lib.db.partitions).

Both databases: `client_key` is no longer unique alone but with `day`
(report_client_key_day), since a partitioned table's unique keys must hold the partition
key. A resend is still one report: actions.report looks the key up before the insert and
again under the observation's lock (a resend may arrive on a later day than the first).

PostgreSQL: then observation_report is converted into a table partitioned by RANGE on
`day`, with a DEFAULT partition and the partitions from the month of the oldest report to
two months ahead (the worker's daily task makes the later ones: observation.tasks). The
rows, the identity sequence, the indexes, the unique constraints and the foreign keys are
kept; the primary key is (id, day) in the database (Django's model keeps `id`).

SQLite: the constraint change only (one table, as before). Reversible: the attached
partitions' rows go back into one plain table (detached partitions stay as they are), then
the constraints as they were.
"""
from django.db import migrations, models

from fangkong.lib.db import partitions

TABLE, COLUMN = "observation_report", "day"


class Migration(migrations.Migration):

    dependencies = [
        ("observation", "0004_retention"),
    ]

    operations = [
        migrations.AlterField(
            model_name="report",
            name="client_key",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddConstraint(
            model_name="report",
            constraint=models.UniqueConstraint(fields=("client_key", "day"), name="report_client_key_day"),
        ),
        partitions.migration(TABLE, COLUMN, months_ahead=2),
    ]
