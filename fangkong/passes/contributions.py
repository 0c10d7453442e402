"""What the passes module tells the rest of the platform (fangkong.lib.registry): daily
figures for the daily report, counted per place path (the pass's place) per local day.

A pass's colour is never stored (it is derived from the person's state when a token is
signed), so the figures count passes by kind, not by colour."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope

from .models import Pass

SECTION = _("Passes")


def _day_bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _by_path(qs):
    return qs.values_list("place_path").annotate(n=Count("id")).order_by()


def issued(kind: str | None = None):
    def counts(day: dt.date):
        start, end = _day_bounds(day)
        qs = Pass.objects.filter(created_at__gte=start, created_at__lt=end)
        return _by_path(qs if kind is None else qs.filter(kind=kind))

    return counts


def valid(day: dt.date):
    """Passes valid at the end of the day (a stock): begun, not expired, not revoked by then."""
    _start, end = _day_bounds(day)
    qs = Pass.objects.filter(created_at__lt=end, valid_from__lt=end, valid_until__gte=end).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gte=end))
    return _by_path(qs)


def revoked(day: dt.date):
    start, end = _day_bounds(day)
    return _by_path(Pass.objects.filter(revoked_at__gte=start, revoked_at__lt=end))


for key, label, fn, order, kind in (
    ("passes.issued", _("Passes issued"), issued(), 50, "day"),
    ("passes.issued_visitor", _("Temporary passes issued"), issued(Pass.Kind.VISITOR), 51, "day"),
    ("passes.valid", _("Valid passes"), valid, 52, "state"),
    ("passes.revoked", _("Passes revoked"), revoked, 53, "day"),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind=kind))


# --- To-dos: colour overrides waiting for a second person's approval (never one's own).
def todos(user):
    from django.urls import reverse

    from .models import Override

    if has_perm(user, "passes.approve_override"):
        waiting = scope(Override.objects.filter(state=Override.State.REQUESTED), user, "passes.approve_override")
        yield from registry.count_todo(waiting.exclude(requested_by=user), key="passes.overrides",
                                       label=_("Pass colour overrides to approve"), url=reverse("pass_overrides"),
                                       rank=registry.RANK_QUEUE - 10)


registry.register_todo(todos)


# --- A person's page: their passes, and issuing one without typing the ID again --------

@registry.register_person_section
def person_passes(user, person):
    from django.urls import reverse

    from fangkong.places.access import may

    if not has_perm(user, "passes.view"):
        return None
    passes = scope(Pass.objects.filter(person=person), user, "passes.view").order_by("-created_at", "-id")[:10]
    items = tuple(registry.PersonItem(
        text=f"{p.serial} · {p.get_state_display()} · {timezone.localtime(p.valid_until):%Y-%m-%d}",
        url=reverse("pass_detail", args=[p.pk])) for p in passes)
    actions = ()
    if may(user, "passes.issue", person):
        actions = (registry.PersonAction(label=_("Issue a health pass"), url=reverse("pass_issue_person", args=[person.pk]),
                                         key="issue-pass"),)
    return registry.PersonSection(key="passes", title=_("Health passes"), items=items, actions=actions, order=20)
