from django.apps import AppConfig


class DeclarationsConfig(AppConfig):
    name = "fangkong.declarations"
    label = "declarations"

    def ready(self):
        from . import contributions  # noqa: F401  registers the daily figures (lib.registry)
