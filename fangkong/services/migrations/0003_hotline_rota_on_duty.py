"""The hotline's 24-hour rota moves onto the people-on-duty module: every row of the old
services.DutyShift becomes an assignment of its officer to a shift of the post "hotline" at
the street's hotline site (an Organization of kind site at the street, made here when the
street has none), the officer deployed there; then the old table is dropped.

Shifts of the same street, start and end become one shift with as many places. A shift
already over when this runs is recorded as served as planned (the old rota knew no
check-in: checked in at its start and out at its end, the work log says so); one still
running or ahead is an assignment waiting for its check-in. The officers' weekly limit is
the old rota's heaviest 7 days (48 hours at least, 84 at most), so the migrated plan stands.
No grant is made: the street's administrator names the site's responsible person."""
import datetime as dt
import math
import secrets
from collections import defaultdict

from django.conf import settings
from django.db import migrations
from django.utils import timezone, translation
from django.utils.translation import gettext


def _street(Place, path):
    """The place of the rota's path, else its nearest existing ancestor."""
    parts = [p for p in path.split("/") if p]
    while parts:
        place = Place.objects.filter(path="/".join(parts) + "/").first()
        if place is not None:
            return place
        parts.pop()
    return None


def _code(Organization, street):
    base = f"HOTLINE-{street.code}"[:36]
    code, n = base, 1
    while Organization.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def _weekly_limit(spans):
    """The most hours of shifts starting in any 7 days (from one of their starts)."""
    spans = sorted(spans)
    most = 0.0
    for start, _end in spans:
        most = max(most, sum((e - s).total_seconds() / 3600 for s, e in spans if start <= s < start + dt.timedelta(days=7)))
    return min(84, max(48, math.ceil(most)))


def forward(apps, schema_editor):
    DutyShift = apps.get_model("services", "DutyShift")
    if not DutyShift.objects.exists():
        return
    Place = apps.get_model("places", "Place")
    Organization = apps.get_model("places", "Organization")
    Shift = apps.get_model("duty", "Shift")
    Assignment = apps.get_model("duty", "Assignment")
    Deployment = apps.get_model("duty", "Deployment")
    now = timezone.now()
    by_street = defaultdict(list)
    for row in DutyShift.objects.order_by("place_path", "starts_at", "id"):
        by_street[row.place_path].append(row)
    with translation.override(settings.LANGUAGE_CODE):
        site_name = gettext("%(street)s hotline")
        served = gettext("Hotline rota before the duty module: served as planned, no check-in recorded")
    for path, rows in by_street.items():
        street = _street(Place, path)
        if street is None:
            raise RuntimeError(f"services.DutyShift rows under {path!r}: no such place to move them to")
        site = Organization.objects.filter(kind="site", place=street, code__startswith="HOTLINE-").order_by("pk").first()
        if site is None:
            site = Organization.objects.create(kind="site", name=(site_name % {"street": street.name})[:120],
                                               code=_code(Organization, street), place=street, place_path=street.path)
        spans = defaultdict(list)
        for row in rows:
            spans[row.officer_id].append((row.starts_at, row.ends_at))
        deployments = {}
        for officer_id, officer_spans in spans.items():
            deployments[officer_id] = Deployment.objects.create(
                user_id=officer_id, site=site, kind="cadre", starts_on=timezone.localdate(min(s for s, _e in officer_spans)),
                state="active", weekly_limit=_weekly_limit(officer_spans), place_path=site.place_path)
        groups = defaultdict(list)
        for row in rows:
            groups[(row.starts_at, row.ends_at)].append(row)
        for (starts_at, ends_at), group in groups.items():
            officers = list(dict.fromkeys(r.officer_id for r in group))
            shift = Shift.objects.create(site=site, post="hotline", starts_at=starts_at, ends_at=ends_at, slots=len(officers),
                                         post_code=secrets.token_urlsafe(9)[:12], place_path=site.place_path)
            over = ends_at <= now
            for officer_id in officers:
                fields = {}
                if over:
                    fields = {"state": "checked_out", "checkin_at": starts_at, "checkout_at": ends_at, "note": served,
                              "minutes": int((ends_at - starts_at).total_seconds() // 60)}
                Assignment.objects.create(shift=shift, user_id=officer_id, deployment=deployments[officer_id], site=site,
                                          place_path=site.place_path, how="assigned", **fields)


def backward(apps, schema_editor):
    """The hotline assignments back into the old table (the duty rows stay)."""
    DutyShift = apps.get_model("services", "DutyShift")
    Assignment = apps.get_model("duty", "Assignment")
    DutyShift.objects.bulk_create([
        DutyShift(officer_id=a.user_id, place_path=a.place_path, starts_at=a.shift.starts_at, ends_at=a.shift.ends_at)
        for a in Assignment.objects.filter(shift__post="hotline").exclude(state="removed").select_related("shift")])


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0002_ledger_receipts_offline'),
        ('duty', '0004_hotline_post'),
        ('places', '0003_grant_dates'),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(
            name='DutyShift',
        ),
    ]
