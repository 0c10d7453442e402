from django.apps import AppConfig


class CensusConfig(AppConfig):
    name = "fangkong.census"
    label = "census"

    def ready(self):
        from . import signals  # noqa: F401  registers the daily figures (core.registry)
