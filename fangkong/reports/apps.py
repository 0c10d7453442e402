from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "fangkong.reports"
    label = "reports"

    def ready(self):
        from . import contributions  # noqa: F401  registers the to-dos (lib.registry)
