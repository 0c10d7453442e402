from django.urls import path

from . import views

urlpatterns = [
    path("services/", views.board, name="services_board"),
    path("services/new/<int:pk>/", views.new_request, name="services_new"),
    path("services/<int:pk>/", views.detail, name="services_detail"),
    *[path(f"services/<int:pk>/{n}/", v, name=f"services_{n}") for n, v in views.manage_views.items()],
    path("services/tasks/", views.tasks, name="services_tasks"),
    path("services/tasks/<int:pk>/", views.task, name="services_task"),
    *[path(f"services/tasks/<int:pk>/{n}/", v, name=f"services_task_{n}") for n, v in views.task_views.items()],
    path("services/tasks/<int:pk>/phone/", views.task_phone, name="services_task_phone"),
    path("services/orders/", views.orders, name="services_orders"),
    path("services/orders/<int:pk>/", views.order, name="services_order"),
    path("services/orders/<int:pk>/close/", views.order_close, name="services_order_close"),
    path("services/orders/<int:pk>/sheet.xlsx", views.order_sheet, name="services_order_sheet"),
    path("services/points/", views.points, name="services_points"),
    path("services/rounds/<int:pk>/", views.round_page, name="services_round"),
    path("services/rounds/<int:pk>/close/", views.round_close, name="services_round_close"),
    path("services/hardship/", views.hardship, name="services_hardship"),
    path("services/hardship/import/", views.hardship_import, name="services_hardship_import"),
    path("services/hardship/new/<int:pk>/", views.hardship_new, name="services_hardship_new"),
    path("services/hardship/<int:pk>/", views.case, name="services_case"),
    path("services/pairing/", views.pairing, name="services_pairing"),
    path("hotline/", views.console, name="services_console"),
    path("hotline/rings/<int:pk>/answer/", views.ring_answer, name="services_ring_answer"),
    path("hotline/calls/<int:pk>/", views.call, name="services_call"),
    path("hotline/calls/", views.calls, name="services_calls"),
    path("hotline/rota/", views.rota, name="services_rota"),
    path("hotline/reference/", views.references, name="services_references"),
    path("r/<str:token>/services/", views.resident, name="services_resident"),
]
