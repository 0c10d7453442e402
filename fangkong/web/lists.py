"""What list pages share: the filter a query string chooses, and the page of rows shown."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.paginator import Page, Paginator


def chosen(request, name: str, options: Iterable, default: str) -> str:
    """request.GET[name] when it is one of `options` (keys, or (key, label) pairs, or a
    dict), else `default`: a list page never fails on a stale or made-up filter."""
    keys = {o[0] if isinstance(o, (tuple, list)) else o for o in options}
    value = request.GET.get(name, default)
    return value if value in keys else default


def page_of(request, rows, per_page: int = 50) -> Page:
    """The page of `rows` that ?page= names (the last one past the end, the first for
    anything that is not a number)."""
    return Paginator(rows, per_page).get_page(request.GET.get("page", "1"))
