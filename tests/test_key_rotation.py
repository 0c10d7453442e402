"""Key rotation (issue 15, item 11): ciphertexts carry a key id; `rotate-keys` re-encrypts
and re-indexes every encrypted field to the new key online and resumably; once no row uses
the old key it is removed from the configuration and everything still decrypts and is
found by its number."""
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import call_command
from django.core.management.base import CommandError

from fangkong.lib import crypto
from fangkong.residents.models import Person
from tests.cast import build_cast

A, IA, B, IB = (os.urandom(32) for _ in range(4))


@pytest.fixture
def key_a(settings):
    settings.KEY_ID, settings.DATA_KEY, settings.INDEX_KEY, settings.OLD_KEYS = 1, A, IA, {}
    return settings


def _legacy(plain: str, key: bytes) -> bytes:
    """A ciphertext as written before key ids (version 1, no id): counts as key 1."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plain.encode(), b"")


def _found(client, typed, person):
    return f"/residents/{person.pk}/" in client.get("/residents/", {"q": typed}).content.decode()


def test_ciphertexts_carry_the_key_id(key_a):
    blob = crypto.encrypt("370102198001010011")
    assert crypto.key_id(blob) == 1 and crypto.decrypt(blob) == "370102198001010011"
    key_a.KEY_ID, key_a.DATA_KEY, key_a.OLD_KEYS = 7, B, {1: (A, IA)}
    assert crypto.key_id(crypto.encrypt("x")) == 7
    assert crypto.decrypt(blob) == "370102198001010011"  # the old key still reads it
    assert crypto.decrypt(_legacy("y", A)) == "y" and crypto.key_id(_legacy("y", A)) == 1
    key_a.OLD_KEYS = {}
    with pytest.raises(ValueError, match="not configured"):
        crypto.decrypt(blob)


def test_rotate_to_a_new_key_then_retire_the_old(db, key_a, login, client, capsys):
    cast = build_cast()
    a1, b1 = cast.person_a1, cast.person_b1
    # One row as written before key ids.
    Person.objects.filter(pk=a1.pk).update(phone_enc=_legacy(cast.phones["person_a1"], A))
    login(cast.committee_a)
    assert _found(client, cast.ids["person_a1"], a1)

    # The new pair is configured, the old one kept for reading: the server goes on.
    key_a.KEY_ID, key_a.DATA_KEY, key_a.INDEX_KEY, key_a.OLD_KEYS = 2, B, IB, {1: (A, IA)}
    assert _found(client, cast.ids["person_a1"], a1)  # lookups try the old index key too
    assert _found(client, cast.phones["person_a1"], a1)
    with pytest.raises(CommandError, match="old keys still in use"):
        call_command("rotate_keys", "--check")

    call_command("rotate_keys", "--batch", "2")
    out = capsys.readouterr().out
    assert "residents.Person: 3 rows moved to key 2" in out and "may be retired" in out
    call_command("rotate_keys")  # resumable/idempotent: nothing left to move
    assert "residents.Person: 0 rows moved" in capsys.readouterr().out
    for p in Person.objects.all():
        assert crypto.key_id(p.id_enc) == 2 and crypto.key_id(p.phone_enc) == 2

    # The old key retired: everything decrypts and is found with the new pair alone.
    key_a.OLD_KEYS = {}
    call_command("rotate_keys", "--check")
    assert Person.objects.get(pk=a1.pk).id_number() == cast.ids["person_a1"]
    assert Person.objects.get(pk=a1.pk).phone() == cast.phones["person_a1"]
    assert Person.objects.get(pk=a1.pk).id_bidx == crypto.blind_index("id", cast.ids["person_a1"])
    assert _found(client, cast.ids["person_a1"], a1)
    assert _found(client, cast.phones["person_a1"], a1)
    login(cast.committee_b)
    assert _found(client, cast.ids["person_b1"], b1)


def test_rotation_moves_fields_with_associated_data(db, key_a):
    """A notification channel's secret (fixed associated data) and a pass signing key's
    private key (its kid as associated data) move too."""
    from fangkong.notify.models import Channel
    from fangkong.passes.models import SigningKey

    cast = build_cast()
    ch = Channel.objects.create(name="robot", kind="dingtalk", place=cast.street, place_path=cast.street.path,
                                target="https://example.invalid/hook",
                                secret=crypto.encrypt("SEC-1", aad=b"notify.channel"))
    sk = SigningKey.objects.create(kid="k-rot", public_key=b"p" * 32,
                                   private_key_enc=crypto.encrypt("ab" * 32, aad=b"k-rot"))
    key_a.KEY_ID, key_a.DATA_KEY, key_a.INDEX_KEY, key_a.OLD_KEYS = 2, B, IB, {1: (A, IA)}
    call_command("rotate_keys")
    key_a.OLD_KEYS = {}
    ch.refresh_from_db()
    sk.refresh_from_db()
    assert crypto.decrypt(ch.secret, aad=b"notify.channel") == "SEC-1"
    assert crypto.decrypt(sk.private_key_enc, aad=b"k-rot") == "ab" * 32


def test_every_binary_field_is_declared_or_plain():
    """A new encrypted field must be declared in its model's ENCRYPTED, or rotation would
    leave it under a retired key."""
    from django.apps import apps
    from django.db.models import BinaryField

    plain = {("passes.SigningKey", "public_key")}
    missing = []
    for model in apps.get_models():
        declared = {s.field for s in getattr(model, "ENCRYPTED", ())}
        for f in model._meta.concrete_fields:
            if isinstance(f, BinaryField) and f.name not in declared and (model._meta.label, f.name) not in plain:
                missing.append(f"{model._meta.label}.{f.name}")
    assert not missing


def test_imports_wait_while_a_rotation_is_under_way(db, key_a, login, client):
    """The importer matches persons by the current blind index only: while old keys are
    configured it refuses to start, so nobody is imported twice."""
    from fangkong.residents.models import ImportJob
    from tests.test_import import csv_bytes, row, upload

    cast = build_cast()
    login(cast.committee_a)
    assert upload(client, cast, csv_bytes([row(501)])).status_code == 302
    job = ImportJob.objects.latest("pk")
    key_a.KEY_ID, key_a.DATA_KEY, key_a.INDEX_KEY, key_a.OLD_KEYS = 2, B, IB, {1: (A, IA)}
    post = {f"col_{k}": v for k, v in job.mapping.items()}
    resp = client.post(f"/residents/import/{job.pk}/start/", post)
    assert "密钥轮换正在进行" in resp.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED
