"""The default policy table (seed 000/004): high risk → centralized observation 14 days,
medium → home observation 14 days, low → health monitoring 7 days, none → nothing.
An admin edits it afterwards."""
from django.db import migrations

DEFAULTS = [("high", "central_observation", 14), ("medium", "home_observation", 14),
            ("low", "health_monitoring", 7), ("none", "none", 0)]


def forwards(apps, schema_editor):
    MeasurePolicy = apps.get_model("inflow", "MeasurePolicy")
    for risk, measure, days in DEFAULTS:
        MeasurePolicy.objects.get_or_create(risk=risk, defaults={"measure": measure, "days": days})


class Migration(migrations.Migration):
    dependencies = [("inflow", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
