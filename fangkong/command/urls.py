from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.board, name="command_board"),
    path("organize/", views.organize, name="command_organize"),
    path("groups/<int:pk>/members/", views.group_members, name="command_group_members"),
    path("meetings/", views.meetings, name="command_meetings"),
    path("meetings/new/", views.meeting_new, name="command_meeting_new"),
    path("meetings/<int:pk>/", views.meeting, name="command_meeting"),
    path("meetings/<int:pk>/minutes/", views.meeting_minutes, name="command_meeting_minutes"),
    path("meetings/<int:pk>/decisions/", views.decision_new, name="command_decision_new"),
    *transition_urls(views.decision_views, "decisions/<int:pk>/{}/", "command_decision_{}"),
    path("notices/", views.notices, name="command_notices"),
    path("notices/new/", views.notice_new, name="command_notice_new"),
    path("notices/in-force/", views.in_force, name="command_in_force"),
    path("notices/<int:pk>/", views.notice, name="command_notice"),
    path("notices/<int:pk>/edit/", views.notice_edit, name="command_notice_edit"),
    path("notices/<int:pk>/remind/", views.notice_remind, name="command_notice_remind"),
    path("notices/<int:pk>/seal/", views.notice_seal, name="command_notice_seal"),
    path("notices/<int:pk>/pdf/", views.notice_pdf, name="command_notice_pdf"),
    *transition_urls(views.notice_views, "notices/<int:pk>/{}/", "command_notice_{}"),
    path("receipts/", views.receipts, name="command_receipts"),
    *transition_urls(views.receipt_views, "receipts/<int:pk>/{}/", "command_receipt_{}"),
    path("inspect/", views.inspect, name="command_inspect"),
    path("inspect/plans/<int:pk>/findings/", views.finding_new, name="command_finding_new"),
    path("inspections/", views.inspections, name="command_inspections"),
    path("findings/", views.findings, name="command_findings"),
    path("findings/<int:pk>/", views.finding, name="command_finding"),
    *transition_urls(views.finding_views, "findings/<int:pk>/{}/", "command_finding_{}"),
    path("points/", views.points, name="command_points"),
    path("points/<int:pk>/", views.point_set, name="command_point_set"),
]
