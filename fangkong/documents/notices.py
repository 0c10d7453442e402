"""Notices other modules issue, from what they pass in (documents imports none of them):

* issue_release_notice(...)  — 解除医学观察通知书, for the observation module;
* committee_name(place), minute(dt) — the issuer's name and the time as notices print them.

A module with a notice of its own builds it beside its actions (inflow/notices.py: the
流入人员审核通过通知单) and issues it through documents.actions.issue.

What is printed is Chinese (translation.override), masked (name 季*明, ID 370102********1234).
"""
from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import actions
from .models import Document
from .pdf import DOCUMENT_LANGUAGE, cn_date


def committee_name(place) -> str:
    """The residents' committee of the community that `place` lies in: 荟萃社区 -> 荟萃社区居民委员会."""
    chain = place.ancestors()
    community = next((p for p in reversed(chain) if p.kind == "community"), None)
    if community is None:
        return chain[-1].name if chain else place.name
    return _("%(community)s Residents' Committee") % {"community": community.name}


def minute(value) -> str:
    local = timezone.localtime(value)
    return f"{cn_date(local)} {local:%H:%M}"


def issue_release_notice(*, acting_user, subject, person, place, issuer: str, start, end, released_at) -> Document:
    """The release notice (解除医学观察通知书) of `person`, observed at `place` from `start`
    to `end` (dates) and released at `released_at` (a datetime), about `subject` (the
    observation record; one valid notice per subject). `issuer` is the organization's full
    name, e.g. committee_name(place). Scoped by `place` and by the subject's own organization
    scope (an observation's site), never by the person's employer: a unit does not learn
    that its staff were under observation from a notice."""
    with translation.override(DOCUMENT_LANGUAGE):
        holder = actions.mask_name(person.name)
        fields = [
            (_("Name"), holder),
            (_("ID number"), person.id_masked),
            (_("Place of observation"), place.label() or place.name),
            (_("Observation period"), _("%(start)s to %(end)s") % {"start": cn_date(start), "end": cn_date(end)}),
            (_("Released at"), minute(released_at)),
        ]
        body = _("%(name)s has completed medical observation from %(start)s to %(end)s, meets the conditions for release "
                 "and is released from medical observation as of %(released)s.") % {
            "name": holder, "start": cn_date(start), "end": cn_date(end), "released": cn_date(released_at)}
        return actions.issue(acting_user=acting_user, kind=Document.Kind.RELEASE, subject=subject,
                             title=_("Notice of Release from Medical Observation"), fields=fields, issuer=issuer,
                             body=body, holder=holder, place_path=place.path)  # and the subject's organization scope
