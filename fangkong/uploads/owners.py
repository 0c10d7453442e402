"""Which records may carry attachments, and the permissions that guard them.

An owning module registers its model once, in its contributions.py:

    from fangkong.uploads import register_owner
    register_owner(Finding, view_perm="declarations.view", attach_perm="declarations.watch",
                   editable=lambda f: f.state == Finding.State.RECORDED)

Every read of an attachment then fetches its owner with
`get_in_scope(Model, user, view_perm, pk=owner_id)` (404 when missing or out of scope), every
attach and detach with `attach_perm`. The owner model must be scoped (SCOPE_PATH and/or
SCOPE_ORG), so its attachments carry the owner's place path / organization for lists.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    model: type
    view_perm: str
    attach_perm: str
    # owner -> whether files may still be added or removed (a confirmed finding's evidence
    # is frozen); None: always.
    editable: Callable[[object], bool] | None = None

    @property
    def key(self) -> str:
        return owner_key(self.model)


_OWNERS: dict[str, Owner] = {}


def owner_key(model_or_obj) -> str:
    """'app_label.model' of a model class or instance (how an attachment names its owner)."""
    meta = model_or_obj._meta
    return f"{meta.app_label}.{meta.model_name}"


def register_owner(model, *, view_perm: str, attach_perm: str, editable=None) -> Owner:
    from fangkong.places.access import declare, perm_roles

    # Whoever holds an owner's permission may use the upload routes at all (each file is
    # then checked against its owner): the routes' permissions grow with every owner.
    declare(extend={"uploads.view": perm_roles(view_perm), "uploads.attach": perm_roles(attach_perm)})
    if not (getattr(model, "SCOPE_PATH", None) or getattr(model, "SCOPE_ORG", None)):
        raise ValueError(f"{owner_key(model)}: an attachment owner must be scoped (SCOPE_PATH or SCOPE_ORG)")
    spec = Owner(model, view_perm, attach_perm, editable)
    if _OWNERS.get(spec.key, spec) != spec:
        raise ValueError(f"{spec.key} registered twice as an attachment owner")
    _OWNERS[spec.key] = spec
    return spec


def owner_spec(key: str) -> Owner | None:
    return _OWNERS.get(str(key or ""))


def owners() -> list[Owner]:
    return list(_OWNERS.values())
