"""Objects the access-matrix test puts behind URLs, contributed per app.

Each module here (one per app, so apps do not edit one shared file) may define:

* ``OBJECTS``: {Model: factory(cast) -> instance}, one object of every model that a route
  names by its ``pk`` (``requires(perm, obj=Model)`` / ``api_perm(perm, obj=Model)``),
  located in grid A1 (compound A1Y) of the fixed cast, so own/sibling/parent scopes differ;
* ``URL_KWARGS``: {route name: fn(objects) -> kwargs} for routes whose URL needs more or
  other than ``pk`` (a personal-link token, for example);
* ``CREDENTIALS``: {credential kind: fn(cast) -> (secret, revoke)} for operations an
  upstream system calls with its credential (``places.access.token_auth``): a live secret
  and a function that revokes it.
"""
from __future__ import annotations

import importlib
import pkgutil


def _modules():
    for info in pkgutil.iter_modules(__path__):
        yield importlib.import_module(f"{__name__}.{info.name}")


def factories() -> dict:
    out = {}
    for mod in _modules():
        for model, fn in getattr(mod, "OBJECTS", {}).items():
            assert model not in out, f"{model.__name__} has two matrix factories"
            out[model] = fn
    return out


def url_kwargs() -> dict:
    out = {}
    for mod in _modules():
        out.update(getattr(mod, "URL_KWARGS", {}))
    return out


def credentials() -> dict:
    out = {}
    for mod in _modules():
        out.update(getattr(mod, "CREDENTIALS", {}))
    return out


def build_objects(cast) -> dict:
    return {model: fn(cast) for model, fn in factories().items()}
