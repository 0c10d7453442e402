"""Key rotation of the encrypted fields (`fangkong rotate-keys`).

Every model declares its encrypted fields in ENCRYPTED (fangkong.lib.crypto.Encrypted).
rotate() walks each such table in batches by primary key and, for every row whose
ciphertexts do not carry the current key id, decrypts with the old key, encrypts with the
current one and recomputes the blind index with the current index key, in one conditional
UPDATE per row (only if its ciphertexts are still the ones read: a concurrent edit, which
writes under the current key already, wins). Rows already under the current key are
skipped, so the command is idempotent and resumes where it stopped; the server keeps
running meanwhile (lookups try every configured index key). remaining() says which old
key ids rows still use: when none, the old key pair is removed from FANGKONG_OLD_KEYS.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from django.apps import apps
from django.db import transaction

from fangkong.lib import crypto


def encrypted_models() -> list:
    return [m for m in apps.get_models() if getattr(m, "ENCRYPTED", ())]


def _batches(model, specs, batch: int):
    fields = sorted({s.field for s in specs} | {s.aad_field for s in specs if s.aad_field})
    last = None
    while True:
        qs = model._base_manager.order_by("pk").only(*fields)
        if last is not None:
            qs = qs.filter(pk__gt=last)
        rows = list(qs[:batch])
        if not rows:
            return
        last = rows[-1].pk
        yield rows


def rotate(*, batch: int = 500, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Re-encrypt and re-index every row not under the current key; {model: rows changed}."""
    kid = crypto.current_key_id()
    done: dict[str, int] = {}
    for model in encrypted_models():
        specs = model.ENCRYPTED
        label = model._meta.label
        done[label] = 0
        for rows in _batches(model, specs, batch):
            with transaction.atomic():
                for obj in rows:
                    where, changes = {}, {}
                    for s in specs:
                        blob = getattr(obj, s.field)
                        if blob is None:
                            where[f"{s.field}__isnull"] = True
                            continue
                        blob = bytes(blob)
                        where[s.field] = blob
                        if not blob or crypto.key_id(blob) == kid:
                            continue
                        aad = s.aad_of(obj)
                        plain = crypto.decrypt(blob, aad=aad)
                        changes[s.field] = crypto.encrypt(plain, aad=aad)
                        if s.index:
                            changes[s.index] = crypto.blind_index(s.kind, plain) if plain else ""
                    if changes:
                        done[label] += model._base_manager.filter(pk=obj.pk, **where).update(**changes)
            if progress:
                progress(f"{label}: {done[label]} rows moved, up to id {rows[-1].pk}")
    return done


def remaining(*, batch: int = 2000) -> dict[str, Counter]:
    """{model: Counter(old key id: ciphertexts)} of the ciphertexts not under the current key."""
    kid = crypto.current_key_id()
    out: dict[str, Counter] = {}
    for model in encrypted_models():
        counts: Counter = Counter()
        for rows in _batches(model, model.ENCRYPTED, batch):
            for obj in rows:
                for s in model.ENCRYPTED:
                    found = crypto.key_id(getattr(obj, s.field))
                    if found is not None and found != kid:
                        counts[found] += 1
        if counts:
            out[model._meta.label] = counts
    return out
