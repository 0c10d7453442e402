from django.apps import AppConfig


class PassesConfig(AppConfig):
    name = "fangkong.passes"
    label = "passes"

    def ready(self):
        from . import contributions  # noqa: F401  registers the daily figures (lib.registry)
