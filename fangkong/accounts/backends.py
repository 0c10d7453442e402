"""Django's ModelBackend, with the signed-in user read on every request by one prepared
statement (fangkong/lib/db/fastsql.py) instead of a compiled queryset. Sign-in
(authenticate: the password hasher) is Django's, unchanged."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from fangkong.lib.db import fastsql


class Backend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 - a session naming no valid id: nobody
            return None
        fields = tuple(f.name for f in model._meta.concrete_fields)
        user = fastsql.get(model, fields, **{model._meta.pk.name: pk})
        return user if user is not None and self.user_can_authenticate(user) else None
