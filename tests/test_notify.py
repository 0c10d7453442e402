"""Notifications through HTTP with the fixed cast: alerts land in the inboxes of the people
responsible for the place (and nobody else's), webhooks in the DingTalk and WeCom robot
formats reach a local HTTP server with retries, e-mail goes through the locmem backend."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.notify import actions, tasks
from fangkong.notify.models import Channel, Delivery, DeliveryAttempt, Message, Recipient
from fangkong.places import access
from tests.cast import make_id, make_phone

D = Delivery.State

# Test permissions held by exactly the roles these tests address (messages go to the
# holders of permissions, never to roles by name).
GRID, MEDIC, STAFF = "notifytest.grid", "notifytest.medic", "notifytest.staff"
if GRID not in access.all_perms():
    access.declare(perms={GRID: {"grid_worker"}, MEDIC: {"medic"}, STAFF: {"medic", "committee", "commander"}})


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


# --- A local robot server ------------------------------------------------------------------

class Robot:
    """http.server on 127.0.0.1 (port 0) answering queued (status, body) pairs, recording
    each request's path, query and JSON body."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, dict]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urllib.parse.urlsplit(self.path)
                robot.requests.append({"path": parts.path, "query": urllib.parse.parse_qs(parts.query),
                                       "raw_query": parts.query, "json": json.loads(raw.decode()),
                                       "content_type": self.headers.get("Content-Type")})
                status, body = robot.replies.pop(0) if robot.replies else (200, {"errcode": 0, "errmsg": "ok"})
                out = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    r = Robot()
    yield r
    r.close()


def free_port() -> int:
    """A port on 127.0.0.1 with nobody listening (connection refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_channel(cast, *, kind, target, place=None, secret="", kinds="", roles=()):
    return actions.create_channel(acting_user=cast.admin, name=f"{kind}-通道", kind=kind, place=place or cast.comm_a,
                                  target=target, secret=secret, kinds=kinds, roles=roles)


def fever_alert(cast, obj_id=1):
    return registry.Alert(kind="gate.fever", place_path=cast.compound_a1.path, text="甲一小区门岗：靶*甲 体温 38.1 ℃",
                          perms=("observation.alerted",), obj_type="gates.entry", obj_id=obj_id)


def make_due(delivery: Delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timezone.timedelta(seconds=1))


@pytest.fixture(autouse=True)
def only_the_alerts_raised_here(monkeypatch):
    """These tests follow one alert through the inbox and the channels: other modules'
    listeners (a fever also starts a disinfection case round, with its own alert) are
    switched off so that each message and delivery here is the test's own."""
    from fangkong.disinfection import contributions

    monkeypatch.setattr(registry, "_SINKS", [s for s in registry._SINKS
                                             if getattr(s, "__module__", "") != contributions.__name__])


# --- Inbox ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_alert_reaches_grid_worker_and_medic_of_the_place_only(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        registry.raise_alert(fever_alert(cast))
    msg = Message.objects.get()
    assert msg.kind == "gate.fever" and msg.title == "门岗发现发热" and msg.place_path == cast.compound_a1.path
    got = set(Recipient.objects.filter(message=msg).values_list("user__username", flat=True))
    assert got == {"worker_a1", "medic_a"}  # not worker_b1, not committee/commander/admin

    # The grid worker sees it on /inbox/ with the unread count in the header; B's does not.
    html = as_user(cast.worker_a1).get("/inbox/").content.decode()
    assert "门岗发现发热" in html and "体温 38.1" in html and 'class="unread-count">1<' in html
    other = as_user(cast.worker_b1).get("/inbox/").content.decode()
    assert "门岗发现发热" not in other and "unread-count" not in other

    # ... and through the API.
    data = as_user(cast.medic_a).get("/api/inbox").json()
    assert data["unread"] == 1 and [i["title"] for i in data["items"]] == ["门岗发现发热"]
    assert as_user(cast.worker_b1).get("/api/inbox").json() == {"unread": 0, "items": []}
    assert Client().get("/api/inbox").status_code == 401
    assert Client().get("/inbox/").status_code == 302

    # The same alert again (same kind and object): no second message.
    registry.raise_alert(fever_alert(cast))
    assert Message.objects.count() == 1 and Recipient.objects.count() == 2


@pytest.mark.django_db
def test_mark_read_own_rows_only(cast):
    msg = actions.notify(kind="test.note", title="通知一", body="正文", place_path=cast.grid_a1.path, perms=(GRID,),
                         users=[cast.committee_a])
    actions.notify(kind="test.note", title="通知二", body="正文", place_path=cast.grid_a1.path, perms=(GRID,))
    mine = Recipient.objects.get(message=msg, user=cast.worker_a1)
    theirs = Recipient.objects.get(message=msg, user=cast.committee_a)

    worker = as_user(cast.worker_a1)
    # Someone else's row: 404 by page and by API, and nothing changes.
    assert worker.post("/inbox/read/", {"id": theirs.pk}).status_code == 404
    assert worker.post("/api/inbox/read", json.dumps({"ids": [theirs.pk]}), content_type="application/json").status_code == 404
    assert worker.post("/inbox/read/", {"id": [mine.pk, theirs.pk]}).status_code == 404
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.read_at is None and mine.read_at is None
    assert worker.post("/inbox/read/", {}).status_code == 400
    assert worker.get("/inbox/read/").status_code == 405

    # Unread first: the unread second message above the first once that is read.
    assert worker.post("/inbox/read/", {"id": mine.pk}).status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None
    titles = [i["title"] for i in worker.get("/api/inbox").json()["items"]]
    assert titles == ["通知二", "通知一"]
    html = worker.get("/inbox/").content.decode()
    assert html.index("通知二") < html.index("通知一")

    r = worker.post("/api/inbox/read", json.dumps({"all": True}), content_type="application/json")
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 0}
    assert Recipient.objects.filter(user=cast.worker_a1, read_at__isnull=True).count() == 0
    assert Recipient.objects.get(pk=theirs.pk).read_at is None
    assert AuditEvent.objects.filter(action="notify.read", user__username="worker_a1").exists()

    committee = as_user(cast.committee_a)
    assert committee.post("/inbox/read/", {"all": "1"}).status_code == 302
    assert Recipient.objects.get(pk=theirs.pk).read_at is not None


@pytest.mark.django_db
def test_message_text_is_masked_and_admin_not_spammed(cast):
    raw_id, raw_phone = make_id(7), make_phone(7)
    msg = actions.notify(kind="test.note", title=f"电话 {raw_phone}", body=f"身份证 {raw_id}", place_path=cast.grid_a1.path,
                         perms=(GRID,))
    assert raw_phone not in msg.title and raw_id not in msg.body
    assert msg.title == f"电话 {raw_phone[:3]}****{raw_phone[-4:]}"
    assert set(msg.recipients.values_list("user__username", flat=True)) == {"worker_a1"}
    # A grant higher up the tree covers the place; an inactive user or grant does not.
    cast.medic_a.is_active = False
    cast.medic_a.save()
    msg2 = actions.notify(kind="test.note", title="t", body="b", place_path=cast.compound_a1.path,
                          perms=(STAFF,))
    assert set(msg2.recipients.values_list("user__username", flat=True)) == {"committee_a", "commander"}


@pytest.mark.django_db
def test_dedupe_key_one_message(cast, robot, django_capture_on_commit_callbacks):
    make_channel(cast, kind="wecom", target=robot.url("/wecom"))
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.notify(kind="test.note", title="t", body="b", place_path=cast.grid_a1.path, perms=(GRID,),
                               dedupe_key="k-1")
    with django_capture_on_commit_callbacks(execute=True):
        again = actions.notify(kind="test.note", title="t2", body="b2", place_path=cast.grid_a1.path, perms=(GRID,),
                               dedupe_key="k-1")
    assert again.pk == first.pk and again.title == "t"
    assert Message.objects.count() == 1 and Recipient.objects.count() == 1 and Delivery.objects.count() == 1
    assert len(robot.requests) == 1


# --- Webhooks -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_dingtalk_format_sign_and_retry_after_500(cast, robot, django_capture_on_commit_callbacks):
    secret = "SEC0123456789abcdef"
    channel = make_channel(cast, kind="dingtalk", target=robot.url("/robot/send?access_token=tok123"), secret=secret)
    make_channel(cast, kind="wecom", target=robot.url("/other"), place=cast.comm_b)  # community B's: not for A's alerts
    robot.replies = [(500, {"errcode": 500, "errmsg": "busy"}), (200, {"errcode": 0, "errmsg": "ok"})]

    with django_capture_on_commit_callbacks(execute=True):
        registry.raise_alert(fever_alert(cast))
    delivery = Delivery.objects.get()
    assert delivery.channel == channel
    assert delivery.state == D.FAILED and delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.next_attempt_at > timezone.now()  # backed off

    req = robot.requests[0]
    assert req["path"] == "/robot/send" and req["query"]["access_token"] == ["tok123"]
    assert req["content_type"].startswith("application/json")
    assert req["json"] == {"msgtype": "markdown", "markdown": {
        "title": "门岗发现发热", "text": "### 门岗发现发热\n\n甲一小区门岗：靶*甲 体温 38.1 ℃"}}
    ts = req["query"]["timestamp"][0]
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    assert req["query"]["sign"] == [expected]
    assert "sign=" + urllib.parse.quote_plus(expected) in req["raw_query"]  # URL-encoded on the wire
    assert abs(int(ts) - timezone.now().timestamp() * 1000) < 60_000

    # Not due yet: the periodic task leaves it alone.
    assert tasks.requeue_due_deliveries.call_local() == 0
    assert len(robot.requests) == 1
    make_due(delivery)
    assert tasks.requeue_due_deliveries.call_local() == 1
    delivery.refresh_from_db()
    assert delivery.state == D.SENT and delivery.attempts == 2 and delivery.sent_at and delivery.last_status_code == 200
    assert delivery.last_error == "" and delivery.next_attempt_at is None
    log = list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "ok", "status_code"))
    assert log == [(1, False, 500), (2, True, 200)]
    assert len(robot.requests) == 2
    # Sent stays sent: a stray task for it does nothing.
    tasks.deliver.call_local(delivery.pk)
    assert len(robot.requests) == 2

    # The admin sees the attempts on the delivery page.
    html = as_user(cast.admin).get(f"/notify/deliveries/{delivery.pk}/").content.decode()
    assert "500" in html and "tok123" not in html


@pytest.mark.django_db
@override_settings(NOTIFY_BASE_URL="https://fk.example.gov.cn/")
def test_wecom_format_and_errcode_is_failure(cast, robot, django_capture_on_commit_callbacks):
    make_channel(cast, kind="wecom", target=robot.url("/cgi-bin/webhook/send?key=abc"), kinds="gate.*", roles=("medic",))
    robot.replies = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    with django_capture_on_commit_callbacks(execute=True):
        actions.notify(kind="observation.fever", title="x", body="y", place_path=cast.grid_a1.path, perms=(MEDIC,))
        msg = actions.notify(kind="gate.fever", title="发热", body="体温 38.5", place_path=cast.grid_a1.path,
                             perms=(MEDIC,), link="/inbox/")
        actions.notify(kind="gate.fever", title="x", body="y", place_path=cast.grid_a1.path, perms=(GRID,))
    delivery = Delivery.objects.get()  # the other two do not match the channel's kinds / roles
    assert delivery.message == msg
    assert robot.requests[0]["json"] == {"msgtype": "markdown", "markdown": {"content": "### 发热\n体温 38.5\n[https://fk.example.gov.cn/inbox/](https://fk.example.gov.cn/inbox/)"}}
    assert robot.requests[0]["query"] == {"key": ["abc"]}
    delivery.refresh_from_db()
    assert delivery.state == D.FAILED and delivery.last_status_code == 200 and "93000" in delivery.last_error
    assert DeliveryAttempt.objects.get(delivery=delivery).ok is False

    # The admin page lists it among the failures; the channels API counts it.
    html = as_user(cast.admin).get("/notify/channels/").content.decode()
    assert "93000" in html and "abc" not in html  # the webhook key is never shown
    chans = as_user(cast.admin).get("/api/notify/channels").json()
    assert chans[0]["pending"] == 1 and chans[0]["target"].endswith("/cgi-bin/webhook/send?…")


@pytest.mark.django_db
def test_unreachable_is_dead_after_max_attempts_then_admin_retries(cast, robot, django_capture_on_commit_callbacks):
    dead_url = f"http://127.0.0.1:{free_port()}/robot/send?access_token=t"
    make_channel(cast, kind="dingtalk", target=dead_url)
    with django_capture_on_commit_callbacks(execute=True):
        actions.notify(kind="gate.fever", title="t", body="b", place_path=cast.grid_a1.path, perms=(MEDIC,), link="/inbox/")
    delivery = Delivery.objects.get()
    for n in range(2, 6):
        delivery.refresh_from_db()
        assert delivery.state == D.FAILED and delivery.attempts == n - 1
        make_due(delivery)
        tasks.requeue_due_deliveries.call_local()
    delivery.refresh_from_db()
    assert delivery.state == D.DEAD and delivery.attempts == 5 and delivery.next_attempt_at is None
    assert delivery.last_status_code is None and "Connection" in delivery.last_error
    assert DeliveryAttempt.objects.filter(delivery=delivery, ok=False).count() == 5
    assert tasks.requeue_due_deliveries.call_local() == 0  # dead is not retried by itself
    assert AuditEvent.objects.filter(action="notify.delivery_dead").exists()

    admin = as_user(cast.admin)
    page = admin.get("/notify/channels/").content.decode()
    assert f"/notify/deliveries/{delivery.pk}/retry/" in page
    assert as_user(cast.committee_a).post(f"/notify/deliveries/{delivery.pk}/retry/").status_code == 403

    # The admin points the channel at the working robot and retries: sent.
    Channel.objects.filter(pk=delivery.channel_id).update(target=robot.url("/robot/send?access_token=t"))
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(f"/notify/deliveries/{delivery.pk}/retry/").status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == D.SENT and delivery.attempts == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 6
    assert robot.requests[0]["json"]["markdown"]["text"] == "### t\n\nb"


@pytest.mark.django_db
def test_periodic_task_sends_what_the_worker_missed(cast, robot):
    """The worker was down (or the enqueue was lost) when the message was created: no
    on-commit callback ran, and the minute task sends it."""
    make_channel(cast, kind="wecom", target=robot.url("/hook"))
    actions.notify(kind="test.note", title="t", body="b", place_path=cast.grid_a1.path)  # callbacks not run
    delivery = Delivery.objects.get()
    assert delivery.state == D.PENDING and robot.requests == []
    assert tasks.requeue_due_deliveries.call_local() == 1
    delivery.refresh_from_db()
    assert delivery.state == D.SENT and len(robot.requests) == 1
    assert tasks.requeue_due_deliveries.call_local() == 0


@pytest.mark.django_db
def test_attempt_claims_once(cast, robot):
    """A delivery being attempted is leased: a second task for it in the meantime is a no-op."""
    make_channel(cast, kind="wecom", target=robot.url("/hook"))
    actions.notify(kind="test.note", title="t", body="b", place_path=cast.grid_a1.path)
    delivery = Delivery.objects.get()
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(attempts=1, next_attempt_at=now + actions.LEASE)  # another worker has it
    assert actions.attempt_delivery(delivery_id=delivery.pk) is None
    assert actions.due_deliveries() == []
    assert actions.attempt_delivery(delivery_id=delivery.pk, now=now + actions.LEASE * 2).state == D.SENT  # lease ran out


# --- E-mail ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_email_channel_through_locmem(cast, django_capture_on_commit_callbacks):
    make_channel(cast, kind="email", target="duty@example.gov.cn")
    with django_capture_on_commit_callbacks(execute=True):
        registry.raise_alert(fever_alert(cast, obj_id=9))
    assert len(mail.outbox) == 1
    m = mail.outbox[0]
    assert m.subject == "门岗发现发热" and m.to == ["duty@example.gov.cn"] and "体温 38.1" in m.body
    assert Delivery.objects.get().state == D.SENT


# --- Channels page --------------------------------------------------------------------------

@pytest.mark.django_db
def test_channels_page_create_deactivate(cast):
    admin = as_user(cast.admin)
    assert admin.get("/notify/channels/").status_code == 200
    for user in (cast.committee_a, cast.commander, cast.worker_a1):
        assert as_user(user).get("/notify/channels/").status_code == 403

    bad = admin.post("/notify/channels/", {"name": "x", "kind": "dingtalk", "place": cast.comm_a.pk, "target": "file:///etc/passwd"})
    assert bad.status_code == 400 and Channel.objects.count() == 0
    bad = admin.post("/notify/channels/", {"name": "x", "kind": "wecom", "place": cast.comm_a.pk,
                                            "target": "http://127.0.0.1:1/x", "secret": "s"})
    assert bad.status_code == 400 and "签名密钥" in bad.content.decode()
    resp = admin.post("/notify/channels/", {"name": "甲社区钉钉群", "kind": "dingtalk", "place": cast.comm_a.pk,
                                             "target": "http://127.0.0.1:1/robot/send?access_token=zzz", "secret": "SECabc",
                                             "kinds": "gate.fever, observation.*", "roles": ["grid_worker", "medic"]})
    assert resp.status_code == 302
    ch = Channel.objects.get()
    assert ch.place_path == cast.comm_a.path and ch.kind_list == ["gate.fever", "observation.*"]
    assert ch.role_list == ["grid_worker", "medic"] and b"SECabc" not in bytes(ch.secret)
    assert actions.channel_secret(ch) == "SECabc"
    page = admin.get("/notify/channels/").content.decode()
    assert "甲社区钉钉群" in page and "zzz" not in page and "SECabc" not in page
    assert admin.get("/api/notify/channels").json()[0]["signed"] is True
    assert as_user(cast.committee_a).get("/api/notify/channels").status_code == 403

    assert admin.post(f"/notify/channels/{ch.pk}/active/").status_code == 302
    ch.refresh_from_db()
    assert ch.active is False
    actions.notify(kind="gate.fever", title="t", body="b", place_path=cast.grid_a1.path, perms=(MEDIC,))
    assert Delivery.objects.count() == 0  # inactive channels get nothing
    assert AuditEvent.objects.filter(action="notify.channel_deactivate").exists()


@pytest.mark.django_db
def test_unsafe_links_dropped_and_failing_sink_does_not_break_the_caller(cast, monkeypatch):
    assert actions.notify(kind="t", title="t", body="b", place_path=cast.grid_a1.path, link="javascript:alert(1)").link == ""
    assert actions.notify(kind="t", title="t", body="b", place_path=cast.grid_a1.path, link="//evil.example/x").link == ""
    assert actions.notify(kind="t", title="t", body="b", place_path=cast.grid_a1.path, link="/inflow/1/").link == "/inflow/1/"

    def boom(**kw):
        raise RuntimeError("bug")

    monkeypatch.setattr(actions, "notify", boom)
    registry.raise_alert(fever_alert(cast, obj_id=77))  # logged, not raised
    assert not Message.objects.filter(kind="gate.fever").exists()
