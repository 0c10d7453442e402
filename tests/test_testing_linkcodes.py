"""A resident's personal-link QR code carries a statement signed with the passes' keys
(accounts.linkcodes), so a registrar's phone verifies it offline; the server takes the
signed form and the older plain one (address or bare token), and refuses a forged, altered,
moved (another token's), expired or withdrawn one."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from fangkong.accounts import linkcodes
from fangkong.accounts.actions import issue_resident_link
from fangkong.accounts.models import ResidentLink
from fangkong.lib.identity import mask_name
from fangkong.passes import tokens
from fangkong.testing.models import Registration
from tests.test_testing import _api, world  # noqa: F401


def _code(token: str) -> str:
    return linkcodes.qr_text("https://fk.example" + reverse("resident_home", kwargs={"token": token}), token)


def _register(client, site, code, tube="L0001"):
    return _api(client, f"/api/testing/sites/{site.pk}/registrations", {"client_id": str(uuid.uuid4()), "tube": tube, "code": code})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
def test_signed_link_code_carries_the_person_and_the_server_takes_it_and_the_plain_form(cast, world):
    tokens.clear_cache()
    site = world["site"]
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    code = _code(token)
    url, statement = code.split("#")
    assert url.endswith(f"/r/{token}/") and statement.startswith("FKL1.")
    claims = linkcodes.verify(statement, token=token)
    link = ResidentLink.objects.get(person=cast.person_a1, revoked_at__isnull=True)
    assert (claims.person_id, claims.link_id, claims.expires, claims.issued) == (
        cast.person_a1.pk, link.pk, int(link.expires_at.timestamp()), int(link.created_at.timestamp()))
    assert claims.masked == mask_name(cast.person_a1.name) and cast.ids["person_a1"] not in code
    assert claims.kid in tokens.public_keys()  # the passes' key family: the same trust material
    # Expired statements are refused; a pass code is not a link statement, nor the reverse.
    with pytest.raises(tokens.TokenError) as exc:
        linkcodes.verify(statement, token=token, now=claims.expires + 1)
    assert exc.value.code == "expired"
    with pytest.raises(tokens.TokenError) as exc:
        tokens.verify(statement)
    assert exc.value.code == "malformed"

    client = Client()
    client.force_login(world["registrar"])
    resp = _register(client, site, code)
    assert resp.status_code == 201, resp.content
    assert resp.json()["name"] == cast.person_a1.name
    # The older forms: the plain address and the bare token.
    token2 = issue_resident_link(acting_user=None, person=cast.person_a2)
    plain = "https://fk.example" + reverse("resident_home", kwargs={"token": token2})
    assert _register(client, site, plain).status_code == 201
    from tests.cast import add_person

    p3 = add_person(cast, "lk3", name="链接三号", seq=310, household=cast.hh_a1)
    assert _register(client, site, issue_resident_link(acting_user=None, person=p3)).status_code == 201
    regs = Registration.objects.order_by("id")
    assert [(r.person_id, r.via) for r in regs] == [(cast.person_a1.pk, "link"), (cast.person_a2.pk, "link"), (p3.pk, "link")]


@pytest.mark.django_db
def test_forged_altered_moved_and_withdrawn_link_codes_are_refused_and_the_roster_lists_withdrawn_links(cast, world):
    tokens.clear_cache()
    site = world["site"]
    client = Client()
    client.force_login(world["registrar"])
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    code = _code(token)
    url, statement = code.split("#")
    head, body, sig = statement.split(".")
    forged = f"{url}#{head}.{body}.{('B' if sig[0] == 'A' else 'A') + sig[1:]}"
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    altered = f"{url}#{head}.{_b64({**data, 'p': cast.person_a2.pk})}.{sig}"
    token2 = issue_resident_link(acting_user=None, person=cast.person_a2)
    moved = "https://fk.example" + reverse("resident_home", kwargs={"token": token2}) + "#" + statement
    for bad, reason in ((forged, "bad_signature"), (altered, "bad_signature"), (moved, "bad_signature")):
        with pytest.raises(tokens.TokenError) as exc:
            _tok, st = linkcodes.split(bad)
            linkcodes.verify(st, token=_tok)
        assert exc.value.code == reason
        resp = _register(client, site, bad)
        assert resp.status_code == 422, resp.content
        assert [d["field"] for d in resp.json()["detail"]] == ["code"]
    assert Registration.objects.count() == 0

    # Withdrawn: a new link for the person revokes the old one; its code is refused by the
    # server, and the roster's revocation list names it for the phones.
    old = ResidentLink.objects.get(person=cast.person_a1, revoked_at__isnull=True)
    issue_resident_link(acting_user=None, person=cast.person_a1)
    assert _register(client, site, code).status_code == 422
    roster = client.get(f"/api/testing/sites/{site.pk}/roster").json()
    assert roster["trust"]["revoked_links"] == [old.pk]
    assert set(roster["trust"]["keys"]) == set(tokens.public_keys())
    assert Registration.objects.count() == 0
    # The person's new link code is taken.
    assert linkcodes.revoked_ids() == [old.pk]


@pytest.mark.django_db
def test_the_personal_link_page_puts_the_signed_code_in_the_qr(cast, monkeypatch):
    import segno

    made = []
    real = segno.make
    monkeypatch.setattr(segno, "make", lambda content, **kw: made.append(content) or real(content, **kw))
    client = Client()
    client.force_login(cast.committee_a)
    resp = client.post(reverse("person_link", args=[cast.person_a1.pk]))
    assert resp.status_code == 200
    (content,) = made
    token, statement = linkcodes.split(content)
    assert token and linkcodes.verify(statement, token=token).person_id == cast.person_a1.pk
    assert content.split("#")[0] in resp.content.decode()  # the address shown is the QR's, without the statement
    # Wrong role: a gate guard may not issue links (403); another community's person: 404.
    client.force_login(cast.guard_a)
    assert client.post(reverse("person_link", args=[cast.person_a1.pk])).status_code == 403
    client.force_login(cast.committee_a)
    assert client.post(reverse("person_link", args=[cast.person_b1.pk])).status_code == 404
