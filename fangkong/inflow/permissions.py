"""Permissions of the inflow closed loop (M4) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # One permission per link. A liaison applies for its own staff and follows its own
    # applications (scoped by organization).
    "inflow.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "inflow.apply": {"committee", "unit_liaison"},
    "inflow.forward": {"coordinator"},
    "inflow.review": {"committee"},
    "inflow.travel": {"unit_liaison"},
    "inflow.arrive": {"committee", "grid_worker"},
    "inflow.policy": set(),
    # Who hears that an application is overdue at a link (besides those who act on it).
    "inflow.escalated": {"commander", "coordinator"},
})
