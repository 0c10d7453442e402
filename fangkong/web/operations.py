"""API operations the modules' routers share (django-ninja).

No `from __future__ import annotations` here: an operation's payload annotation must be
the schema class itself when ninja reads the signature."""
from fangkong.places.access import api_perm, get_in_scope


def transition_ops(router, table: dict, queryset, *, path: str, module: str, prefix: str, schema, response, take) -> None:
    """One POST operation per transition of `table` on `router`, at `path` + the
    transition's name (dashes for underscores), summarized by its label: it needs the
    transition's permission over the object its pk names (404 outside the user's scope)
    and answers `take(request, obj, name, payload)`. Each is a function `<prefix>_<name>`
    of `module` (the API module owning the router), which makes its operation id.
    `schema`: the body's schema class, or {transition name: class} when the transitions
    read different fields (each operation then documents exactly the fields it reads)."""
    def make(name, t):
        body = schema[name] if isinstance(schema, dict) else schema

        def op(request, pk: int, payload: body):
            return take(request, get_in_scope(queryset, request.user, t.perm, pk=pk), name, payload)

        op.__name__, op.__module__ = f"{prefix}_{name}", module
        router.add_api_operation(f"{path}{name.replace('_', '-')}", ["POST"], op, response=response, summary=str(t.label),
                                 auth=api_perm(t.perm, obj=queryset.model))

    for name, t in table.items():
        make(name, t)
