from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="dashboard"),
    path("<int:pk>/", views.place, name="dashboard_place"),
]
