"""What the places app registers: the roles an audit event records for its actor come from
the access module (audit sits below places and imports none of it), and the access
module's refusals are recorded by the audit."""
from fangkong.audit.actions import note_refusal, set_roles_resolver

from .access import grants, register_refusal_hook, roles

set_roles_resolver(roles)


def _refusal(user, perm: str, kind: str) -> None:
    """Refusals go to the audit, with the place of the account's first place grant (whom
    an alert about the account goes to)."""
    place = next((g.place_path for g in grants(user) if g.place_path), "")
    note_refusal(user, perm, kind, place_path=place)


register_refusal_hook(_refusal)
