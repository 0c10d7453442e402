"""A URL prefix whose patterns are tried by their first path segment (the JSON API's).

Django tries a URLconf's patterns one after the other. The API's ~230 operations are one
flat list (django-ninja), so a call to a module added late (testing: the registrar's
registration, one per scan) was matched against ~220 patterns before its own: 134 µs of
CPU a request, against 47 µs for a gate check-in near the front and 13 µs for /healthz
(in-process, 2026-12-06; ~4 % of a registration's CPU once its queries were prepared).
Nesting the patterns in an include() per segment does not help: a group that does not
match costs a Resolver404 exception, about as much as the patterns it skips.

`by_first_segment(route, urls)` is the include() of `urls` at `route` that reverses and
lists its patterns as the flat include does (url_patterns, names, namespace unchanged),
but resolves a path by looking at the segment after `route` first, and tries, in their
order, only the patterns that could match it: those whose first segment is that literal
text, and every pattern whose first segment is not literal (a converter, a regex, a
nested include at its root). First match wins as before, so the answer is the one the
flat list gives (ResolverMatch, route "api/testing/sites/<int:pk>/registrations" included).
"""
from __future__ import annotations

from django.urls import URLPattern
from django.urls.resolvers import RoutePattern, URLResolver


def _literal_head(p) -> str | None:
    """The literal first segment every path `p` matches starts with, None if not known."""
    if not isinstance(p.pattern, RoutePattern):
        return None
    route = str(p.pattern)
    head, sep, _rest = route.partition("/")
    if "<" in head or (not sep and not isinstance(p, URLPattern)):
        return None  # a converter, or a prefix include("x") that matches "xy/..." too
    return head


class _ByFirstSegment(URLResolver):
    def _heads(self):
        heads = getattr(self, "_fk_heads", None)
        if heads is None:
            patterns = self.url_patterns
            known = {h for h in map(_literal_head, patterns) if h is not None}

            def sub(head):
                chosen = [p for p in patterns if _literal_head(p) in (head, None)]
                return URLResolver(self.pattern, chosen, self.default_kwargs, self.app_name, self.namespace)

            heads = {h: sub(h) for h in known}
            heads[None] = sub(None)  # a segment no literal pattern has: the others only
            self._fk_heads = heads
        return heads

    def resolve(self, path):
        match = self.pattern.match(str(path))
        if not match:
            return super().resolve(path)  # the Resolver404 it raises
        heads = self._heads()
        head = match[0].partition("/")[0]
        return heads.get(head, heads[None]).resolve(path)


def by_first_segment(route: str, urls) -> URLResolver:
    """path(route, include(urls)), resolved by first segment (see the module doc)."""
    urlconf, app_name, namespace = urls  # as path() takes NinjaAPI.urls
    return _ByFirstSegment(RoutePattern(route, is_endpoint=False), urlconf, app_name=app_name, namespace=namespace)
