"""What the inflow module tells the rest of the platform (fangkong.lib.registry): daily
figures for the daily report. The measure that starts on arrival is an observation
(fangkong.observation), which reports the persons' health flags."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope, scope_orgs
from fangkong.residents import transfers

from .models import Application, DueLink

SECTION = _("Inflow")


def _day_bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _counted(field: str):
    def counts(day: dt.date):
        start, end = _day_bounds(day)
        qs = Application.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        return qs.values_list("place_path").annotate(n=Count("id")).order_by()

    def by_org(day: dt.date):
        start, end = _day_bounds(day)
        qs = Application.objects.filter(employer__isnull=False, **{f"{field}__gte": start, f"{field}__lt": end})
        return qs.values_list("employer_id").annotate(n=Count("id")).order_by()

    return counts, by_org


for key, field, label, order in (
    ("inflow.applied", "submitted_at", _("Applications"), 10),
    ("inflow.decided", "decided_at", _("Decisions"), 11),
    ("inflow.arrived", "arrived_at", _("Arrivals"), 12),
):
    counts, by_org = _counted(field)
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=counts, by_org=by_org, order=order))


# --- To-dos: the link each open application waits for, for whoever does that link, with its
# deadline (Application.due_link / due_at, kept by the actions); arrivals only once due today.
def _todo_links():
    from .actions import TRANSITIONS

    return (
        (DueLink.FORWARD, TRANSITIONS["forward"].perm, _("Applications to forward to the committee"), "?state=open"),
        (DueLink.REVIEW, TRANSITIONS["approve"].perm, _("Return applications to review"), "?state=queue"),
        (DueLink.TRAVEL, TRANSITIONS["travel"].perm, _("Approved returns: notify the person and confirm travel"), "?state=open"),
        (DueLink.ARRIVE, TRANSITIONS["arrive"].perm, _("Arrivals due today or overdue"), "?state=open"),
    )


def todos(user):
    board = reverse("inflow_board")
    tomorrow, _end = _day_bounds(timezone.localdate() + dt.timedelta(days=1))
    for link, perm, label, query in _todo_links():
        if has_perm(user, perm):
            qs = scope(Application.objects.filter(due_link=link), user, perm)
            if link == DueLink.ARRIVE:
                qs = qs.filter(due_at__lt=tomorrow)
            yield from registry.count_todo(qs, key=f"inflow.{link}", label=label, url=board + query,
                                           rank=registry.RANK_DEADLINE, due_field="due_at")
    if has_perm(user, "inflow.apply"):  # the applicant answers: its unit, or who applied in person
        units = scope_orgs(user, "inflow.apply")
        asked = scope(Application.objects.filter(state=Application.State.MORE_INFO), user, "inflow.apply")
        yield from registry.count_todo(
            asked.filter(Q(created_by=user) | Q(employer_id__in=units)),
            key="inflow.resubmit", label=_("Applications waiting for more information from you"), url=board + "?state=open")


registry.register_todo(todos)


# --- Transfer requests: an application for a person registered elsewhere waits for them.
def _transfer_decided(transfer, acting_user):
    from .actions import transfer_decided

    transfer_decided(transfer, acting_user)


transfers.on_decided("inflow", _transfer_decided)


# --- Retention: health details and the person's link of ended applications (retention.py).
def _retention(now, **kwargs):
    from .retention import run

    return run(now, **kwargs)


registry.register_retention(registry.RetentionRule(key="inflow", label=_("Return applications"), run=_retention))


# --- A person's page: their inflow applications ----------------------------------------

@registry.register_person_section
def person_applications(user, person):
    if not has_perm(user, "inflow.view"):
        return None
    apps = scope(Application.objects.filter(person=person), user, "inflow.view").order_by("-submitted_at", "-id")[:10]
    items = tuple(registry.PersonItem(text=f"{a.serial} · {a.get_state_display()} · {timezone.localtime(a.submitted_at):%Y-%m-%d}",
                                      url=reverse("inflow_detail", args=[a.pk])) for a in apps)
    return registry.PersonSection(key="applications", title=_("Inflow applications"), items=items, order=40)
