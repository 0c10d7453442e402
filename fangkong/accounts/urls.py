from django.urls import path

from . import staff_views as views
from .views import person_link

urlpatterns = [
    path("staff/", views.people, name="staff_people"),
    path("staff/holders/", views.holders, name="staff_holders"),
    path("staff/new/", views.create, name="staff_create"),
    path("staff/people/<int:pk>/", views.person, name="staff_person"),
    path("staff/people/<int:pk>/grant/", views.grant, name="staff_grant"),
    path("staff/people/<int:pk>/revoke/", views.revoke, name="staff_revoke"),
    path("staff/people/<int:pk>/link/", views.link, name="staff_link"),
    path("staff/people/<int:pk>/deactivate/", views.deactivate, name="staff_deactivate"),
    path("staff/onboard/", views.onboard, name="staff_onboard"),
    path("staff/onboard/<int:pk>/", views.onboard_job, name="staff_onboard_job"),
    path("staff/onboard/<int:pk>/progress/", views.onboard_progress, name="staff_onboard_progress"),
    path("staff/onboard/<int:pk>/errors.csv", views.onboard_errors, name="staff_onboard_errors"),
    path("staff/onboard/<int:pk>/sheet.pdf", views.onboard_sheet, name="staff_onboard_sheet"),
    path("staff/delegation/", views.delegation, name="staff_delegation"),
    path("residents/<int:pk>/link/", person_link, name="person_link"),
    path("signin/<str:token>/", views.signin_link, name="signin_link"),
]
