"""A visit's gate entry without a foreign key in the database (db_constraint=False).

gates_gateentry becomes partitioned by month on occurred_at on PostgreSQL (gates 0005,
which depends on this migration: the partitioning replaces the table, and PostgreSQL would
refuse to drop the old one while a foreign key points at it). A foreign key to a
partitioned table must reference a unique key holding the partition key, (id, occurred_at),
which the one-column gate_entry_id cannot. The ORM's relation and its on_delete=PROTECT
stay; the app never deletes gate entries (old months may only be DETACHed, their rows
kept). SQLite: the same change (the table rebuilt without the REFERENCES clause).
Reversible: the foreign key is added back (after gates 0005 is undone: a plain table).
"""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0002_gate_triage"),
        ("gates", "0004_drop_triage"),
    ]

    operations = [
        migrations.AlterField(
            model_name="visit",
            name="gate_entry",
            field=models.OneToOneField(blank=True, db_constraint=False, null=True,
                                       on_delete=django.db.models.deletion.PROTECT, related_name="clinic_visit",
                                       to="gates.gateentry"),
        ),
    ]
