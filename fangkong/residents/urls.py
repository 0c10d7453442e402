from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

# Under the site root: /residents/... and /households/...
urlpatterns = [
    path("residents/", views.person_list, name="person_list"),
    path("residents/new/", views.person_create, name="person_create"),
    path("residents/export/", views.person_export, name="person_export"),
    path("residents/import/", views.import_upload, name="import_upload"),
    path("residents/import/<int:pk>/", views.import_job, name="import_job"),
    path("residents/import/<int:pk>/start/", views.import_start, name="import_start"),
    path("residents/import/<int:pk>/resume/", views.import_resume, name="import_resume"),
    path("residents/import/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("residents/import/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("residents/<int:pk>/", views.person_detail, name="person_detail"),
    path("residents/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("residents/<int:pk>/unmask/", views.person_unmask, name="person_unmask"),
    path("residents/transfers/", views.transfer_list, name="transfer_list"),
    path("residents/transfers/<int:pk>/", views.transfer_detail, name="transfer_detail"),
    path("residents/transfers/<int:pk>/withdraw/", views.transfer_withdraw, name="transfer_withdraw"),
    *transition_urls(views.transfer_views, "residents/transfers/<int:pk>/{}/", "transfer_{}"),
    path("households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
]
