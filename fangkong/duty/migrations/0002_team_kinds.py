"""The kinds of teams the seeds name (configurable: more may be added)."""
from django.db import migrations

KINDS = [("party_pioneer", "党员先锋队"), ("emergency", "应急分队"), ("youth", "青年突击队"), ("household_heads", "户长队"),
         ("owners_committee", "业委会服务队"), ("elders", "老年监督队"), ("volunteer_service", "志愿服务队")]


def seed(apps, schema_editor):
    TeamKind = apps.get_model("duty", "TeamKind")
    for code, name in KINDS:
        TeamKind.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("duty", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
