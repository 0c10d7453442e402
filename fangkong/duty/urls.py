from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="duty_home"),
    path("sw.js", views.service_worker, name="duty_sw"),
    path("me/check/", views.check, name="duty_check"),
    path("me/health/", views.health, name="duty_health"),
    path("me/take/", views.take, name="duty_take"),
    path("me/needs/", views.needs, name="duty_needs"),
    path("sites/", views.sites, name="duty_sites"),
    path("sites/<int:pk>/", views.site_board, name="duty_site"),
    path("sites/<int:pk>/shifts/", views.shift_new, name="duty_shift_new"),
    path("sites/<int:pk>/deploy/", views.deploy, name="duty_deploy"),
    path("sites/<int:pk>/fill-week/", views.fill_week, name="duty_fill_week"),
    path("sites/<int:pk>/review/", views.review, name="duty_review"),
    path("shifts/<int:pk>/", views.shift_detail, name="duty_shift"),
    path("shifts/<int:pk>/assign/", views.assign, name="duty_assign"),
    path("assignments/<int:pk>/remove/", views.remove, name="duty_remove"),
    path("health/<int:pk>/clear/", views.health_clear, name="duty_health_clear"),
    path("sender/", views.sender, name="duty_sender"),
    path("grids/", views.grids, name="duty_grids"),
    path("grids/<int:pk>/", views.grid, name="duty_grid"),
    path("grids/<int:pk>/positions/", views.position_add, name="duty_position_add"),
    path("grids/<int:pk>/teams/", views.team_new, name="duty_team_new"),
    path("teams/<int:pk>/members/", views.member_add, name="duty_member_add"),
    path("roster/import/", views.roster_import, name="duty_roster_import"),
    path("streets/", views.streets, name="duty_streets"),
    path("streets/settings/", views.street_settings, name="duty_street_settings"),
    path("police/", views.police, name="duty_police"),
    path("police/places/<int:pk>/pass/", views.police_pass, name="duty_police_pass"),
]
