"""What the clinic triage tells the rest of the platform (fangkong.lib.registry): daily
figures (visitors screened, fevers routed, fever patients awaiting an outcome) for the daily
report and the dashboard, the medics' to-dos, and the check of the CDC's export tokens."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, register_credential, scope

from . import actions
from .models import Visit
from .queries import day_bounds

SECTION = _("Clinic pre-screening")

# The CDC's export tokens, checked by the access module for GET /api/clinic/report.
register_credential("clinic.report", actions.check_token)


def _screened(day: dt.date):
    """Visitors screened at the clinics' posts on the day, where the clinic is."""
    start, end = day_bounds(day)
    return list(Visit.objects.filter(origin=Visit.Origin.POST, occurred_at__gte=start, occurred_at__lt=end)
                .values_list("place_path").annotate(n=Count("id")).order_by())


def _screened_by_clinic(day: dt.date):
    start, end = day_bounds(day)
    return list(Visit.objects.filter(origin=Visit.Origin.POST, occurred_at__gte=start, occurred_at__lt=end)
                .values_list("clinic_id").annotate(n=Count("id")).order_by())


def _fevers_routed(day: dt.date):
    """Fevers (at a post or sent by a gate) routed on the day."""
    start, end = day_bounds(day)
    return list(Visit.objects.filter(fever=True, routed_at__gte=start, routed_at__lt=end).exclude(route="")
                .values_list("place_path").annotate(n=Count("id")).order_by())


def _tracked(day: dt.date):
    """Fever patients still awaiting an outcome at the end of the day (a stock)."""
    _start, end = day_bounds(day)
    open_ = Q(state__in=[Visit.State.TRACKING, Visit.State.TESTED]) | Q(outcome_at__gte=end)
    return list(Visit.objects.filter(open_, route__in=["fever_clinic", "isolation_ward"], routed_at__lt=end)
                .exclude(state=Visit.State.WAITING).values_list("place_path").annotate(n=Count("id")).order_by())


registry.register_metric(registry.Metric("clinic.screened", _("Visitors screened at clinics"), SECTION, _screened,
                                         order=64, by_org=_screened_by_clinic))
registry.register_metric(registry.Metric("clinic.fevers_routed", _("Fevers routed"), SECTION, _fevers_routed, order=65))
registry.register_metric(registry.Metric("clinic.tracked", _("Fever patients awaiting an outcome"), SECTION, _tracked,
                                         order=66, kind="state"))


def todos(user):
    from django.urls import reverse

    if has_perm(user, "clinic.triage"):
        qs = scope(Visit.objects.all(), user, "clinic.triage")
        yield from registry.count_todo(qs.filter(state=Visit.State.WAITING), key="clinic.waiting",
                                       label=_("Fevers at the gates to triage"), url=reverse("clinic_queue"),
                                       rank=registry.RANK_HEALTH + 5)
        yield from registry.count_todo(qs.filter(state__in=[Visit.State.TRACKING, Visit.State.TESTED]),
                                       key="clinic.tracking", label=_("Fever patients awaiting an outcome"),
                                       url=reverse("clinic_queue"), rank=registry.RANK_HEALTH + 6)


registry.register_todo(todos)


# --- Retention: a finished visit's identity goes after the health period (retention.py).
def _retention(now, **kw):
    from . import retention

    return retention.run(now, **kw)


registry.register_retention(registry.RetentionRule(key="clinic", label=SECTION, run=_retention))
