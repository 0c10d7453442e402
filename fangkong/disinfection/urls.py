from django.urls import path

from . import views

urlpatterns = [
    path("", views.board, name="disinfection_board"),
    path("today/", views.today, name="disinfection_today"),
    path("sw.js", views.service_worker, name="disinfection_sw"),
    path("t/<str:code>/", views.scan, name="disinfection_scan"),
    path("rounds/<int:pk>/log/", views.log, name="disinfection_log"),
    path("places/<int:pk>/", views.place, name="disinfection_place"),
    path("places/<int:pk>/targets/", views.add_target, name="disinfection_add_target"),
    path("places/<int:pk>/stairwells/", views.stairwells, name="disinfection_stairwells"),
    path("places/<int:pk>/import/", views.import_targets, name="disinfection_import"),
    path("places/<int:pk>/qr.pdf", views.qr_sheet, name="disinfection_qr"),
]
