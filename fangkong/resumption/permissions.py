"""Permissions of work resumption (M9) (merged into fangkong.places.access at start-up).

A liaison's grant is on its organization: it sees and changes only its own enterprise, its
staff and its applications. A grid worker's grant is on its grid: the enterprises placed
there; it fills in only the checks it is assigned (actions.finish_check)."""
from fangkong.places.access import declare

declare(perms={
    "resumption.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    # Register enterprises in the grid (one by one or from a spreadsheet).
    "resumption.register": {"coordinator", "committee"},
    # The liaison: apply, submit, resubmit, withdraw, confirm the restart; staff list and reports.
    "resumption.apply": {"unit_liaison"},
    "resumption.staff": {"unit_liaison"},
    # The committee: material review, return with problems, assign the on-site check, suspend.
    "resumption.review": {"committee"},
    # Grid workers: on-site checks and supervision inspections.
    "resumption.check": {"grid_worker"},
    # Answer a problem (the liaison for its enterprise, the committee for the community's);
    # close it (the committee, once answered).
    "resumption.answer": {"unit_liaison", "committee"},
    # A medic sets a staff member's health state (a confirmed case suspends the enterprise).
    "resumption.health": {"medic"},
    # The checklist's versions (admin only).
    "resumption.checklist": set(),
    # Who hears that a decision is overdue (besides the committee that owns it).
    "resumption.escalated": {"commander", "coordinator"},
})
