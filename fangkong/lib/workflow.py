"""What every module's named actions share (DESIGN.md §3): the two ways an action refuses,
and the row of a state machine's transition table.

* `Conflict` — not allowed in the record's current state, or someone else changed it
  first: HTTP 409 with the reason; nothing changed.
* `Invalid` — bad input, {field: message} in the user's language: HTTP 400 (pages) or
  422 (API); nothing stored.
"""
from __future__ import annotations

from dataclasses import dataclass


class Conflict(Exception):
    """The action is not allowed in the record's current state (HTTP 409)."""


class Invalid(Exception):
    """Bad input: {field: message} (HTTP 400/422)."""

    def __init__(self, errors: dict):
        super().__init__("invalid")
        self.errors = errors


@dataclass(frozen=True)
class Transition:
    """One action of a state machine: the permission it needs, the states it may start
    from, the state it leads to, and its (lazy) label for buttons and timelines."""

    perm: str
    sources: tuple[str, ...]
    target: str
    label: object


def int_or_none(raw, *, maximum: int = 2**31 - 1) -> int | None:
    """A form field as a non-negative int, or None: ASCII digits only ("²".isdigit() is
    True, but int("²") fails), and no larger than a database id."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= maximum else None
