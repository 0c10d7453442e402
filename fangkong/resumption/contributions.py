"""What work resumption tells the rest of the platform: daily figures (the daily report and
the dashboard add them up), to-dos, and the check items' photos as private attachments."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope
from fangkong.uploads import register_owner

from .models import Application, CheckAnswer, Problem, SiteCheck, StaffRecord

SECTION = _("Work resumption")
S = Application.State

register_owner(CheckAnswer, view_perm="resumption.view", attach_perm="resumption.check")


@registry.register_finding_sink
def _unit_finding(finding):
    """An inspection's finding at an enterprise: a problem of its problems log (actions)."""
    from . import actions

    actions.on_unit_finding(finding)


def _bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _by_place(qs):
    return qs.values_list("place_path").annotate(n=Count("id")).order_by()


def _by_org(qs):
    return qs.values_list("organization_id").annotate(n=Count("id")).order_by()


def _submitted(day):
    start, end = _bounds(day)
    return Application.objects.filter(submitted_at__gte=start, submitted_at__lt=end)


def _approved(day):
    start, end = _bounds(day)
    return Application.objects.filter(decided_at__gte=start, decided_at__lt=end)


def _in_state(*states):
    def qs(day):
        return Application.objects.filter(state__in=states)
    return qs


def _returned(day):
    return StaffRecord.objects.filter(return_date=day)


def _isolated(day):
    return StaffRecord.objects.filter(active=True, observation__state="active", observation__start_date__lte=day,
                                      observation__planned_end__gte=day)


def _inspected(day):
    start, end = _bounds(day)
    return SiteCheck.objects.filter(kind=SiteCheck.Kind.SUPERVISION, done_at__gte=start, done_at__lt=end)


def _inspections_overdue(day):
    return SiteCheck.objects.filter(state=SiteCheck.State.ASSIGNED, due_date__lt=day)


def _open_problems(day):
    return Problem.objects.filter(~Q(state=Problem.State.CLOSED))


for key, fn, label, kind, order in (
    ("resumption.submitted", _submitted, _("Resumption applications submitted"), "day", 60),
    ("resumption.approved", _approved, _("Resumption applications approved"), "day", 61),
    ("resumption.pending", _in_state(S.SUBMITTED, S.REVIEW, S.ONSITE, S.RETURNED), _("Resumption applications in progress"),
     "state", 62),
    ("resumption.resumed", _in_state(S.APPROVED, S.RESUMED), _("Enterprises resumed"), "state", 63),
    ("resumption.suspended", _in_state(S.SUSPENDED), _("Enterprises suspended"), "state", 64),
    ("resumption.returning", _returned, _("Returning workers registered"), "day", 65),
    ("resumption.isolated", _isolated, _("Staff in isolation"), "state", 66),
    ("resumption.inspected", _inspected, _("Supervision inspections done"), "day", 67),
    ("resumption.inspections_overdue", _inspections_overdue, _("Supervision inspections overdue"), "state", 68),
    ("resumption.open_problems", _open_problems, _("Open resumption problems"), "state", 69),
):
    registry.register_metric(registry.Metric(
        key=key, label=label, section=SECTION, kind=kind, order=order,
        counts=lambda day, fn=fn: _by_place(fn(day)), by_org=lambda day, fn=fn: _by_org(fn(day))))


@registry.register_todo
def _todos(user) -> list:
    out = []
    board = reverse("resumption_board")
    if has_perm(user, "resumption.review"):
        qs = scope(Application.objects.filter(state__in=[S.SUBMITTED, S.REVIEW]), user, "resumption.review")
        out += registry.count_todo(qs, key="resumption.review", label=_("Resumption applications to review"),
                                   url=board + "?state=queue", rank=registry.RANK_DEADLINE, due_field="due_at")
    if has_perm(user, "resumption.check"):
        qs = SiteCheck.objects.filter(state=SiteCheck.State.ASSIGNED, assignees=user)
        out += registry.count_todo(scope(qs, user, "resumption.check"), key="resumption.check",
                                   label=_("On-site checks and inspections assigned to you"),
                                   url=reverse("resumption_checks"), rank=registry.RANK_QUEUE)
    if has_perm(user, "resumption.apply"):
        qs = scope(Problem.objects.filter(state=Problem.State.OPEN, owner=Problem.Owner.ENTERPRISE), user, "resumption.apply")
        out += registry.count_todo(qs, key="resumption.problems", label=_("Resumption problems to answer"),
                                   url=reverse("resumption_portal"), rank=registry.RANK_DEADLINE)
    return out


@registry.register_person_section
def person_staff_records(user, person):
    """On the person's page: the enterprises whose staff list holds them (those the user sees)."""
    if not has_perm(user, "resumption.view"):
        return None
    recs = scope(StaffRecord.objects.filter(person=person).select_related("enterprise__organization"), user,
                 "resumption.view")[:10]
    items = tuple(registry.PersonItem(text=f"{r.enterprise.name} · {r.get_health_display()}",
                                      url=reverse("resumption_enterprise", args=[r.enterprise_id])) for r in recs)
    if not items:
        return None
    return registry.PersonSection(key="resumption", title=_("Employee health records"), items=items, order=45)


def _retention(now, **kwargs):
    from . import retention

    return retention.run(now, **kwargs)


registry.register_retention(registry.RetentionRule(key="resumption", label=SECTION, run=_retention))
