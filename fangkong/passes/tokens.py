"""Pass tokens: compact, signed with Ed25519, verifiable offline.

Wire format (what the QR code holds), JWS-like and ASCII only:

    FK1.<payload>.<signature>

payload = base64url (no padding) of compact JSON with sorted keys:
    k  key id (which SigningKey signed)         p  pass id (int)
    t  kind: "r" resident, "v" visitor, "c" vehicle
    c  colour: "g" green, "y" yellow, "r" red   e  expiry, Unix seconds (int)
    n  masked name (季*明) or masked plate (鲁E·***12)
    h  visitor passes only: id of the place where the pass admits (its host compound or
       checkpoint); a gate outside that place refuses it, offline too
signature = base64url (no padding) of Ed25519 over the ASCII bytes "FK1.<payload>".

A gate verifies it with the public keys (GET /api/passes/keys: kid -> raw 32-byte key,
base64url) and the revocation list, without the server. `verify()` here checks format,
key, signature and expiry; revocation of a pass is the passes module's business
(it knows the passes) and is checked on top of this.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import crypto

PREFIX = "FK1"
KINDS = {"r": "resident", "v": "visitor", "c": "vehicle"}
COLOURS = {"g": "green", "y": "yellow", "r": "red"}
_KEY_TTL = 60.0  # seconds a process trusts its cached key list before asking the database again


class TokenError(Exception):
    """A token that must be refused; `code` is stable (for gates and logs), the message is for people."""

    MESSAGES = {
        "malformed": _("Not a Fangkong pass code"),
        "unknown_key": _("Signed with a key this platform does not know or no longer trusts"),
        "bad_signature": _("The signature does not match: the code is forged or altered"),
        "expired": _("The code has expired"),
        "revoked": _("The pass has been revoked"),
    }

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    @property
    def message(self) -> str:
        return str(self.MESSAGES[self.code])


@dataclass(frozen=True)
class Claims:
    kid: str
    pass_id: int
    kind: str  # resident / visitor / vehicle
    colour: str  # green / yellow / red
    expires: int  # Unix seconds
    masked: str
    host: int | None = None  # visitor passes: the place id where the pass admits

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, tz=dt.timezone.utc)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- Keys -------------------------------------------------------------------------------

_cache: dict = {"at": 0.0, "public": {}, "signer": None}


def _load() -> None:
    from .models import SigningKey

    public, signer = {}, None
    for key in SigningKey.objects.filter(revoked_at__isnull=True):
        public[key.kid] = Ed25519PublicKey.from_public_bytes(bytes(key.public_key))
        if key.active:
            signer = (key.kid, key)
    _cache.update(at=time.monotonic(), public=public, signer=signer)


def clear_cache() -> None:
    _cache.update(at=0.0, public={}, signer=None)


def _fresh() -> dict:
    if time.monotonic() - _cache["at"] > _KEY_TTL:
        _load()
    return _cache


@transaction.atomic
def rotate_key(*, acting_user=None) -> str:
    """A new active signing key (the previous one keeps verifying). Returns its kid."""
    from fangkong.audit.actions import record

    from .models import SigningKey

    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes_raw()
    SigningKey.objects.filter(active=True).update(active=False)
    kid = secrets.token_hex(4)
    key = SigningKey.objects.create(kid=kid, public_key=private.public_key().public_bytes_raw(),
                                    private_key_enc=crypto.encrypt(raw_private.hex(), aad=kid.encode()), active=True)
    record(acting_user, "passes.key.rotate", obj=key, detail={"kid": kid})
    transaction.on_commit(clear_cache)
    clear_cache()
    return kid


@transaction.atomic
def revoke_key(kid: str, *, acting_user=None) -> None:
    """Stop trusting a key (compromised): every token it signed is refused by this process at
    once and by the others within _KEY_TTL seconds (their cached key lists expire); gates
    drop it with their next key refresh."""
    from fangkong.audit.actions import record

    from .models import SigningKey

    n = SigningKey.objects.filter(kid=kid, revoked_at__isnull=True).update(revoked_at=timezone.now(), active=False)
    record(acting_user, "passes.key.revoke", detail={"kid": kid, "found": bool(n)})
    transaction.on_commit(clear_cache)
    clear_cache()


def _signer():
    cache = _fresh()
    if cache["signer"] is None:
        try:
            rotate_key()
        except IntegrityError:  # another process made the first key at the same moment
            pass
        _load()
    kid, key = _cache["signer"]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(crypto.decrypt(key.private_key_enc, aad=kid.encode())))
    return kid, private


def public_keys() -> dict[str, str]:
    """kid -> base64url raw public key, for gates (trusted keys only)."""
    _signer()  # make sure a key exists
    return {kid: _b64e(k.public_bytes_raw()) for kid, k in _fresh()["public"].items()}


# --- Sign and verify --------------------------------------------------------------------

def sign(*, pass_id: int, kind: str, colour: str, masked: str, expires_at: dt.datetime, host: int | None = None) -> str:
    kinds = {v: k for k, v in KINDS.items()}
    colours = {v: k for k, v in COLOURS.items()}
    kid, private = _signer()
    payload = {"k": kid, "p": int(pass_id), "t": kinds[kind], "c": colours[colour], "e": int(expires_at.timestamp()),
               "n": masked}
    if host is not None:
        payload["h"] = int(host)
    body = f"{PREFIX}.{_b64e(json.dumps(payload, separators=(',', ':'), sort_keys=True, ensure_ascii=False).encode())}"
    return f"{body}.{_b64e(private.sign(body.encode('ascii')))}"


def decode(token: str) -> tuple[Claims, bytes, bytes]:
    """Claims, signed bytes and signature of a well-formed token (nothing verified)."""
    try:
        prefix, payload, sig = token.strip().split(".")
        if prefix != PREFIX or len(token) > 600:
            raise ValueError
        data = json.loads(_b64d(payload))
        if type(data.get("p")) is not int or type(data.get("e")) is not int or not 0 <= data["e"] < 2**40:
            raise ValueError  # ids and times are plain integers (1e400 is a float, and infinite)
        host = data.get("h")
        if host is not None and (type(host) is not int or not 0 < host < 2**63):
            raise ValueError
        claims = Claims(kid=str(data["k"]), pass_id=data["p"], kind=KINDS[data["t"]], colour=COLOURS[data["c"]],
                        expires=data["e"], masked=str(data["n"])[:50], host=host)
        signature = _b64d(sig)
        if len(signature) != 64:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeError, OverflowError, RecursionError):
        raise TokenError("malformed") from None
    return claims, f"{prefix}.{payload}".encode("ascii"), signature


def verify(token: str, *, now: float | None = None) -> Claims:
    """The claims of a token signed by a trusted key and not expired; else TokenError."""
    claims, signed, signature = decode(token)
    cache = _fresh()
    key = cache["public"].get(claims.kid)
    if key is None and time.monotonic() - cache["at"] > 1.0:
        _load()  # a key made by another process since the cache was filled (at most once a second)
        key = _cache["public"].get(claims.kid)
    if key is None:
        raise TokenError("unknown_key")
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        raise TokenError("bad_signature") from None
    if claims.expires <= (now if now is not None else time.time()):
        raise TokenError("expired")
    return claims


# --- Other signed statements ---------------------------------------------------------------
# Other codes a device checks offline with the same trusted keys (a resident's personal-link
# code: accounts.linkcodes) are signed here as "<prefix>.<payload>.<signature>" with a prefix
# of their own, which is part of the signed bytes: a statement of one kind never reads as
# another's (nor as a pass code, whose prefix is FK1).

def sign_statement(prefix: str, payload: dict) -> str:
    """`payload` (compact JSON, sorted keys, with the signing key's id as "k") signed by the
    active key under `prefix`."""
    if prefix == PREFIX or not prefix.isalnum():
        raise ValueError(f"bad statement prefix {prefix!r}")
    kid, private = _signer()
    data = {**payload, "k": kid}
    body = f"{prefix}.{_b64e(json.dumps(data, separators=(',', ':'), sort_keys=True, ensure_ascii=False).encode())}"
    return f"{body}.{_b64e(private.sign(body.encode('ascii')))}"


def verify_statement(text: str, prefix: str, *, max_length: int = 600) -> dict:
    """The payload of a statement signed under `prefix` by a trusted key; else TokenError
    (malformed, unknown_key, bad_signature). Expiry and the rest are the caller's."""
    try:
        head, payload, sig = text.strip().split(".")
        if head != prefix or len(text) > max_length:
            raise ValueError
        data = json.loads(_b64d(payload))
        if not isinstance(data, dict) or not isinstance(data.get("k"), str):
            raise ValueError
        signature = _b64d(sig)
        if len(signature) != 64:
            raise ValueError
    except (ValueError, TypeError, AttributeError, UnicodeError, RecursionError):
        raise TokenError("malformed") from None
    cache = _fresh()
    key = cache["public"].get(data["k"])
    if key is None and time.monotonic() - cache["at"] > 1.0:
        _load()
        key = _cache["public"].get(data["k"])
    if key is None:
        raise TokenError("unknown_key")
    try:
        key.verify(signature, f"{head}.{payload}".encode("ascii"))
    except InvalidSignature:
        raise TokenError("bad_signature") from None
    return data
