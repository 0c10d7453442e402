from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "fangkong.reports"
    label = "reports"
