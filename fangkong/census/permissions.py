"""Permissions of the door-to-door census (M3) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Campaigns run by the committee or the street; visits by the committee and the grid
    # workers (volunteers' scope is a site, not households).
    "census.view": {"commander", "coordinator", "committee", "grid_worker"},
    "census.manage": {"coordinator", "committee"},
    "census.visit": {"committee", "grid_worker"},
})
