"""The notices other modules issue, built from their records:

* issue_inflow_approval(acting_user=, app=)  — 流入人员审核通过通知单, called by
  fangkong.inflow.actions.transition() when the committee approves (same transaction);
* issue_release_notice(...)  — 解除医学观察通知书, for the observation module.

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


def _minute(value) -> str:
    local = timezone.localtime(value)
    return f"{cn_date(local)} {local:%H:%M}"


def _measure_text(risk: str) -> str:
    from fangkong.inflow.models import Measure, MeasurePolicy

    policy = MeasurePolicy.objects.filter(risk=risk).first()
    if policy is None:
        return _("As set by the residents' committee on arrival")
    if policy.measure == Measure.NONE:
        return str(policy.get_measure_display())
    return _("%(measure)s, %(days)d days") % {"measure": policy.get_measure_display(), "days": policy.days}


def issue_inflow_approval(*, acting_user, app) -> Document:
    """The approval notice of an approved inflow application (idempotent per application)."""
    with translation.override(DOCUMENT_LANGUAGE):
        person = app.person
        issuer = committee_name(app.place)
        destination = app.place.label() + (f" {app.household.address}" if app.household_id else "")
        holder = actions.mask_name(person.name)
        fields = [
            (_("Application number"), app.serial),
            (_("Name"), holder),
            (_("ID number"), person.id_masked),
            (_("Coming from"), app.origin.name),
            (_("Risk level"), app.get_risk_display()),
            (_("Destination"), destination),
            (_("Control measure"), _measure_text(app.risk)),
            (_("Reviewed at"), _minute(app.decided_at or timezone.now())),
        ]
        body = _("The return application of %(name)s (application %(serial)s) has been reviewed and approved by this "
                 "committee. On the day of arrival, report to %(issuer)s and follow the control measure below.") % {
            "name": holder, "serial": app.serial, "issuer": issuer}
        return actions.issue(acting_user=acting_user, kind=Document.Kind.INFLOW_APPROVAL, subject=app,
                             title=_("Inflow Person Approval Notice"), fields=fields, issuer=issuer, body=body, holder=holder)


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
            (_("Released at"), _minute(released_at)),
        ]
        body = _("%(name)s has completed medical observation from %(start)s to %(end)s, meets the conditions for release "
                 "and is released from medical observation as of %(released)s.") % {
            "name": holder, "start": cn_date(start), "end": cn_date(end), "released": cn_date(released_at)}
        return actions.issue(acting_user=acting_user, kind=Document.Kind.RELEASE, subject=subject,
                             title=_("Notice of Release from Medical Observation"), fields=fields, issuer=issuer,
                             body=body, holder=holder, place_path=place.path)  # and the subject's organization scope
