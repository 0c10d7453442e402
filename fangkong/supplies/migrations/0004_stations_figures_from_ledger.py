"""Stations are no longer asked to type in the supplies figures the ledger derives (issue 19
item 5): the standard entered figures (masks, disinfectant, thermometers, suits on hand)
stop naming stations; employer units and enterprises, which keep no ledger, still enter
them. Closed days keep what was entered then."""
from django.db import migrations

DERIVED = ["masks", "disinfectant", "thermometers", "suits"]


def _kinds(d):
    return [k for k in d.org_kinds.split(",") if k]


def forward(apps, schema_editor):
    FigureDefinition = apps.get_model("reports", "FigureDefinition")
    for d in FigureDefinition.objects.filter(key__in=DERIVED):
        kinds = [k for k in _kinds(d) if k != "station"]
        if kinds != _kinds(d):
            d.org_kinds = ",".join(kinds)
            d.active = d.active and bool(kinds)
            d.save(update_fields=["org_kinds", "active"])


def backward(apps, schema_editor):
    FigureDefinition = apps.get_model("reports", "FigureDefinition")
    for d in FigureDefinition.objects.filter(key__in=DERIVED):
        if "station" not in _kinds(d):
            d.org_kinds = ",".join(_kinds(d) + ["station"])
            d.active = True
            d.save(update_fields=["org_kinds", "active"])


class Migration(migrations.Migration):
    dependencies = [("supplies", "0003_append_only"), ("reports", "0002_standard_figures")]
    operations = [migrations.RunPython(forward, backward)]
