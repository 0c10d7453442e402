"""Django's Argon2 hasher, computed at the lowest CPU priority (lib.throttle.at_low_priority):
a sign-in's hash (~0.1 s of CPU, 100 MB of memory) then waits for the processors while
other requests are served, so that a burst of sign-ins slows down sign-ins, not everyone.
Same algorithm name and parameters: stored hashes are unchanged."""
from django.contrib.auth.hashers import Argon2PasswordHasher as _Argon2

from fangkong.lib.throttle import at_low_priority


class Argon2PasswordHasher(_Argon2):
    def encode(self, password, salt):
        return at_low_priority(super().encode, password, salt)

    def verify(self, password, encoded):
        return at_low_priority(super().verify, password, encoded)
