"""Work resumption's notices, issued through the documents module (serial, Chinese text,
QR code to the public verify page):

* 复工复产核验通过通知（开工大吉） when the on-site check passes (actions.finish_check);
* 停工整改通知 when an enterprise is suspended.
"""
from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fangkong.documents.actions import issue
from fangkong.documents.models import Document
from fangkong.documents.notices import committee_name, minute
from fangkong.documents.pdf import DOCUMENT_LANGUAGE, cn_date


def _community(app):
    return app.enterprise.place


def issue_approval(*, acting_user, app) -> Document:
    """The approval notice of an approved application (one valid per application), for the gate."""
    with translation.override(DOCUMENT_LANGUAGE):
        place = _community(app)
        issuer = committee_name(place)
        ent = app.enterprise
        fields = [
            (_("Application number"), app.serial),
            (_("Enterprise"), ent.name),
            (_("Address"), ent.address or place.label()),
            (_("Safety officer"), ent.officer_name or "—"),
            (_("Planned restart date"), cn_date(app.planned_date)),
            (_("Checked and approved at"), minute(app.decided_at or timezone.now())),
        ]
        body = _("%(name)s has passed the on-site check of its epidemic prevention conditions and may resume work. "
                 "Keep the prevention measures in place; the enterprise stays under grid supervision. "
                 "Good luck with the restart!") % {"name": ent.name}
        return issue(acting_user=acting_user, kind=Document.Kind.RESUMPTION_APPROVAL, subject=app,
                     title=_("Notice of Approval to Resume Work"), fields=fields, issuer=issuer, body=body, holder=ent.name)


def issue_suspension(*, acting_user, app) -> Document:
    with translation.override(DOCUMENT_LANGUAGE):
        place = _community(app)
        issuer = committee_name(place)
        ent = app.enterprise
        fields = [
            (_("Application number"), app.serial),
            (_("Enterprise"), ent.name),
            (_("Reason"), app.suspend_reason or "—"),
            (_("Suspended at"), minute(app.suspended_at or timezone.now())),
        ]
        body = _("%(name)s is to suspend work from now on and rectify. Work resumes only after a passed re-inspection.") % {
            "name": ent.name}
        return issue(acting_user=acting_user, kind=Document.Kind.RESUMPTION_SUSPENSION, subject=app,
                     title=_("Notice of Work Suspension"), fields=fields, issuer=issuer, body=body, holder=ent.name)
