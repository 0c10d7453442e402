from django.apps import AppConfig


class CensusConfig(AppConfig):
    name = "fangkong.census"
    label = "census"

    def ready(self):
        from . import contributions  # noqa: F401  registers the daily figures (lib.registry)
