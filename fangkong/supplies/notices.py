"""The thank-you letter (感谢信) for a donation, issued through the documents module: a PDF
with a serial number and a QR code to the public verify page."""
from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from fangkong.documents.actions import issue
from fangkong.documents.models import Document
from fangkong.documents.notices import minute
from fangkong.documents.pdf import DOCUMENT_LANGUAGE


def issuer_of(donation) -> str:
    """The street office over the holder (the top street above it), else the holder's name."""
    holder = donation.holder
    place = holder.place if holder.place_id else holder.organization.place
    street = next((p for p in place.ancestors() if p.kind == "street"), None)
    return _("%(street)s Office") % {"street": street.name} if street else holder.name


def issue_thanks(*, acting_user, donation) -> Document:
    """The letter of thanks for `donation` (one valid letter per donation)."""
    with translation.override(DOCUMENT_LANGUAGE):
        issuer = issuer_of(donation)
        what = "、".join(f"{e.item.name}{e.quantity}{e.item.unit}" for e in donation.entries.select_related("item").order_by("id"))
        fields = [
            (_("Donor"), donation.donor),
            (_("Donated"), what),
            (_("Received by"), donation.holder.name),
            (_("Received at"), minute(donation.received_at)),
        ]
        body = _("With heartfelt thanks to %(donor)s for the donation of %(what)s in support of the community's "
                 "epidemic prevention and control. Received and put on the books.") % {"donor": donation.donor, "what": what}
        return issue(acting_user=acting_user, kind=Document.Kind.DONATION_THANKS, subject=donation,
                     title=_("Letter of Thanks"), fields=fields, issuer=issuer, body=body, holder=donation.donor[:50])
