from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
    path("notify/channels/", views.channels, name="notify_channels"),
    path("notify/channels/<int:pk>/active/", views.channel_active, name="notify_channel_active"),
    path("notify/deliveries/<int:pk>/", views.delivery_detail, name="notify_delivery"),
    path("notify/deliveries/<int:pk>/retry/", views.delivery_retry, name="notify_delivery_retry"),
]
