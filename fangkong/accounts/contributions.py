"""What the accounts app registers: how a resident's personal link names a person (for
the access module's personal_link / link_auth markers)."""
from fangkong.places.access import LinkResolver, register_link_resolver

from .actions import load_resident, resident_for_token, resident_id_for_token

register_link_resolver(LinkResolver(person=resident_for_token, person_id=resident_id_for_token, load=load_resident))
