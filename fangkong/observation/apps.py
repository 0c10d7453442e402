from django.apps import AppConfig


class ObservationConfig(AppConfig):
    name = "fangkong.observation"
    label = "observation"

    def ready(self):
        from . import contributions  # noqa: F401  registers metrics and health flags (lib.registry)
