from django.db.models.signals import post_migrate

from fangkong.lib import apps


def _install_auth_triggers(sender, using, **kwargs):
    from django.db import connections

    from .access import install_auth_triggers

    install_auth_triggers(connections[using])


class PlacesConfig(apps.FangkongConfig):
    name = "fangkong.places"
    label = "places"

    def ready(self):
        from . import lookups  # noqa: F401  registers CharField.under

        super().ready()
        # After every migrate (which may rebuild a table, dropping its triggers on SQLite):
        # the triggers of the auth version (access.install_auth_triggers).
        post_migrate.connect(_install_auth_triggers, sender=self, dispatch_uid="fangkong_auth_triggers")
