from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="clinic_home"),
    path("posts/add/", views.post_add, name="clinic_post_add"),
    path("posts/<int:pk>/", views.screen, name="clinic_screen"),
    path("queue/", views.queue, name="clinic_queue"),
    path("visits/<int:pk>/", views.visit_detail, name="clinic_visit"),
    path("visits/<int:pk>/route/", views.visit_route, name="clinic_visit_route"),
    path("visits/<int:pk>/outcome/", views.visit_outcome, name="clinic_visit_outcome"),
    path("export/", views.export, name="clinic_export"),
    path("tokens/", views.tokens, name="clinic_tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="clinic_token_revoke"),
]
