"""A holder's ledger and stock as XLSX (formula-safe cells, through lib.exports)."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.lib.exports import xlsx_response

from . import actions
from .models import Entry, Item


def ledger_xlsx(holder):
    def rows():
        yield [_("Time"), _("Item"), _("Movement"), _("Source"), _("Quantity"), _("Unit"), _("On hand after"),
               _("Counterpart"), _("Reason"), _("Task")]
        for e in Entry.objects.filter(holder=holder).select_related("item").order_by("at", "id").iterator():
            yield [timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M"), e.item.name, e.get_kind_display(),
                   e.get_source_display() if e.source else "", e.quantity, e.item.unit, e.balance, e.counterpart, e.reason,
                   e.task]
    return xlsx_response(rows(), f"ledger-{holder.pk}-{timezone.localdate():%Y%m%d}.xlsx", sheet_title=_("Ledger"))


def stock_xlsx(holder):
    stock = actions.stock_of(holder)
    transit = actions.in_transit(holder=holder)

    def rows():
        yield [_("Item"), _("Unit"), _("On hand"), _("In transit to here")]
        for item in Item.objects.filter(pk__in=set(stock) | set(transit)):
            yield [item.name, item.unit, stock.get(item.pk, 0), transit.get(item.pk, 0)]
    return xlsx_response(rows(), f"stock-{holder.pk}-{timezone.localdate():%Y%m%d}.xlsx", sheet_title=_("Stock"))
