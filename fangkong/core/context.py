from fangkong.places.access import has_perm, roles


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_roles": roles(user),
        "can": {p.replace(".", "_"): has_perm(user, p) for p in ("residents.view", "residents.edit", "residents.import", "residents.export", "audit.view", "inflow.view", "observation.view", "passes.view", "gates.enter", "census.view", "gates.view", "gates.triage", "declarations.view", "declarations.points", "credit.view", "dashboard.view", "reports.view", "reports.enter", "reports.late", "accounts.view", "accounts.delegation")},
    }
