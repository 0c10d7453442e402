from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("", views.board, name="observation_board"),
    path("new/", views.start, name="observation_start"),
    path("person/<int:pk>/", views.start_for_person, name="observation_start_person"),
    path("sites/", views.sites, name="observation_sites"),
    path("sites/<int:pk>/rooms/", views.add_room, name="observation_add_room"),
    path("<int:pk>/", views.detail, name="observation_detail"),
    path("<int:pk>/report/", views.report, name="observation_report"),
    path("<int:pk>/room/", views.room, name="observation_room"),
    path("<int:pk>/psych/", views.psych, name="observation_psych"),
    path("<int:pk>/link/", views.link, name="observation_link"),
    path("<int:pk>/handle/", views.handle, name="observation_handle"),
    path("<int:pk>/deliver/", views.deliver, name="observation_deliver"),
    *transition_urls(views.transition_views, "<int:pk>/{}/", "observation_{}"),
]

# The resident's phone pages, reached by a personal link (included at /r/).
resident_urlpatterns = [
    path("<str:token>/", views.resident_home, name="resident_home"),
    path("<str:token>/report/", views.resident_report, name="resident_report"),
    path("<str:token>/request/", views.resident_request, name="resident_request"),
]
