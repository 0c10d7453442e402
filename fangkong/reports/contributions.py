"""What the daily report tells the rest of the platform (fangkong.lib.registry): the to-dos
of its figures. Each station or unit enters and confirms its figures of today before the
deadline (its liaison's to-do); after the deadline the units that have not are late (the
to-do of who follows them up)."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope
from fangkong.places.models import Organization

from . import actions, queries
from .models import Submission


def todos(user):
    today = timezone.localdate()
    deadline = actions.deadline(today)
    now = timezone.now()
    if has_perm(user, "reports.enter"):
        confirmed = Submission.objects.filter(day=today, state=Submission.State.CONFIRMED).values("organization")
        n = actions.required_orgs(queries.entry_orgs(user)).exclude(pk__in=confirmed).count()
        if n:
            yield registry.Todo(key="reports.enter", label=_("Daily figures to enter and confirm"), count=n,
                                url=reverse("reports_entry"), due=deadline, overdue=now > deadline,
                                rank=registry.RANK_DEADLINE)
    if has_perm(user, "reports.late") and now >= deadline:
        late = [r for r in actions.late(today, scope(Organization.objects.all(), user, "reports.late"), now=now)
                if r["state"] != "late"]  # "late": confirmed after the deadline, nothing left to do
        if late:
            yield registry.Todo(key="reports.late", label=_("Units late with today's figures"), count=len(late),
                                url=reverse("reports_late"), due=deadline, overdue=True, rank=registry.RANK_DEADLINE)


registry.register_todo(todos)
