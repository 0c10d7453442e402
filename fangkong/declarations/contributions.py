"""What self-declaration tells the rest of the platform (fangkong.lib.registry): the daily
figures, counted per place path (the matched person's place, or the community) per local day."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong import uploads
from fangkong.lib import registry
from fangkong.places.access import has_perm

from .models import CreditEntry, Declaration, Finding

SECTION = _("Self-declaration")


def _bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _per_path(qs, field: str, day: dt.date):
    start, end = _bounds(day)
    return qs.filter(**{f"{field}__gte": start, f"{field}__lt": end}).values_list("place_path").annotate(
        n=Count("id")).order_by()


def submitted(day):
    """Declarations received that day."""
    return _per_path(Declaration.objects.all(), "submitted_at", day)


def risky(day):
    """Declarations received that day that declare a risk (fever, symptoms, risk area, contacts)."""
    return _per_path(Declaration.objects.filter(risk=True), "submitted_at", day)


def verified(day):
    """Declarations verified true that day (by the day of the check)."""
    return _per_path(Declaration.objects.filter(state=Declaration.State.VERIFIED), "checked_at", day)


def found_false(day):
    return _per_path(Declaration.objects.filter(state=Declaration.State.FOUND_FALSE), "checked_at", day)


def findings(day):
    """Grid-watch findings recorded that day."""
    return _per_path(Finding.objects.all(), "recorded_at", day)


def credit_entries(day):
    """Credit-record entries made that day (a later revocation does not unmake the day's count)."""
    return _per_path(CreditEntry.objects.all(), "created_at", day)


for key, label, fn, order in (
    ("declarations.submitted", _("Self-declarations"), submitted, 40),
    ("declarations.risk", _("Self-declarations with a risk"), risky, 41),
    ("declarations.verified", _("Self-declarations verified"), verified, 42),
    ("declarations.found_false", _("Self-declarations found false"), found_false, 43),
    ("declarations.findings", _("Grid-watch findings"), findings, 44),
    ("credit.entries", _("Credit-record entries"), credit_entries, 45),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind="day"))


# --- Private uploads: a grid-watch finding carries photos (its evidence), viewed by whoever
# sees the finding, added and removed by the grid workers and committee while the finding
# awaits the committee's decision (a decided finding's evidence is frozen).
uploads.register_owner(Finding, view_perm="declarations.view", attach_perm="declarations.watch",
                       editable=lambda finding: finding.state == Finding.State.RECORDED)


# --- To-dos: declarations to verify (risky ones apart, they come first), findings awaiting
# the committee's confirmation, appeals to decide.
def todos(user):
    from django.urls import reverse

    from . import queries

    if has_perm(user, "declarations.verify"):
        open_ = queries.declarations(user, "declarations.verify").filter(state__in=queries.QUEUE_STATES["open"])
        queue = reverse("declarations_queue")
        yield from registry.count_todo(open_.filter(risk=True), key="declarations.verify_risk", url=queue,
                                       label=_("Self-declarations with a risk to verify"), rank=registry.RANK_QUEUE - 10)
        yield from registry.count_todo(open_.filter(risk=False), key="declarations.verify", url=queue,
                                       label=_("Self-declarations to verify"))
    if has_perm(user, "declarations.confirm"):
        yield from registry.count_todo(
            queries.findings(user, Finding.State.RECORDED, "declarations.confirm"), key="declarations.confirm",
            label=_("Grid-watch findings to confirm"), url=reverse("declarations_findings"))
    if has_perm(user, "credit.decide_appeal"):
        yield from registry.count_todo(queries.open_appeals(user, "credit.decide_appeal"), key="credit.appeals",
                                       label=_("Credit-record appeals to decide"), url=reverse("credit_list") + "?state=appeals")


registry.register_todo(todos)


# --- Retention: a checked declaration's health details, then the identity it holds
# (retention.py; kept while it backs a credit entry in force).
def _retention(now, **days):
    from . import retention

    return retention.run(now, **days)


registry.register_retention(registry.RetentionRule(key="declarations", label=SECTION, run=_retention))
