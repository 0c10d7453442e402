"""Roles and permissions of the clinic pre-screening triage (M18) (merged into
fangkong.places.access at start-up). A clinic's medics hold their grant on the clinic (an
organization) or on a community; the CDC's upstream system holds no grant but an export
token the admin made for it (models.ExportToken)."""
from fangkong.places.access import declare

declare(perms={
    "clinic.view": {"commander", "coordinator", "committee", "medic"},
    # Screening at a post: the medic on duty records every visitor.
    "clinic.screen": {"medic"},
    # Routing the fevers the gates send and following fever patients to an outcome.
    "clinic.triage": {"medic", "committee"},
    # The CDC's daily report; full ID numbers and phones only with clinic.unmask (audited).
    "clinic.export": {"commander", "medic"},
    "clinic.unmask": {"medic"},
    # Setting up the posts of a clinic.
    "clinic.manage": {"commander"},
    # API tokens of upstream systems: the admin only.
    "clinic.tokens": set(),
})
