from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import has_perm, roles

_PERMS = ("residents.view", "residents.edit", "residents.import", "residents.export", "audit.view", "inflow.view",
          "observation.view", "passes.view", "gates.enter", "census.view", "gates.view", "clinic.view", "clinic.triage",
          "declarations.view", "declarations.points", "credit.view", "dashboard.view", "reports.view",
          "reports.enter", "reports.late", "accounts.view", "accounts.delegation", "notify.manage",
          "duty.self", "duty.view", "duty.sender", "duty.roster_view", "duty.police_pass", "duty.street_settings", "resumption.view",
          "command.view", "command.notices", "command.receipt", "command.inspect", "command.inspections", "command.rectify",
          "command.points", "supplies.view", "disinfection.view", "disinfection.log", "services.view", "services.deliver", "services.orders", "services.hardship",
          "services.hotline", "services.hotline_view", "services.reference")


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
            link(can["resumption_view"], "resumption_board", _("Work resumption")),
        ]),
        ("supplies", _("Supplies"), [
            link(can["supplies_view"], "supplies_holders", _("Supplies")),
            link(can["disinfection_view"], "disinfection_board", _("Disinfection"))
            or link(can["disinfection_log"], "disinfection_today", _("Disinfection")),
            link(can.get("testing"), "testing_home", _("Mass testing")),
        ]),
        ("gates", _("Gates"), [
            link(can["gates_enter"], "gates_gate", _("Gate")),
            link(can["gates_view"], "gates_stats", _("Gate figures")),
            link(can["clinic_triage"], "clinic_queue", _("Triage")),
            link(can["clinic_view"], "clinic_home", _("Clinic pre-screening")),
        ]),
        ("duty", _("People on duty"), [
            link(can["duty_self"], "duty_home", _("My duty")),
            link(can["duty_view"], "duty_sites", _("Sites on duty")),
            link(can["duty_sender"], "duty_sender", _("Our people on duty")),
            link(can["duty_roster_view"], "duty_grids", _("Grid rosters")),
            link(can["duty_police_pass"], "duty_police", _("Temporary passes by the police")),
            link(can["duty_street_settings"], "duty_streets", _("What the street allows")),
        ]),
        ("services", _("Resident services"), [
            link(can["services_view"], "services_board", _("Resident services")),
            link(can["services_deliver"], "services_tasks", _("Delivery tasks")),
            link(can["services_orders"], "services_orders", _("Group orders")),
            link(can["services_orders"], "services_points", _("Distribution points")),
            link(can["services_hardship"], "services_hardship", _("Hardship register")),
            link(can["services_hotline"], "services_console", _("Hotline")),
            link(can["services_hotline_view"], "services_calls", _("Hotline calls")),
            link(can["services_reference"], "services_references", _("Reference answers")),
        ]),
        ("command", _("Command"), [
            link(can["command_view"], "command_board", _("Headquarters board")),
            link(can["command_notices"], "command_notices", _("Notices")),
            link(can["command_receipt"], "command_receipts", _("Notices to confirm")),
            link(can["command_inspect"], "command_inspect", _("Inspection")),
            link(can["command_inspections"], "command_inspections", _("Inspections")),
            link(can["command_rectify"], "command_findings", _("Inspection findings")),
            link(can["command_points"], "command_points", _("Entrances")),
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
