"""The AppConfig every Fangkong app uses: at start-up it loads the app's declarations.

* `permissions.py` — the roles the app brings and its permissions with the roles that hold
  them (it calls fangkong.places.access.declare); merged into the one table of the access
  module, which the access-matrix test reads.
* `contributions.py` — what the app tells the rest of the platform through
  fangkong.lib.registry (daily figures, health flags, alert sinks, to-dos) and other
  registries (attachment owners, link resolvers).

Every app's permissions.py is loaded before any app's contributions.py (the first ready()
loads them all), so a contribution may read or extend any app's permissions."""
from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig
from django.apps import apps as registry

_PERMISSIONS_LOADED: list[bool] = []


class FangkongConfig(AppConfig):
    def _load(self, name: str) -> None:
        module = f"{self.name}.{name}"
        if find_spec(module) is not None:
            import_module(module)

    def ready(self):
        if not _PERMISSIONS_LOADED:
            _PERMISSIONS_LOADED.append(True)
            for config in registry.get_app_configs():
                if isinstance(config, FangkongConfig):
                    config._load("permissions")
        self._load("contributions")
