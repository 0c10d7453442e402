"""The inflow loop's notice: 流入人员审核通过通知单, issued when the committee approves an
application (inflow.actions.transition, same transaction), through the documents module."""
from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fangkong.documents.actions import issue
from fangkong.lib.identity import mask_name
from fangkong.documents.models import Document
from fangkong.documents.notices import committee_name, minute
from fangkong.documents.pdf import DOCUMENT_LANGUAGE

from .models import Measure, MeasurePolicy


def _measure_text(risk: str) -> str:
    policy = MeasurePolicy.objects.filter(risk=risk).first()
    if policy is None:
        return _("As set by the residents' committee on arrival")
    if policy.measure == Measure.NONE:
        return str(policy.get_measure_display())
    return _("%(measure)s, %(days)d days") % {"measure": policy.get_measure_display(), "days": policy.days}


def issue_inflow_approval(*, acting_user, app) -> Document:
    """The approval notice of an approved inflow application (idempotent per application)."""
    with translation.override(DOCUMENT_LANGUAGE):
        issuer = committee_name(app.place)
        destination = app.place.label() + (f" {app.household.address}" if app.household_id else "")
        holder = mask_name(app.person_name)
        fields = [
            (_("Application number"), app.serial),
            (_("Name"), holder),
            (_("ID number"), app.person_id_masked),
            (_("Coming from"), app.origin.name),
            (_("Risk level"), app.get_risk_display()),
            (_("Destination"), destination),
            (_("Control measure"), _measure_text(app.risk)),
            (_("Reviewed at"), minute(app.decided_at or timezone.now())),
        ]
        body = _("The return application of %(name)s (application %(serial)s) has been reviewed and approved by this "
                 "committee. On the day of arrival, report to %(issuer)s and follow the control measure below.") % {
            "name": holder, "serial": app.serial, "issuer": issuer}
        return issue(acting_user=acting_user, kind=Document.Kind.INFLOW_APPROVAL, subject=app,
                             title=_("Inflow Person Approval Notice"), fields=fields, issuer=issuer, body=body, holder=holder)
