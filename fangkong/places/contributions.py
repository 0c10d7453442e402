"""What the places app registers: the roles an audit event records for its actor come from
the access module (audit sits below places and imports none of it)."""
from fangkong.audit.actions import set_roles_resolver

from .access import roles

set_roles_resolver(roles)
