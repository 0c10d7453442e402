from django.urls import path

from . import views

urlpatterns = [
    path("", views.pass_list, name="pass_list"),
    path("new/", views.issue_resident, name="pass_issue_resident"),
    path("person/<int:pk>/", views.issue_for_person, name="pass_issue_person"),
    path("visitor/", views.issue_visitor, name="pass_issue_visitor"),
    path("vehicle/", views.issue_vehicle, name="pass_issue_vehicle"),
    path("overrides/", views.override_queue, name="pass_overrides"),
    path("overrides/<int:pk>/approve/", views.override_approve, name="pass_override_approve"),
    path("overrides/<int:pk>/reject/", views.override_reject, name="pass_override_reject"),
    path("<int:pk>/", views.detail, name="pass_detail"),
    path("<int:pk>/renew/", views.renew, name="pass_renew"),
    path("<int:pk>/revoke/", views.revoke, name="pass_revoke"),
    path("<int:pk>/card.pdf", views.card, name="pass_card"),
    path("<int:pk>/override/", views.request_override, name="pass_override"),
]

# The resident's own pass, reached by a personal link (included at /r/).
resident_urlpatterns = [
    path("<str:token>/pass/", views.resident_pass, name="resident_pass"),
    path("<str:token>/pass/qr/", views.resident_pass_qr, name="resident_pass_qr"),
]
