from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "fangkong.gates"
    label = "gates"

    def ready(self):
        from . import contributions  # noqa: F401  registers the daily gate figures (lib.registry)
