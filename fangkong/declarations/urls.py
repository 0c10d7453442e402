from django.urls import path

from fangkong.web.forms import transition_urls

from . import views

urlpatterns = [
    path("declarations/", views.queue, name="declarations_queue"),
    path("declarations/points/", views.points, name="declarations_points"),
    path("declarations/points/<int:pk>/", views.point, name="declarations_point"),
    path("declarations/points/<int:pk>/renew/", views.point_renew, name="declarations_point_renew"),
    path("declarations/findings/", views.findings, name="declarations_findings"),
    path("declarations/findings/new/", views.finding_new, name="declarations_finding_new"),
    path("declarations/findings/<int:pk>/", views.finding, name="declarations_finding"),
    *transition_urls(views.finding_views, "declarations/findings/<int:pk>/{}/", "declarations_finding_{}"),
    path("declarations/<int:pk>/", views.detail, name="declarations_detail"),
    path("declarations/<int:pk>/match/", views.match, name="declarations_match"),
    *transition_urls(views.check_views, "declarations/<int:pk>/{}/", "declarations_{}"),
    path("credit/", views.credit_list, name="credit_list"),
    path("credit/<int:pk>/", views.credit_detail, name="credit_detail"),
    *transition_urls(views.appeal_views, "credit/appeals/<int:pk>/{}/", "credit_appeal_{}"),
    # The community's QR code points here: short, with the unguessable code of its entry point.
    path("d/<str:code>/", views.declare, name="declarations_declare"),
]

# Included under /r/ with the other personal-link pages.
resident_urlpatterns = [
    path("<str:token>/credit/", views.resident_credit, name="resident_credit"),
    path("<str:token>/declare/", views.resident_declare, name="resident_declare"),
    path("<str:token>/credit/appeal/", views.resident_appeal, name="resident_appeal"),
]
