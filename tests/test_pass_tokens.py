"""Pass tokens (M6): Ed25519-signed, compact, verifiable offline; every kind of bad token
is refused with its reason."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings as hsettings, strategies as st

from fangkong.passes import tokens
from fangkong.passes.models import SigningKey


@pytest.fixture(autouse=True)
def _fresh_cache():
    tokens.clear_cache()
    yield
    tokens.clear_cache()


def soon(minutes=5):
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)


def make(**kw):
    args = {"pass_id": 42, "kind": "resident", "colour": "green", "masked": "季*明", "expires_at": soon()}
    args.update(kw)
    return tokens.sign(**args)


def refused(token) -> str:
    with pytest.raises(tokens.TokenError) as exc:
        tokens.verify(token)
    return exc.value.code


@pytest.mark.django_db
def test_round_trip_is_compact_and_offline_verifiable():
    token = make()
    assert token.startswith("FK1.") and len(token) < 220 and token.isascii()
    claims = tokens.verify(token)
    assert (claims.pass_id, claims.kind, claims.colour, claims.masked) == (42, "resident", "green", "季*明")
    # What a gate does with GET /api/passes/keys: the raw public key verifies the signature alone.
    body, sig = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(tokens.public_keys()[claims.kid] + "==")
    Ed25519PublicKey.from_public_bytes(raw).verify(base64.urlsafe_b64decode(sig + "=="), body.encode())
    # The private key is stored only encrypted.
    key = SigningKey.objects.get()
    _kid, private = tokens._signer()
    raw = private.private_bytes_raw()
    blob = bytes(key.private_key_enc)
    assert raw not in blob and raw.hex().encode() not in blob and len(blob) > len(raw)


@pytest.mark.django_db
def test_forged_expired_other_key_and_revoked_key_are_refused():
    token = make()
    prefix, payload, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["c"] = "g" if data["c"] != "g" else "y"  # a red pass repainted
    forged = ".".join([prefix, base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode(), sig])
    assert refused(forged) == "bad_signature"
    assert refused(make(expires_at=soon(-1))) == "expired"
    # Signed by a key the platform never issued, under a made-up kid and under the real kid.
    stranger = Ed25519PrivateKey.generate()
    for kid in ("deadbeef", data["k"]):
        body = "FK1." + base64.urlsafe_b64encode(json.dumps({**data, "k": kid}).encode()).rstrip(b"=").decode()
        other = body + "." + base64.urlsafe_b64encode(stranger.sign(body.encode())).rstrip(b"=").decode()
        assert refused(other) in ("unknown_key", "bad_signature")
    # Rotation: old tokens still verify; revoking the old key refuses them.
    old_kid = tokens.verify(token).kid
    new_kid = tokens.rotate_key()
    assert new_kid != old_kid and tokens.verify(token).kid == old_kid and tokens.verify(make()).kid == new_kid
    tokens.revoke_key(old_kid)
    assert refused(token) == "unknown_key"
    assert set(tokens.public_keys()) == {new_kid}
    for bad in ("", "FK1", "FK1.a.b", "FK2." + token[4:], token + "x", "x" * 700):
        assert refused(bad) in ("malformed", "bad_signature")


@pytest.mark.django_db
@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_input_is_a_token_error_never_a_crash(text):
    try:
        tokens.verify(text)
    except tokens.TokenError as exc:
        assert exc.code in tokens.TokenError.MESSAGES


@pytest.mark.django_db
@hsettings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["k", "p", "t", "c", "e", "n", "x"]),
                       st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.none(),
                                 st.lists(st.integers(), max_size=3)), max_size=7))
def test_any_signed_looking_payload_is_a_token_error_never_a_crash(payload):
    """Payloads that decode as JSON reach the field checks: 1e400, NaN, strings, lists."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    token = f"FK1.{body}.{base64.urlsafe_b64encode(bytes(64)).rstrip(b'=').decode()}"
    try:
        tokens.verify(token)
    except tokens.TokenError as exc:
        assert exc.code in tokens.TokenError.MESSAGES
    huge = "FK1." + base64.urlsafe_b64encode(b'{"k":"a","p":1e400,"t":"r","c":"g","e":1e400,"n":"x"}').rstrip(b"=").decode()
    with pytest.raises(tokens.TokenError):
        tokens.verify(huge + "." + base64.urlsafe_b64encode(bytes(64)).rstrip(b"=").decode())
