"""Field encryption (AES-256-GCM) and blind indexes (HMAC-SHA256) for personal data.

Ciphertext layout: version byte (1) | 12-byte nonce | ciphertext+tag. The blind index is a
keyed hash of the normalized value with a per-kind prefix, so the same number typed as an
ID and as a phone never match each other, and nobody without INDEX_KEY can test guesses.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = b"\x01"


@lru_cache(maxsize=4)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def encrypt(plain: str, *, aad: bytes = b"") -> bytes:
    nonce = os.urandom(12)
    return b"".join((_VERSION, nonce, _aead(settings.DATA_KEY).encrypt(nonce, plain.encode(), aad)))


def decrypt(blob: bytes | memoryview | None, *, aad: bytes = b"") -> str:
    if blob is None:
        return ""
    blob = bytes(blob)
    if not blob:
        return ""
    if blob[:1] != _VERSION:
        raise ValueError("unknown ciphertext version")
    return _aead(settings.DATA_KEY).decrypt(blob[1:13], blob[13:], aad).decode()


_KEYED: dict[str, tuple[bytes, hmac.HMAC]] = {}


def blind_index(kind: str, normalized: str) -> str:
    """Hex HMAC of `kind:value`; 32 hex chars (128 bits) is plenty for exact lookup."""
    # The HMAC state after the key and the `kind:` prefix is kept and copied for every
    # value (the importer computes two blind indexes per row); a new key starts afresh.
    key = settings.INDEX_KEY
    keyed = _KEYED.get(kind)
    if keyed is None or keyed[0] is not key:
        keyed = _KEYED[kind] = (key, hmac.new(key, f"{kind}:".encode(), hashlib.sha256))
    mac = keyed[1].copy()
    mac.update(normalized.encode())
    return mac.hexdigest()[:32]


def encryptor(*, aad: bytes = b"") -> Callable[[str], bytes]:
    """encrypt() for many values: the key and the AES-GCM object looked up once (the
    importer encrypts two values per row). Same ciphertexts layout, a fresh nonce each."""
    aead, urandom, version = _aead(settings.DATA_KEY), os.urandom, _VERSION

    def enc(plain: str) -> bytes:
        nonce = urandom(12)
        return b"".join((version, nonce, aead.encrypt(nonce, plain.encode(), aad)))

    return enc


def blind_indexer(kind: str) -> Callable[[str], str]:
    """blind_index(kind, ·) for many values, with the keyed HMAC state made once."""
    keyed = hmac.new(settings.INDEX_KEY, f"{kind}:".encode(), hashlib.sha256)

    def index(normalized: str) -> str:
        mac = keyed.copy()
        mac.update(normalized.encode())
        return mac.hexdigest()[:32]

    return index
