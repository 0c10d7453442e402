"""The passes' per-process caches across servers (issue 22, item 1): each app server keeps
the trusted key list (tokens._KEY_TTL, 60 s) and the revocation list
(PASSES_REVOCATION_CACHE_SECONDS, 5 s) in its own memory. A revocation or a key revocation
made on ANOTHER server (here: written to the database without this process's knowledge, as
that server's request does) is seen here once the cache's time is up, not before: the bound
the README's production layout states."""
from __future__ import annotations

import time
import types

import pytest
from django.utils import timezone

from fangkong.passes import actions, tokens
from fangkong.passes.models import Pass, SigningKey


class Clock:
    def __init__(self):
        self.t = 1000.0

    def monotonic(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    fake = types.SimpleNamespace(monotonic=c.monotonic, time=time.time)
    monkeypatch.setattr(actions, "time", fake)
    monkeypatch.setattr(tokens, "time", fake)
    actions.clear_revocation_cache()
    tokens.clear_cache()
    yield c
    actions.clear_revocation_cache()
    tokens.clear_cache()


def _refused(token):
    try:
        actions.check_token(token)
    except tokens.TokenError as exc:
        return exc.code
    return None


@pytest.mark.django_db
def test_a_revocation_on_another_server_is_seen_within_the_ttl(cast, clock, settings):
    settings.PASSES_REVOCATION_CACHE_SECONDS = 5
    pass_, token = actions.issue_resident_pass(acting_user=cast.committee_a, person=cast.person_a1)
    assert _refused(token) is None  # this server has read the revocation list
    Pass.objects.filter(pk=pass_.pk).update(state=Pass.State.REVOKED)  # the other server's revocation
    clock.t += 4.9
    assert _refused(token) is None  # within the TTL this server's list is still the old one
    clock.t += 0.2
    assert _refused(token) == "revoked"


@pytest.mark.django_db
def test_a_key_revoked_on_another_server_is_refused_within_the_key_ttl(cast, clock):
    pass_, token = actions.issue_resident_pass(acting_user=cast.committee_a, person=cast.person_a1)
    assert _refused(token) is None
    kid = tokens.verify(token).kid
    SigningKey.objects.filter(kid=kid).update(revoked_at=timezone.now(), active=False)  # the other server
    clock.t += tokens._KEY_TTL - 0.1
    assert _refused(token) is None
    clock.t += 0.2
    assert _refused(token) == "unknown_key"
