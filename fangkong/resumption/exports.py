"""The enterprise ledger (台账): one row per enterprise in the user's scope."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.lib.exports import xlsx_response
from fangkong.places.access import scope

from .models import Application, Enterprise, Problem


def ledger_rows(user):
    yield [_("Enterprise"), _("Code"), _("Place"), _("Sector"), _("Priority"), _("Employees"), _("Safety officer"),
           _("Application"), _("State"), _("Planned restart date"), _("Submitted"), _("Decided"), _("Resumed on"),
           _("Staff on the list"), _("Staff in isolation"), _("Open problems"), _("Last inspected")]
    qs = scope(Enterprise.objects.select_related("organization", "place"), user, "resumption.view").order_by("place_path", "id")
    for ent in qs.iterator(chunk_size=500):
        app = Application.objects.filter(enterprise=ent).exclude(state=Application.State.WITHDRAWN).first()

        def when(v):
            return timezone.localtime(v).strftime("%Y-%m-%d %H:%M") if v else ""

        yield [ent.name, ent.organization.code, ent.place.label() or ent.place.name, str(ent.get_sector_display()),
               str(ent.get_priority_display()), ent.size, ent.officer_name, app.serial if app else "",
               str(app.get_state_display()) if app else "", app.planned_date.isoformat() if app else "",
               when(app.submitted_at) if app else "", when(app.decided_at) if app else "",
               app.resumed_on.isoformat() if app and app.resumed_on else "",
               ent.staff.filter(active=True).count(), ent.staff.filter(active=True, observation__state="active").count(),
               Problem.objects.filter(enterprise=ent).exclude(state=Problem.State.CLOSED).count(),
               ent.last_inspected.isoformat() if ent.last_inspected else ""]


def ledger_response(user):
    return xlsx_response(ledger_rows(user), f"resumption-ledger-{timezone.localdate():%Y%m%d}.xlsx", sheet_title=_("Ledger"))
