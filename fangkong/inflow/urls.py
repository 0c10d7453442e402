from django.urls import path

from . import views

urlpatterns = [
    path("", views.board, name="inflow_board"),
    path("apply/", views.apply, name="inflow_apply"),
    path("<int:pk>/", views.detail, name="inflow_detail"),
    *[path(f"<int:pk>/{name.replace('_', '-')}/", view, name=f"inflow_{name}") for name, view in views.transition_views.items()],
]
