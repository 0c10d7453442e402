"""What the duty module tells the rest of the platform (fangkong.lib.registry): daily
figures per site (on duty, late, hours, unwell, needs) for the report and the dashboard, and
the to-dos of people on duty and of a site's responsible person."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope

from .models import Assignment, Deployment, HealthCheck

SECTION = _("People on duty")
A = Assignment.State


def _bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _assignments(day: dt.date):
    """(place path, site id, on duty, late, minutes) of the day's check-ins, one query shared
    by the figures of one read."""
    def query():
        start, end = _bounds(day)
        return list(Assignment.objects.filter(checkin_at__gte=start, checkin_at__lt=end).values_list(
            "place_path", "site_id").annotate(n=Count("id"), late=Count("id", filter=Q(late=True))).order_by())

    return registry.shared(("duty.assignments", day), query)


def _hours(day: dt.date):
    start, end = _bounds(day)
    out = defaultdict(float)
    for path, cin, cout in Assignment.objects.filter(checkin_at__lt=end).filter(
            Q(checkout_at__gt=start) | Q(state=A.CHECKED_IN)).values_list("place_path", "checkin_at", "checkout_at"):
        cout = cout or min(timezone.now(), end)
        span = (min(cout, end) - max(cin, start)).total_seconds() / 3600
        if span > 0:
            out[path] += span
    return [(p, round(h)) for p, h in out.items() if round(h)]


def _on_duty(day):
    return [(p, n) for p, _s, n, _l in _assignments(day) if n]


def _late(day):
    return [(p, late) for p, _s, _n, late in _assignments(day) if late]


def _unwell(day):
    return HealthCheck.objects.filter(day=day, state__in=[HealthCheck.State.UNWELL, HealthCheck.State.CLEARED]).exclude(
        place_path="").values_list("place_path").annotate(n=Count("id")).order_by()


def _checks(day):
    return HealthCheck.objects.filter(day=day).exclude(place_path="").values_list("place_path").annotate(
        n=Count("id")).order_by()


def _deployed(day):
    return Deployment.objects.filter(starts_on__lte=day).exclude(ends_on__lt=day).exclude(
        state=Deployment.State.ENDED).values_list("place_path").annotate(n=Count("id")).order_by()


def _deployed_by_sender(day):
    return Deployment.objects.filter(starts_on__lte=day, sender__isnull=False).exclude(ends_on__lt=day).exclude(
        state=Deployment.State.ENDED).values_list("sender_id").annotate(n=Count("id")).order_by()


def _needs(day):
    return Deployment.objects.filter(starts_on__lte=day).exclude(ends_on__lt=day).exclude(needs="").values_list(
        "place_path").annotate(n=Count("id")).order_by()


for key, label, fn, order, kind, by_org in (
    ("duty.deployed", _("People deployed"), _deployed, 60, "state", _deployed_by_sender),
    ("duty.on_duty", _("Shift check-ins"), _on_duty, 61, "day", None),
    ("duty.late", _("Late check-ins"), _late, 62, "day", None),
    ("duty.hours", _("Hours on duty"), _hours, 63, "day", None),
    ("duty.health", _("Health check-ins of people on duty"), _checks, 64, "day", None),
    ("duty.unwell", _("People on duty reporting fever or symptoms"), _unwell, 65, "day", None),
    ("duty.needs", _("Needs raised by people on duty"), _needs, 66, "state", None),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind=kind,
                                             by_org=by_org))


# --- To-dos --------------------------------------------------------------------------------------

def todos(user):
    from django.urls import reverse

    from . import actions

    now = timezone.now()
    if has_perm(user, "duty.self"):
        mine = Assignment.objects.filter(user=user)
        soon = mine.filter(state=A.ASSIGNED, shift__starts_at__lte=now + dt.timedelta(minutes=actions.EARLY_MINUTES),
                           shift__ends_at__gt=now)
        yield from registry.count_todo(soon, key="duty.checkin", label=_("Shifts to check in to"), url=reverse("duty_home"),
                                       rank=registry.RANK_DEADLINE, due_field="shift__starts_at")
        yield from registry.count_todo(mine.filter(state=A.CHECKED_IN), key="duty.checkout",
                                       label=_("Shifts to check out of before leaving"), url=reverse("duty_home"),
                                       rank=registry.RANK_DEADLINE, due_field="shift__ends_at")
        deployed = Deployment.objects.filter(user=user, state=Deployment.State.ACTIVE).exists()
        if deployed and not HealthCheck.objects.filter(user=user, day=timezone.localdate(now)).exists():
            yield registry.Todo(key="duty.health", label=_("Today's health check-in"), count=1, url=reverse("duty_home"),
                                rank=registry.RANK_HEALTH)
    if has_perm(user, "duty.alerted"):
        late = now - dt.timedelta(minutes=actions.LATE_MINUTES)
        missing = scope(Assignment.objects.filter(state=A.ASSIGNED, shift__starts_at__lt=late, shift__ends_at__gt=now),
                        user, "duty.alerted")
        yield from registry.count_todo(missing, key="duty.missing", label=_("People missing from their shift"),
                                       url=reverse("duty_sites"), rank=registry.RANK_HEALTH + 5)
        unwell = scope(HealthCheck.objects.filter(state=HealthCheck.State.UNWELL), user, "duty.alerted")
        yield from registry.count_todo(unwell, key="duty.unwell", label=_("People on duty unwell: see a medic, replace"),
                                       url=reverse("duty_sites"), rank=registry.RANK_HEALTH)


registry.register_todo(todos)


# --- Escalation along the grid roster --------------------------------------------------------------
# The existing modules' escalations (an inflow link overdue, a risky census answer or
# declaration) also reach the grid's people by the roster, not only by grants: the head(s)
# of the grid where it happened, or its responsible leader(s) when the grid has no head with
# an account. Once per alert (kind, record, key).
ESCALATED = frozenset({"inflow.overdue", "census.risk", "declarations.risk"})


@registry.register_alert_sink
def roster_escalation(alert) -> None:
    if alert.kind not in ESCALATED or not alert.place_path:
        return
    import logging

    try:
        from django.conf import settings
        from django.utils import translation

        from fangkong.notify.actions import ALERT_TITLES, notify

        from .queries import escalation

        users = next((level for level in escalation(alert.place_path) if level), [])
        if not users:
            return
        key = f"roster:{alert.kind}:{alert.obj_type}:{alert.obj_id}:{alert.key}" if alert.obj_id is not None else ""
        with translation.override(settings.LANGUAGE_CODE):
            title = str(ALERT_TITLES.get(alert.kind, alert.kind))
        notify(kind=alert.kind, title=title, body=alert.text, place_path=alert.place_path, users=users, dedupe_key=key)
    except Exception:  # telling the roster never undoes the caller's own record
        logging.getLogger(__name__).exception("roster escalation of %s failed", alert.kind)
