"""Permissions of the daily report (M8) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Figures from the data per place and unit; entered figures filed by each station/unit
    # through the liaison granted on it; the street's coordinator defines the figures,
    # reopens confirmed ones, corrects closed days and closes days.
    "reports.view": {"commander", "coordinator", "committee", "grid_worker"},
    "reports.enter": {"unit_liaison"},
    "reports.late": {"commander", "coordinator", "committee"},
    "reports.manage": {"coordinator"},
})
