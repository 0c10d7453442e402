"""What disinfection tells the rest of the platform, and what it hears:

* an alert sink: a fever at a gate, a fever in an observed household or a positive test
  makes a case round for the building (else the compound) and its surroundings — read from
  the alert itself (its place, or the person's registered place), never from the
  reporting module's records;
* daily figures per place: rounds due, done, not done in time, case rounds, agent used;
* to-dos: overdue rounds (to whoever is alerted), today's rounds still due (to whoever logs);
* a round's photo through the uploads module.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope
from fangkong.uploads import register_owner

from .models import Round

SECTION = _("Disinfection")
# Alerts that mean a case in a building: a fever at a gate, a fever in an observed
# household, a positive test (the testing module's recall).
CASE_ALERTS = frozenset({"gate.fever", "observation.fever", "testing.positive"})
log = logging.getLogger(__name__)

register_owner(Round, view_perm="disinfection.view", attach_perm="disinfection.log")


@registry.register_alert_sink
def case_rounds(alert) -> None:
    if alert.kind not in CASE_ALERTS:
        return
    try:
        from . import actions

        path = alert.place_path
        if alert.person_id is not None:  # the person's home building, where the alert says only a gate
            from fangkong.residents.models import Person

            path = Person.objects.filter(pk=alert.person_id).values_list("place_path", flat=True).first() or path
        if not path:
            return
        source = f"{alert.kind}:{alert.obj_type}:{alert.obj_id}" if alert.obj_id is not None else f"{alert.kind}:{path}:{timezone.localdate()}"
        actions.case_round(acting_user=None, place_path=path, source=source, reason=str(_kind_reason(alert.kind)))
    except Exception:  # a case round never undoes the caller's own record
        log.exception("case round for %s failed", alert.kind)


def _kind_reason(kind: str):
    return {"gate.fever": _("Fever at a gate"), "observation.fever": _("Fever under observation"),
            "testing.positive": _("Positive test")}.get(kind, kind)


# --- Daily figures ----------------------------------------------------------------------

def _day_rows(day: dt.date):
    def read():
        end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
        rows = (Round.objects.filter(day=day).values("place_path")
                .annotate(due=Count("id"), done=Count("id", filter=Q(state=Round.State.DONE)),
                          late=Count("id", filter=Q(state=Round.State.DUE, due_at__lt=min(end, timezone.now()))
                                     | Q(state=Round.State.DONE, done_at__gt=F("due_at"))),
                          case=Count("id", filter=Q(kind=Round.Kind.CASE)),
                          waste=Count("id", filter=Q(kind=Round.Kind.WASTE, state=Round.State.DONE)))
                .order_by())
        return list(rows)
    return registry.shared(("disinfection.day", day), read)


def _metric(field):
    def counts(day):
        return [(r["place_path"], r[field]) for r in _day_rows(day) if r[field]]
    return counts


def _agent(day):
    rows = (Round.objects.filter(day=day, agent__code="disinfectant", amount__isnull=False).values("place_path")
            .annotate(n=Sum("amount")).order_by())
    return [(r["place_path"], r["n"]) for r in rows]


for order, (field, label) in enumerate((
        ("due", _("Disinfection rounds due")),
        ("done", _("Disinfection rounds done")),
        ("late", _("Disinfection rounds late or missed")),
        ("case", _("Case-triggered disinfection rounds")),
        ("waste", _("Isolation waste collections")))):
    registry.register_metric(registry.Metric(key=f"disinfection.{field}", label=label, section=SECTION,
                                             counts=_metric(field), order=760 + order))
registry.register_metric(registry.Metric(key="disinfection.agent", label=_("Disinfectant used in rounds (jin)"),
                                         section=SECTION, counts=_agent, order=770))


# --- To-dos -----------------------------------------------------------------------------

@registry.register_todo
def _todos(user):
    out = []
    now = timezone.now()
    since = timezone.localdate() - dt.timedelta(days=1)
    if has_perm(user, "disinfection.alerted"):
        late = scope(Round.objects.filter(state=Round.State.DUE, due_at__lt=now, day__gte=since), user, "disinfection.alerted")
        out += registry.count_todo(late, key="disinfection.overdue", label=_("Disinfection rounds overdue"),
                                   url=reverse("disinfection_board") + "?show=overdue", rank=registry.RANK_DEADLINE,
                                   due_field="due_at")
    if has_perm(user, "disinfection.log"):
        due = scope(Round.objects.filter(state=Round.State.DUE, due_at__gte=now, day=timezone.localdate()), user,
                    "disinfection.log")
        out += registry.count_todo(due, key="disinfection.due", label=_("Disinfection rounds due today"),
                                   url=reverse("disinfection_today"), rank=registry.RANK_ROUND, due_field="due_at")
    return out
