"""Django's ModelBackend, with the signed-in user read on every request by one prepared
statement that also reads the user's grants (places.access.user_with_grants) instead of
a compiled queryset and a second query, or none at all when this process kept the user
read under the auth version read with the session (places.access). Sign-in (authenticate: the password hasher) is
Django's, unchanged."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from fangkong.places.access import take_auth_version, user_with_grants


class Backend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 - a session naming no valid id: nobody
            return None
        # and the user's grants, in the same statement; none when this process read the
        # user under the auth version read with this request's session
        user = user_with_grants(pk, take_auth_version())
        return user if user is not None and self.user_can_authenticate(user) else None
