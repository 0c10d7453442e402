from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "fangkong.places"
    label = "places"

    def ready(self):
        from . import lookups  # noqa: F401  registers CharField.under
