"""Registrations carry their round's created_at (`round_created`, issue 22, item 2), and
their unique keys hold it: (round, person, round_created) among counted registrations, and
(client_id, round_created) instead of client_id alone. round_created is a function of the
round, so the first means what (round, person) meant; the second stands for client_id (a
device resends to its site, so to the same round). A partitioned table's unique keys must
hold its partition key: 0003 partitions the table by month on round_created (PostgreSQL).
Existing rows get their round's created_at. Reversible."""
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def backfill(apps, schema_editor):
    Registration = apps.get_model("testing", "Registration")
    Round = apps.get_model("testing", "Round")
    (Registration.objects.using(schema_editor.connection.alias)
     .update(round_created=Subquery(Round.objects.filter(pk=OuterRef("round_id")).values("created_at")[:1])))


class Migration(migrations.Migration):

    dependencies = [
        ("testing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="registration",
            name="round_created",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="registration",
            name="round_created",
            field=models.DateTimeField(editable=False),
        ),
        migrations.RemoveConstraint(
            model_name="registration",
            name="testing_once_per_round",
        ),
        migrations.AddConstraint(
            model_name="registration",
            constraint=models.UniqueConstraint(condition=Q(("conflict", False), ("recall__isnull", True)),
                                               fields=("round", "person", "round_created"), name="testing_once_per_round"),
        ),
        migrations.AlterField(
            model_name="registration",
            name="client_id",
            field=models.UUIDField(),
        ),
        migrations.AddConstraint(
            model_name="registration",
            constraint=models.UniqueConstraint(fields=("client_id", "round_created"), name="testing_reg_client_once"),
        ),
    ]
