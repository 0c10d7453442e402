"""Display names of message kinds (Message.kind, and the kinds a channel chooses: exact, or a
prefix ending in "*"), so that pages show words, not codes. A new module adds its kinds here."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

KINDS = {
    "access.denied": _("Repeated refusals"),
    "accounts.reassign": _("To-dos to reassign"),
    "accounts.signin_link": _("Sign-in link"),
    "census.risk": _("Census risk"),
    "command.finding": _("Inspection finding to rectify"),
    "command.finding_overdue": _("Inspection finding overdue"),
    "command.notice": _("Notice to confirm"),
    "command.receipt_late": _("Notice receipt late"),
    "clinic.fever": _("Fever at a clinic's pre-screening"),
    "credit.appeal": _("Credit appeal"),
    "declarations.risk": _("Risky declaration"),
    "duty.late": _("Late check-in on duty"),
    "duty.missing": _("Not checked in to a shift"),
    "duty.unwell": _("Person on duty unwell"),
    "gate.fever": _("Fever at a gate"),
    "inflow.submitted": _("Inflow application submitted"),
    "inflow.forwarded": _("Inflow application forwarded"),
    "inflow.overdue": _("Inflow deadline passed"),
    "inflow.forward": _("Inflow application forwarded"),
    "inflow.approve": _("Inflow application approved"),
    "inflow.reject": _("Inflow application rejected"),
    "inflow.request_info": _("More information asked for"),
    "inflow.resubmit": _("Inflow application resubmitted"),
    "inflow.travel": _("Travel confirmed"),
    "inflow.arrive": _("Arrival registered"),
    "inflow.transfer_arrived": _("Arrived while a transfer request waits"),
    "observation.fever": _("Fever under observation"),
    "observation.symptoms": _("Symptoms under observation"),
    "observation.missed": _("Missed temperature report"),
    "passes.override_burst": _("Many colour overrides"),
    "reports.late": _("Daily figures late"),
    "resumption.submit": _("Resumption application submitted"),
    "resumption.resubmit": _("Resumption application resubmitted"),
    "resumption.return": _("Resumption application returned with problems"),
    "resumption.approve": _("Resumption approved after the on-site check"),
    "resumption.fail": _("Resumption returned after the on-site check"),
    "resumption.suspend": _("Enterprise suspended"),
    "resumption.assign": _("On-site check assigned"),
    "resumption.overdue": _("Resumption decision overdue"),
    "supplies.shortage": _("Supplies short"),
    "disinfection.case": _("Disinfection after a case"),
    "disinfection.overdue": _("Disinfection overdue"),
    "resumption.measure_needed": _("A returning worker needs a control measure"),
    "services.call": _("Alert from a hotline call"),
    "services.inflow_note": _("Inflow application proposed by the hotline"),
    "residents.transfer": _("Transfer request"),
    "testing.positive": _("Positive testing pool"),
    "residents.transfer.requested": _("Transfer requested"),
    "residents.transfer.accepted": _("Transfer accepted"),
    "residents.transfer.declined": _("Transfer declined"),
    "residents.transfer.withdrawn": _("Transfer withdrawn"),
}

# For a channel's "inflow.*": the messages of a whole module.
MODULES = {
    "access": pgettext_lazy("message kinds of", "Access"),
    "accounts": pgettext_lazy("message kinds of", "Accounts"),
    "census": pgettext_lazy("message kinds of", "Census"),
    "command": pgettext_lazy("message kinds of", "Command"),
    "credit": pgettext_lazy("message kinds of", "Credit records"),
    "declarations": pgettext_lazy("message kinds of", "Declarations"),
    "duty": pgettext_lazy("message kinds of", "People on duty"),
    "gate": pgettext_lazy("message kinds of", "Gates"),
    "inflow": pgettext_lazy("message kinds of", "Inflow"),
    "observation": pgettext_lazy("message kinds of", "Observation"),
    "passes": pgettext_lazy("message kinds of", "Passes"),
    "reports": pgettext_lazy("message kinds of", "Daily report"),
    "residents": pgettext_lazy("message kinds of", "Residents"),
    "resumption": pgettext_lazy("message kinds of", "Work resumption"),
    "supplies": pgettext_lazy("message kinds of", "Supplies"),
    "disinfection": pgettext_lazy("message kinds of", "Disinfection"),
    "testing": pgettext_lazy("message kinds of", "Mass testing"),
}


def kind_label(kind: str):
    """The display name of a kind, or the code itself when it has none."""
    if kind in KINDS:
        return KINDS[kind]
    if kind.endswith("*"):
        prefix = kind[:-1].rstrip(".")
        if prefix in KINDS:
            return KINDS[prefix]
        if prefix in MODULES:
            return _("%(module)s: all messages") % {"module": MODULES[prefix]}
    return kind
