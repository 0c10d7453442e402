from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import has_perm, roles

_PERMS = ("residents.view", "residents.edit", "residents.import", "residents.export", "audit.view", "inflow.view",
          "observation.view", "passes.view", "gates.enter", "census.view", "gates.view", "gates.triage",
          "declarations.view", "declarations.points", "credit.view", "dashboard.view", "reports.view",
          "reports.enter", "reports.late", "accounts.view", "accounts.delegation", "notify.manage")


def _groups(can: dict) -> list[dict]:
    """The header's links grouped by task; a group the role can do nothing in is left out,
    and so is every link it may not follow."""
    def link(flag, name, label, url_id=None):
        return {"url": reverse(name), "label": label, "id": url_id or name} if flag else None

    groups = [
        ("today", _("Today"), [
            link(can["dashboard_view"], "dashboard", _("Dashboard")),
            link(can["reports_view"], "reports_report", _("Daily report")),
            link(can["reports_enter"], "reports_entry", _("Daily figures")),
            link(can["reports_late"] and not can["reports_view"], "reports_late", _("Who is late")),
        ]),
        ("people", _("Residents"), [
            link(can["residents_view"], "person_list", _("Residents")),
            link(can["residents_import"], "import_upload", _("Import")),
            link(can["census_view"], "census_list", _("Census")),
            link(can["declarations_view"], "declarations_queue", _("Declarations"))
            or link(can["declarations_points"], "declarations_points", _("Declarations")),
            link(can["credit_view"], "credit_list", _("Credit record")),
        ]),
        ("health", _("Arrivals and health"), [
            link(can["inflow_view"], "inflow_board", _("Inflow")),
            link(can["observation_view"], "observation_board", _("Observation")),
            link(can["passes_view"], "pass_list", _("Health passes")),
            link(can.get("testing"), "testing_home", _("Mass testing")),
        ]),
        ("gates", _("Gates"), [
            link(can["gates_enter"], "gates_gate", _("Gate")),
            link(can["gates_view"], "gates_stats", _("Gate figures")),
            link(can["gates_triage"], "gates_triage", _("Triage")),
        ]),
        ("admin", _("Administration"), [
            link(can["accounts_view"], "staff_people", _("Staff")),
            link(can["accounts_delegation"], "staff_delegation", _("Delegation")),
            link(can["audit_view"], "audit_list", _("Audit")),
            link(can["notify_manage"], "notify_channels", _("Channels")),
        ]),
    ]
    out = []
    for key, label, links in groups:
        links = [x for x in links if x]
        if links:
            out.append({"key": key, "label": label, "links": links})
    return out


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    can = {p.replace(".", "_"): has_perm(user, p) for p in _PERMS}
    can["testing"] = any(has_perm(user, f"testing.{p}") for p in ("view", "manage", "register", "results", "recall", "knock"))
    return {"my_roles": roles(user), "can": can, "nav_groups": _groups(can)}
