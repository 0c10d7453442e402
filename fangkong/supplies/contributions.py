"""What supplies tells the rest of the platform: the daily figures derived from the ledger
(on hand per item at the end of the day, per place and per station/unit; the day's
donations), the keepers' and the street's to-dos."""
from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope

SECTION = _("Supplies")

# The figures the daily report used to have typed in (keys as the reports' entered figures
# had them): now the ledger's sum at the end of each day.
ON_HAND = [
    ("masks", _("Masks on hand")),
    ("disinfectant", _("Disinfectant on hand (jin)")),
    ("thermometers", _("Thermometers on hand")),
    ("suits", _("Protective suits on hand")),
    ("disinfectant_powder", _("Disinfectant powder on hand (jin)")),
]


def _on_hand_rows(day: dt.date):
    """[(item code, place path, org id or None, n)] at the end of `day` (one query, shared)."""
    from .models import Entry

    def read():
        rows = (Entry.objects.filter(day__lte=day).values("item__code", "place_path", "organization_id_copy")
                .annotate(n=Sum("quantity")).order_by())
        return [(r["item__code"], r["place_path"], r["organization_id_copy"], r["n"] or 0) for r in rows]
    return registry.shared(("supplies.on_hand", day), read)


def _counts(code):
    def counts(day):
        return [(path, n) for c, path, _org, n in _on_hand_rows(day) if c == code and n]
    return counts


def _by_org(code):
    def by_org(day):
        return [(org, n) for c, _path, org, n in _on_hand_rows(day) if c == code and org is not None and n]
    return by_org


for order, (code, label) in enumerate(ON_HAND):
    registry.register_metric(registry.Metric(key=f"supplies.{code}", label=label, section=SECTION, counts=_counts(code),
                                             by_org=_by_org(code), kind="state", order=700 + order))


def _donations(day):
    from django.db.models import Count
    from django.utils import timezone

    from .models import Donation

    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    rows = (Donation.objects.filter(received_at__gte=start, received_at__lt=start + dt.timedelta(days=1))
            .values("place_path").annotate(n=Count("id")).order_by())
    return [(r["place_path"], r["n"]) for r in rows]


registry.register_metric(registry.Metric(key="supplies.donations", label=_("Donations received"), section=SECTION,
                                         counts=_donations, order=720))


@registry.register_todo
def _todos(user):
    from .models import Request, Transfer

    out = []
    if has_perm(user, "supplies.keep"):
        out += registry.count_todo(scope(Transfer.objects.filter(state=Transfer.State.SENT), user, "supplies.keep"),
                                   key="supplies.receive", label=_("Supplies to confirm as received"),
                                   url=reverse("supplies_holders"))
    if has_perm(user, "supplies.manage"):
        out += registry.count_todo(scope(Request.objects.filter(state=Request.State.OPEN), user, "supplies.manage"),
                                   key="supplies.requests", label=_("Supplies requests to decide"),
                                   url=reverse("supplies_requests"))
    return out
