from django.apps import AppConfig


class InflowConfig(AppConfig):
    name = "fangkong.inflow"
    label = "inflow"

    def ready(self):
        from . import contributions  # noqa: F401  registers metrics and health flags (lib.registry)
