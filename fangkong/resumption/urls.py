from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.board, name="resumption_board"),
    path("portal/", views.portal, name="resumption_portal"),
    path("problems/", views.problems, name="resumption_problems"),
    path("problems/<int:pk>/answer/", views.problem_answer, name="resumption_problem_answer"),
    path("problems/<int:pk>/close/", views.problem_close, name="resumption_problem_close"),
    path("checks/", views.checks, name="resumption_checks"),
    path("checks/sw.js", views.service_worker, name="resumption_sw"),
    path("checks/<int:pk>/", views.check, name="resumption_check"),
    path("checks/<int:pk>/finish/", views.check_finish, name="resumption_check_finish"),
    path("enterprises/", views.enterprises, name="resumption_enterprises"),
    path("enterprises/new/", views.register, name="resumption_register"),
    path("enterprises/import/", views.enterprise_import, name="resumption_enterprise_import"),
    path("enterprises/<int:pk>/", views.enterprise, name="resumption_enterprise"),
    path("enterprises/<int:pk>/apply/", views.apply, name="resumption_apply"),
    path("enterprises/<int:pk>/inspect/", views.inspect, name="resumption_inspect"),
    path("enterprises/<int:pk>/staff/", views.staff, name="resumption_staff"),
    path("enterprises/<int:pk>/staff/import/", views.staff_import, name="resumption_staff_import"),
    path("staff/<int:pk>/report/", views.staff_report, name="resumption_staff_report"),
    path("staff/<int:pk>/health/", views.staff_health, name="resumption_staff_health"),
    path("ledger.xlsx", views.ledger, name="resumption_ledger"),
    path("stats/", views.stats, name="resumption_stats"),
    path("checklist/", views.checklist, name="resumption_checklist"),
    path("<int:pk>/", views.detail, name="resumption_detail"),
    *transition_urls(views.transition_views, "<int:pk>/{}/", "resumption_{}"),
]
