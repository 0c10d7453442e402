"""Permissions of the dashboard (M8, M17) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Counts only, never a person, within the viewer's place grants. The medic sees it too
    # (fevers and missed reports of their community); guards, liaisons, volunteers and
    # residents have no place tree to read figures of.
    "dashboard.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
})
