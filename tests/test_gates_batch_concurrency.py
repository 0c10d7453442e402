"""The batch gate endpoint under concurrency: its reply says exactly what this call stored.

A device that lost the answer to its sync sends the same queue again while the first send
is still running (two gates syncing one shared queue do the same). Each reply must count
the entries that call stored, so that the counts of all replies add up to the rows in the
table, and every entry is accepted by every reply."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.gates import actions
from fangkong.clinic.models import Visit as Triage  # a fever at the gate opens a clinic triage visit
from fangkong.gates.models import GateEntry

BATCH = "/api/gates/entries/batch"
SENDERS = 4


def _entries(cast, n):
    now = timezone.now().isoformat()
    return [{"client_id": str(uuid.uuid4()), "place": cast.compound_a1.pk, "direction": "in", "subject": "person",
             "token": "", "temperature": "38.5" if i % 10 == 0 else "36.5", "occurred_at": now, "offline": True,
             "decision": "allowed"} for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_identical_batches_sent_at_once_report_together_exactly_what_was_stored(cast, monkeypatch):
    items = _entries(cast, 50)
    signed_in = Client()
    signed_in.force_login(cast.guard_a)
    cookies = signed_in.cookies
    # Every sender has read which entries are stored already before any of them writes:
    # the moment at which the over-report happened (each believed all 50 were its own).
    all_checked = threading.Barrier(SENDERS)
    build = actions._build
    waited = threading.local()

    def build_after_all_checked(*args, **kwargs):
        if not getattr(waited, "done", False):
            waited.done = True
            all_checked.wait(timeout=60)
        return build(*args, **kwargs)

    monkeypatch.setattr(actions, "_build", build_after_all_checked)
    replies, errors = [], []

    def send():
        try:
            client = Client()
            client.cookies = cookies
            resp = client.post(BATCH, data=json.dumps({"entries": items}), content_type="application/json")
            replies.append((resp.status_code, resp.json()))
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert [code for code, _ in replies] == [200] * SENDERS, replies
    assert GateEntry.objects.count() == 50 and Triage.objects.count() == 5
    assert sum(body["stored"] for _, body in replies) == 50, [(b["stored"], b["duplicates"]) for _, b in replies]
    for _, body in replies:
        assert body["stored"] + body["duplicates"] == 50 and not body["rejected"]
        assert sorted(body["accepted"]) == sorted(e["client_id"] for e in items)
    # The audit trail says the same: each batch event counts what that call stored.
    audited = [e.detail for e in AuditEvent.objects.filter(action="gates.batch")]
    assert sum(d["stored"] for d in audited) == 50 and sum(d["fevers"] for d in audited) == 5


@pytest.mark.django_db(transaction=True)
def test_an_entry_id_taken_at_another_checkpoint_meanwhile_is_rejected_not_accepted(cast, monkeypatch):
    """A batch whose entry id another send stored in between for another checkpoint: the
    reply rejects that entry (as a resend would be), it does not call it a duplicate."""
    from fangkong.places.actions import create_place

    other = create_place(acting_user=None, kind="checkpoint", name="甲卡口", code="A1K", parent=cast.grid_a1)
    from fangkong.accounts.actions import add_grant

    add_grant(acting_user=None, user=cast.guard_a, role="gate_guard", target=other)
    items = _entries(cast, 3)
    taken = dict(items[0], place=other.pk)
    build = actions._build
    done = []

    def build_then_other_send(*args, **kwargs):
        if not done:  # after this call's check, another send stores entry 0 at the other checkpoint
            done.append(1)
            actions.record_entry(acting_user=cast.guard_a, data=taken)
        return build(*args, **kwargs)

    monkeypatch.setattr(actions, "_build", build_then_other_send)
    client = Client()
    client.force_login(cast.guard_a)
    body = client.post(BATCH, data=json.dumps({"entries": items}), content_type="application/json").json()
    assert body["stored"] == 2 and body["duplicates"] == 0
    assert [r["client_id"] for r in body["rejected"]] == [items[0]["client_id"]]
    assert items[0]["client_id"] not in body["accepted"]
    assert GateEntry.objects.get(client_id=items[0]["client_id"]).place_id == other.pk
