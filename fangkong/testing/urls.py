from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="testing_home"),
    path("sw.js", views.service_worker, name="testing_sw"),
    path("new/", views.round_create, name="testing_round_create"),
    path("<int:pk>/", views.round_detail, name="testing_round"),
    path("<int:pk>/start/", views.round_start, name="testing_round_start"),
    path("<int:pk>/close/", views.round_close, name="testing_round_close"),
    path("<int:pk>/sites/new/", views.site_create, name="testing_site_create"),
    path("<int:pk>/recalls/", views.recall_list, name="testing_recalls"),
    path("<int:pk>/knock/", views.knock_list, name="testing_knock"),
    path("<int:pk>/coverage.xlsx", views.coverage_xlsx, name="testing_coverage_xlsx"),
    path("sites/<int:pk>/register/", views.register_page, name="testing_register"),
    path("<int:pk>/conflicts/", views.conflict_list, name="testing_conflicts"),
    path("sites/<int:pk>/boxes/", views.site_boxes, name="testing_boxes"),
    path("boxes/<int:pk>/courier/", views.box_courier, name="testing_box_courier"),
    path("boxes/<int:pk>/receive/", views.box_receive, name="testing_box_receive"),
    path("lab/", views.lab_results, name="testing_lab"),
    path("policy/", views.policy, name="testing_policy"),
]
