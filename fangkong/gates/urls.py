from django.urls import path

from . import views

urlpatterns = [
    path("", views.gate, name="gates_gate"),
    path("sw.js", views.service_worker, name="gates_sw"),
    path("visitor/", views.visitor, name="gates_visitor"),
    path("stats/", views.stats, name="gates_stats"),
    path("triage/", views.triage_list, name="gates_triage"),
]
