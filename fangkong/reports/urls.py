from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.report_page, name="reports_report"),
    path("export.xlsx", views.report_xlsx, name="reports_xlsx"),
    path("export.csv", views.report_csv, name="reports_csv"),
    path("entry/", views.entry, name="reports_entry"),
    path("late/", views.late, name="reports_late"),
    path("close/", views.close, name="reports_close"),
    path("figures/", views.definitions, name="reports_definitions"),
    path("submissions/<int:pk>/correct/", views.submission_correct, name="reports_correct"),
    *transition_urls(views.transition_views, "submissions/<int:pk>/{}/", "reports_{}"),
]
