from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "fangkong.dashboard"
    label = "dashboard"
