"""A deadline per current link (due_link, due_at) and a once-per-link escalation mark;
open applications get the deadline of the link they wait for (same rules as actions.py)."""
import datetime as dt

from django.conf import settings
from django.db import migrations, models


def fill_deadlines(apps, schema_editor):
    from django.utils import timezone

    Application = apps.get_model("inflow", "Application")
    for app in Application.objects.filter(state__in=["submitted", "forwarded", "approved", "travelling"]).iterator():
        if app.state == "submitted":
            link, due = "forward", app.submitted_at + dt.timedelta(minutes=settings.INFLOW_FORWARD_MINUTES)
        elif app.state == "forwarded":
            link, due = "review", app.review_due_at
        elif app.state == "approved":
            link, due = "travel", (app.decided_at or app.submitted_at) + dt.timedelta(hours=settings.INFLOW_TRAVEL_HOURS)
        else:
            day = app.planned_arrival or timezone.localdate(app.travelling_at or app.submitted_at)
            link = "arrive"
            due = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)) + dt.timedelta(
                hours=settings.INFLOW_ARRIVAL_GRACE_HOURS)
        Application.objects.filter(pk=app.pk).update(due_link=link, due_at=due)


class Migration(migrations.Migration):

    dependencies = [
        ('inflow', '0002_policy'),
        ('places', '0001_initial'),
        ('residents', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='application',
            name='due_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name='application',
            name='due_link',
            field=models.CharField(blank=True, choices=[('forward', 'Forwarding'), ('review', 'Review'), ('travel', 'Travel confirmation'), ('arrive', 'Arrival registration')], max_length=10),
        ),
        migrations.AddField(
            model_name='application',
            name='escalated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='application',
            index=models.Index(fields=['escalated_at', 'due_at'], name='inflow_appl_escalat_25aa21_idx'),
        ),
        migrations.RunPython(fill_deadlines, migrations.RunPython.noop),
    ]
