"""PostgreSQL: testing_registration partitioned by month on `round_created` (issue 22,
item 2): all of a round's registrations live in the partition of the month the round was
made, so retention detaches old rounds whole. A DEFAULT partition, and the partitions from
the month of the oldest row to two months ahead (the worker's daily task makes the later
ones: testing.tasks). The rows, the identity sequence, the indexes, the unique constraints
and the foreign keys are kept; the primary key is (id, round_created) in the database
(Django's model keeps `id`). See fangkong.lib.db.partitions.

SQLite: nothing (one table, as before). Reversible: the attached partitions' rows go back
into one plain table (detached partitions stay the plain tables they are).
"""
from django.db import migrations

from fangkong.lib.db import partitions

TABLE, COLUMN = "testing_registration", "round_created"


class Migration(migrations.Migration):

    dependencies = [
        ("testing", "0002_registration_round_created"),
    ]

    operations = [
        partitions.migration(TABLE, COLUMN, months_ahead=2),
    ]
