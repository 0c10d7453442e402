from django.urls import path

from . import views

urlpatterns = [
    path("", views.holders, name="supplies_holders"),
    path("holders/new/", views.new_holder, name="supplies_new_holder"),
    path("holders/<int:pk>/", views.holder, name="supplies_holder"),
    path("holders/<int:pk>/receive/", views.receive, name="supplies_receive"),
    path("holders/<int:pk>/donation/", views.donation, name="supplies_donation"),
    path("holders/<int:pk>/take/", views.take, name="supplies_take"),
    path("holders/<int:pk>/write-off/", views.write_off, name="supplies_write_off"),
    path("holders/<int:pk>/count/", views.count, name="supplies_count"),
    path("holders/<int:pk>/send/", views.send, name="supplies_send"),
    path("holders/<int:pk>/ask/", views.ask, name="supplies_ask"),
    path("holders/<int:pk>/threshold/", views.threshold, name="supplies_threshold"),
    path("holders/<int:pk>/import/", views.import_sheet, name="supplies_import"),
    path("holders/<int:pk>/ledger.xlsx", views.export_ledger, name="supplies_export_ledger"),
    path("holders/<int:pk>/stock.xlsx", views.export_stock, name="supplies_export_stock"),
    path("transfers/<int:pk>/receive/", views.receive_transfer, name="supplies_receive_transfer"),
    path("requests/", views.requests, name="supplies_requests"),
    path("requests/<int:pk>/", views.request_detail, name="supplies_request"),
    path("requests/<int:pk>/decide/", views.decide, name="supplies_decide"),
    path("requests/<int:pk>/withdraw/", views.withdraw, name="supplies_withdraw"),
    path("donations/<int:pk>/thanks.pdf", views.thanks, name="supplies_thanks"),
]
