"""Permissions of the resident registry (M1, M2) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # A liaison sees the persons employed by its own organization, nothing else.
    "residents.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "residents.edit": {"committee", "grid_worker"},
    "residents.unmask": {"committee"},
    "residents.import": {"committee"},
    "residents.export": {"commander", "coordinator", "committee"},
    # Transfer requests: the committee where a person is registered decides; those who
    # register persons (and units applying for their staff's return) send them.
    "residents.transfer": {"committee"},
    "residents.transfer_request": {"committee", "grid_worker", "unit_liaison"},
})
