"""The figures seed 000's paper form asked of every station and unit (supplies on hand),
ready to use; coordinators add, and deactivate, their own."""
from django.db import migrations

STANDARD = [
    ("masks", "口罩", "个", 10),
    ("disinfectant", "消毒液", "斤", 20),
    ("thermometers", "体温计", "支", 30),
    ("suits", "防护服", "套", 40),
]


def add(apps, schema_editor):
    FigureDefinition = apps.get_model("reports", "FigureDefinition")
    for key, label, unit, order in STANDARD:
        FigureDefinition.objects.get_or_create(key=key, defaults={"label": label, "unit": unit, "order": order,
                                                                  "org_kinds": "employer,enterprise,station"})


def remove(apps, schema_editor):
    apps.get_model("reports", "FigureDefinition").objects.filter(key__in=[k for k, *_ in STANDARD]).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
