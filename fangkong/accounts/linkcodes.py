"""A resident's personal-link QR code, verifiable offline by its signature.

The link itself is a random token (only its hash is stored: accounts.models.ResidentLink).
Its QR code carries the link's address with a signed statement in the fragment:

    https://<public address>/r/<token>/#FKL1.<payload>.<signature>

A browser opening the address sends no fragment (the resident's page works as before); a
registrar's phone with no server verifies the statement with the passes' public keys (the
same trust material as pass codes: gates.passcheck.trust()), as it verifies a pass code:

payload = base64url (no padding) of compact JSON with sorted keys:
    k  key id (the passes' signing key that signed)     l  the link's id
    p  the person's id (the roster's handle)            i  issued, Unix seconds
    e  expiry (the link's), Unix seconds                n  masked name (季*明)
    t  base64url of the first 16 bytes of SHA-256(token): binds the statement to the
       token beside it (a statement moved onto another token does not verify)
signature = Ed25519 over the ASCII bytes "FKL1.<payload>" (passes.tokens.sign_statement).

A link revoked (staff withdrew it, or a new link replaced it) before its expiry is listed
by id in the roster's revocation list (revoked_ids). The server accepts the plain form
(address or bare token) as before; a code with a statement is refused when the statement
is forged, altered, expired or not the token's.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from django.utils import timezone

from fangkong.lib.identity import mask_name
from fangkong.passes import tokens

PREFIX = "FKL1"
TOKEN_IN_CODE = re.compile(r"/r/([A-Za-z0-9_\-]{16,100})/?")


@dataclass(frozen=True)
class LinkClaims:
    kid: str
    link_id: int
    person_id: int
    issued: int
    expires: int
    masked: str
    digest: str


def token_digest(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()[:16]).rstrip(b"=").decode("ascii")


def statement_for(token: str) -> str | None:
    """The signed statement of the link `token` (None: no such link)."""
    from .actions import _token_hash
    from .models import ResidentLink

    link = ResidentLink.objects.select_related("person").filter(token_hash=_token_hash(token)).first()
    if link is None:
        return None
    return tokens.sign_statement(PREFIX, {
        "l": link.pk, "p": link.person_id, "i": int(link.created_at.timestamp()), "e": int(link.expires_at.timestamp()),
        "n": mask_name(link.person.name), "t": token_digest(token)})


def qr_text(url: str, token: str) -> str:
    """What the personal link's QR code holds: its address with the signed statement."""
    statement = statement_for(token)
    return f"{url}#{statement}" if statement else url


def split(code: str) -> tuple[str | None, str | None]:
    """(token, statement) of a scanned code: an address or bare token, with or without
    the statement after '#'."""
    code = (code or "").strip()
    head, _sep, statement = code.partition("#")
    m = TOKEN_IN_CODE.search(head)
    token = m.group(1) if m else (head if head and "." not in head and 16 <= len(head) <= 100 else None)
    return token, (statement or None)


def verify(statement: str, *, token: str | None = None, now: float | None = None) -> LinkClaims:
    """The claims of a statement signed by a trusted key, unexpired, and (given `token`)
    made for that token; else TokenError (malformed, unknown_key, bad_signature, expired)."""
    data = tokens.verify_statement(statement, PREFIX)
    try:
        ints = [data[f] for f in ("l", "p", "i", "e")]
        if any(type(v) is not int or not 0 <= v < 2**62 for v in ints) or not isinstance(data.get("t"), str):
            raise ValueError
        claims = LinkClaims(kid=data["k"], link_id=data["l"], person_id=data["p"], issued=data["i"], expires=data["e"],
                            masked=str(data.get("n", ""))[:50], digest=data["t"])
    except (KeyError, ValueError, TypeError):
        raise tokens.TokenError("malformed") from None
    if token is not None and token_digest(token) != claims.digest:
        raise tokens.TokenError("bad_signature")
    if claims.expires <= (now if now is not None else timezone.now().timestamp()):
        raise tokens.TokenError("expired")
    return claims


def revoked_ids() -> list[int]:
    """Ids of links revoked before their expiry, which has not come yet: what a device needs
    to refuse their codes offline (an expired link's code is refused by its expiry)."""
    from .models import ResidentLink

    return list(ResidentLink.objects.filter(revoked_at__isnull=False, expires_at__gt=timezone.now())
                .order_by("pk").values_list("pk", flat=True))
