from django.apps import AppConfig


class InflowConfig(AppConfig):
    name = "fangkong.inflow"
    label = "inflow"

    def ready(self):
        from . import signals  # noqa: F401  registers metrics and health flags (core.registry)
