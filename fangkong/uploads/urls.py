from django.urls import path

from . import views

urlpatterns = [
    path("new/", views.upload, name="uploads_new"),
    path("<int:pk>/", views.serve, name="uploads_file"),
    path("<int:pk>/remove/", views.remove, name="uploads_remove"),
]
