"""Permissions of the control measures (M5) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    "observation.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
    "observation.start": {"committee", "medic"},
    "observation.report": {"committee", "grid_worker", "medic"},
    "observation.handle": {"committee", "grid_worker", "medic"},
    "observation.manage": {"committee", "medic"},
    "observation.release": {"medic"},
    "observation.sites": {"coordinator", "medic"},
    # Who is alerted of a fever or a missed temperature report in their place (and of a
    # fever at a gate): the grid worker who knocks and the medic who checks.
    "observation.alerted": {"grid_worker", "medic"},
})
