from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.board, name="inflow_board"),
    path("apply/", views.apply, name="inflow_apply"),
    path("stats/", views.stats, name="inflow_stats"),
    path("policy/", views.policy, name="inflow_policy"),
    path("policy/origins/new/", views.origin_create, name="inflow_origin_create"),
    path("policy/origins/<int:pk>/risk/", views.origin_risk, name="inflow_origin_risk"),
    path("policy/measures/<int:pk>/", views.measure_policy, name="inflow_measure_policy"),
    path("<int:pk>/", views.detail, name="inflow_detail"),
    *transition_urls(views.transition_views, "<int:pk>/{}/", "inflow_{}", dashes=True),
]

# The person's own pages, reached by a personal link (mounted at /r/ by fangkong/urls.py).
resident_urlpatterns = [
    path("<str:token>/return/", views.resident_return, name="inflow_resident_return"),
]
