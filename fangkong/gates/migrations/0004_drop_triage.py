"""The gates' own fever triage table (gates.Triage) goes: clinic/0002 copied its records
into the clinic triage (clinic.Visit, origin "gate", legacy_triage_id), and nothing reads
or writes it since. Runs after that data migration, so no record is lost; undone, the
table comes back with the migrated records as they are now in the clinic triage."""
from django.db import migrations

ROUTES_BACK = {"fever_clinic": "fever_clinic", "isolation_ward": "hospital", "home_observation": "home_observation",
               "cleared": "cleared", "": ""}


def restore(apps, schema_editor):
    Triage = apps.get_model("gates", "Triage")
    Visit = apps.get_model("clinic", "Visit")
    batch = []
    legacy = Visit.objects.exclude(legacy_triage_id=None).exclude(temperature=None)  # the table's all had one
    for v in legacy.order_by("legacy_triage_id").iterator(chunk_size=1000):
        waiting = v.state == "waiting"
        batch.append(Triage(
            pk=v.legacy_triage_id, entry_id=v.gate_entry_id, place_id=v.place_id, place_path=v.place_path,
            masked=v.masked, pass_id=v.pass_id, temperature=v.temperature, travel=v.source_area,
            contact=v.contact_source, routed_to="" if waiting else ROUTES_BACK.get(v.route, "fever_clinic"),
            state="open" if waiting else "closed", note=v.note[:300], created_at=v.occurred_at,
            closed_at=None if waiting else v.routed_at))
        if len(batch) >= 1000:
            Triage.objects.bulk_create(batch)
            batch = []
    if batch:
        Triage.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("gates", "0003_daily_figures_indexes"),
        ("clinic", "0002_gate_triage"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore),
        migrations.DeleteModel(name="Triage"),
    ]
