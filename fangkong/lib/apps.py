"""The AppConfig every Fangkong app uses: at start-up it loads the app's declarations.

* `permissions.py` — the roles the app brings and its permissions with the roles that hold
  them (it calls fangkong.places.access.declare); merged into the one table of the access
  module, which the access-matrix test reads.
* `contributions.py` — what the app tells the rest of the platform through
  fangkong.lib.registry: daily figures, health flags, alert sinks, to-dos.

Both only register: nothing in them runs a query or reads the merged table at import, so
the order of the apps does not matter (the table is merged on first use)."""
from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig


class FangkongConfig(AppConfig):
    def ready(self):
        for name in ("permissions", "contributions"):
            module = f"{self.name}.{name}"
            if find_spec(module) is not None:
                import_module(module)
