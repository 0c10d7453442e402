from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.campaign_list, name="census_list"),
    path("new/", views.campaign_create, name="census_create"),
    path("questionnaires/", views.questionnaires, name="census_questionnaires"),
    path("followups/", views.followups, name="census_followups"),
    path("followups/<int:pk>/done/", views.followup_done, name="census_followup_done"),
    path("followups/<int:pk>/observe/", views.followup_observe, name="census_followup_observe"),
    path("<int:pk>/", views.campaign_detail, name="census_detail"),
    path("<int:pk>/pending/", views.pending, name="census_pending"),
    path("<int:pk>/visit/", views.visit, name="census_visit"),
    *transition_urls(views.transition_views, "<int:pk>/{}/", "census_{}"),
]
