"""Field encryption (AES-256-GCM) and blind indexes (HMAC-SHA256) for personal data.

Ciphertext layout: version byte 2 | key id (1 byte) | 12-byte nonce | ciphertext+tag.
Version 1 (written before key ids: 1 | nonce | ciphertext+tag) counts as key id 1. The key
id names a pair of keys: the data key that encrypted the value and the index key of the
row's blind indexes, written together. The current pair is DATA_KEY/INDEX_KEY under
KEY_ID; OLD_KEYS ({id: (data key, index key)}) are the pairs still read while `fangkong
rotate-keys` re-encrypts and re-indexes every row to the current pair (README, "Key
rotation"); lookups by blind index try every configured index key meanwhile
(blind_indexes). Once no row uses an old id (`rotate-keys --check`), its pair is retired
from the configuration.

The blind index is a keyed hash of the normalized value with a per-kind prefix, so the
same number typed as an ID and as a phone never match each other, and nobody without the
index key can test guesses.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_V1 = 1  # version | nonce | ct: key id 1
_V2 = 2  # version | key id | nonce | ct
LEGACY_KEY_ID = 1


@dataclass(frozen=True)
class Encrypted:
    """An encrypted field of a model, declared in the model's ENCRYPTED tuple so that key
    rotation finds it: `field` (binary), its blind index field and kind (if it has one),
    and its associated data (fixed bytes `aad`, or the value of field `aad_field`)."""

    field: str
    index: str = ""
    kind: str = ""
    aad: bytes = b""
    aad_field: str = ""

    def aad_of(self, obj) -> bytes:
        return str(getattr(obj, self.aad_field)).encode() if self.aad_field else self.aad


@lru_cache(maxsize=8)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def current_key_id() -> int:
    return settings.KEY_ID


def _data_key(kid: int) -> bytes:
    if kid == settings.KEY_ID:
        return settings.DATA_KEY
    old = settings.OLD_KEYS.get(kid)
    if old is None:
        raise ValueError(f"data key {kid} is not configured (retired too early? see FANGKONG_OLD_KEYS)")
    return old[0]


def key_id(blob: bytes | memoryview | None) -> int | None:
    """The id of the key pair a ciphertext was written with (None for no value)."""
    if not blob:
        return None
    head = bytes(blob[:2])
    if head[0] == _V1:
        return LEGACY_KEY_ID
    if head[0] == _V2 and len(head) == 2:
        return head[1]
    raise ValueError("unknown ciphertext version")


def _prefix() -> bytes:
    return bytes((_V2, settings.KEY_ID))


def encrypt(plain: str, *, aad: bytes = b"") -> bytes:
    nonce = os.urandom(12)
    return b"".join((_prefix(), nonce, _aead(settings.DATA_KEY).encrypt(nonce, plain.encode(), aad)))


def decrypt(blob: bytes | memoryview | None, *, aad: bytes = b"") -> str:
    if blob is None:
        return ""
    blob = bytes(blob)
    if not blob:
        return ""
    kid = key_id(blob)
    body = blob[1:] if blob[0] == _V1 else blob[2:]
    return _aead(_data_key(kid)).decrypt(body[:12], body[12:], aad).decode()


_KEYED: dict[str, tuple[bytes, hmac.HMAC]] = {}


def blind_index(kind: str, normalized: str) -> str:
    """Hex HMAC of `kind:value` under the current index key; 32 hex chars (128 bits) is
    plenty for exact lookup. What is stored."""
    # The HMAC state after the key and the `kind:` prefix is kept and copied for every
    # value (the importer computes two blind indexes per row); a new key starts afresh.
    key = settings.INDEX_KEY
    keyed = _KEYED.get(kind)
    if keyed is None or keyed[0] is not key:
        keyed = _KEYED[kind] = (key, hmac.new(key, f"{kind}:".encode(), hashlib.sha256))
    mac = keyed[1].copy()
    mac.update(normalized.encode())
    return mac.hexdigest()[:32]


def blind_indexes(kind: str, normalized: str) -> list[str]:
    """The value's blind index under every configured index key, the current first: what
    a lookup matches (`field__in=`), so that rows not yet re-indexed by a key rotation are
    found too. One element when no old key is configured."""
    out = [blind_index(kind, normalized)]
    for _data, index_key in settings.OLD_KEYS.values():
        mac = hmac.new(index_key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()[:32]
        if mac not in out:
            out.append(mac)
    return out


def encryptor(*, aad: bytes = b"") -> Callable[[str], bytes]:
    """encrypt() for many values: the key and the AES-GCM object looked up once (the
    importer encrypts two values per row). Same ciphertexts layout, a fresh nonce each."""
    aead, urandom, prefix = _aead(settings.DATA_KEY), os.urandom, _prefix()

    def enc(plain: str) -> bytes:
        nonce = urandom(12)
        return b"".join((prefix, nonce, aead.encrypt(nonce, plain.encode(), aad)))

    return enc


def blind_indexer(kind: str) -> Callable[[str], str]:
    """blind_index(kind, ·) for many values, with the keyed HMAC state made once."""
    keyed = hmac.new(settings.INDEX_KEY, f"{kind}:".encode(), hashlib.sha256)

    def index(normalized: str) -> str:
        mac = keyed.copy()
        mac.update(normalized.encode())
        return mac.hexdigest()[:32]

    return index
