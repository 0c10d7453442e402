"""Data migration: the gates' fever triage records (gates.Triage) become visits of the one
clinic triage flow (origin "gate"), once each (legacy_triage_id). An open triage waits to be
routed; a closed one keeps its route, and a fever patient sent to the fever clinic or the
hospital is followed to an outcome like any other."""
import uuid

from django.db import migrations

ROUTES = {"fever_clinic": "fever_clinic", "hospital": "isolation_ward", "home_observation": "home_observation",
          "cleared": "cleared", "": ""}
TRACKED = ("fever_clinic", "isolation_ward")
NAMESPACE = uuid.UUID("6b7f1c1e-6a43-4d2c-9d52-0c1a5e0a7f21")


def forward(apps, schema_editor):
    Triage = apps.get_model("gates", "Triage")
    Visit = apps.get_model("clinic", "Visit")
    done = set(Visit.objects.exclude(legacy_triage_id=None).values_list("legacy_triage_id", flat=True))
    batch = []
    for t in Triage.objects.order_by("pk").iterator(chunk_size=1000):
        if t.pk in done:
            continue
        route = ROUTES.get(t.routed_to, "fever_clinic")
        if t.state == "open":
            state = "waiting"
        else:
            state = "tracking" if route in TRACKED else "done"
        note = t.note
        if t.routed_to == "hospital":
            note = ("医院 / hospital; " + note)[:300]
        if t.closed_by:
            note = (note + f" [{t.closed_by}]").strip()[:300]
        batch.append(Visit(
            client_id=uuid.uuid5(NAMESPACE, f"gates.triage:{t.pk}"), origin="gate", place_id=t.place_id,
            place_path=t.place_path, gate_entry_id=t.entry_id, legacy_triage_id=t.pk, masked=t.masked,
            pass_id=t.pass_id, temperature=t.temperature, fever=True, source_area=t.travel, contact_source=t.contact,
            high_risk=bool(t.travel or t.contact), route=route if state != "waiting" else "", state=state, note=note,
            occurred_at=t.created_at, routed_at=t.closed_at if state != "waiting" else None))
        if len(batch) >= 1000:
            Visit.objects.bulk_create(batch)
            batch = []
    if batch:
        Visit.objects.bulk_create(batch)


def backward(apps, schema_editor):
    Visit = apps.get_model("clinic", "Visit")
    Visit.objects.exclude(legacy_triage_id=None).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("gates", "0003_daily_figures_indexes"),
    ]

    operations = [migrations.RunPython(forward, backward)]
