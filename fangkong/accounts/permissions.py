"""Permissions of staff accounts and grants (issue 13), and the delegation table: who may
grant which role (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # See the people and grants under one's places; search by name or masked phone.
    "accounts.view": {"commander", "coordinator", "committee"},
    # Create accounts, grant and revoke roles, deactivate, issue sign-in links, onboard lists:
    # only within one's own scope and only the roles DELEGATION allows (accounts.actions).
    "accounts.manage": {"coordinator", "committee"},
    # The delegation settings page: the admin only (who holds every permission).
    "accounts.delegation": set(),
})

# Who may delegate which role, inside the subtree of its own grant (the admin grants
# anything anywhere). The admin may override a row in the delegation settings page
# (accounts.models.DelegationRule); "admin" is never delegable.
DELEGATION = {
    "coordinator": ("committee", "grid_worker", "medic", "gate_guard", "unit_liaison", "volunteer", "site_lead", "police", "inspector", "registrar", "lab", "duty_officer",
                    "storekeeper", "property"),
    "committee": ("grid_worker", "volunteer", "gate_guard", "site_lead", "property"),
}
