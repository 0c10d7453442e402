"""What every module's named actions share (DESIGN.md §3): the two ways an action refuses,
the row of a state machine's transition table, and the one way a transition is taken.

* `Conflict` — not allowed in the record's current state, or someone else changed it
  first: HTTP 409 with the reason; nothing changed.
* `Invalid` — bad input, {field: message} in the user's language: HTTP 400 (pages) or
  422 (API); nothing stored.

The API turns both into answers in one place (`fangkong/api.py`); pages use
`fangkong.web.forms.attempt`.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F


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


def apply_transition(queryset, obj, t: Transition, *, refused, changed=None, lower: bool = False, check=None,
                     changes: dict | None = None):
    """Take transition `t` of the row `obj` (inside the caller's transaction): lock the row
    (`queryset.select_for_update()`), refuse with Conflict(`refused`) unless its state is
    one of `t.sources`, run `check(current)` (more refusals under the lock; it may return
    more changes), then one conditional UPDATE on (pk, state[, version]) to `t.target`
    (unless the changes name another state) with `changes`, bumping `version` where the
    model has one (Conflict(`changed`) if the row moved meanwhile). Returns the row as now
    stored, for the caller's events and audit.

    `refused` is the translated message, formatted with %(action)s (the transition's
    label, lower-cased if `lower`) and %(state)s (the current state's display)."""
    current = queryset.select_for_update().get(pk=obj.pk)
    if current.state not in t.sources:
        label = str(t.label)
        raise Conflict(str(refused) % {"action": label.lower() if lower else label, "state": current.get_state_display()})
    fields = {"state": t.target, **(changes or {}), **((check(current) if check else None) or {})}
    match = {"pk": current.pk, "state": current.state}
    if any(f.name == "version" for f in current._meta.concrete_fields):
        match["version"] = current.version
        fields["version"] = F("version") + 1
    if not type(current)._default_manager.filter(**match).update(**fields):
        raise Conflict(str(changed or refused) % {"action": str(t.label), "state": current.get_state_display()})
    current.refresh_from_db()
    return current


def int_or_none(raw, *, maximum: int = 2**31 - 1) -> int | None:
    """A form field as a non-negative int, or None: ASCII digits only ("²".isdigit() is
    True, but int("²") fails), and no larger than a database id."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= maximum else None
