from fangkong.lib import apps


class PlacesConfig(apps.FangkongConfig):
    name = "fangkong.places"
    label = "places"

    def ready(self):
        from . import lookups  # noqa: F401  registers CharField.under

        super().ready()
