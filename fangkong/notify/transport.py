"""Sending one message through one channel: DingTalk and WeCom robot webhooks (stdlib
urllib, JSON), e-mail (Django's send_mail). Each returns an Outcome; nothing here touches
the database. Error texts are short and never include the webhook's access token."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail

TIMEOUT = 5  # seconds, connect and read


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""


def absolute(link: str) -> str:
    """The link as an absolute URL for webhooks and e-mail, or "" when it cannot be one
    (a site path without NOTIFY_BASE_URL means nothing outside the site)."""
    if link.startswith("/") and settings.NOTIFY_BASE_URL:
        return settings.NOTIFY_BASE_URL.rstrip("/") + link
    return link if link.startswith(("http://", "https://")) else ""


def dingtalk_payload(title: str, body: str, link: str = "") -> dict:
    text = f"### {title}\n\n{body}"
    if link:
        text += f"\n\n[{link}]({link})"
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def wecom_payload(title: str, body: str, link: str = "") -> dict:
    content = f"### {title}\n{body}"
    if link:
        content += f"\n[{link}]({link})"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")),
    URL-encoded, sent as `sign` beside `timestamp` (milliseconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"


def post_json(url: str, payload: dict) -> Outcome:
    """POST JSON; success is a 2xx whose JSON body (if any) has errcode 0 or none."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return Outcome(False, None, "URL scheme must be http or https")
    data = json.dumps(payload, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "fangkong-notify/1"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 (scheme checked above)
            status, raw = resp.status, resp.read(65536)
    except urllib.error.HTTPError as exc:
        return Outcome(False, exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, None, f"{type(reason).__name__}: {reason}"[:300])
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        body = {}
    if isinstance(body, dict) and body.get("errcode", 0) not in (0, "0"):
        return Outcome(False, status, f"errcode {body.get('errcode')}: {str(body.get('errmsg', ''))[:200]}")
    return Outcome(True, status)


def send_email(address: str, title: str, body: str, link: str = "") -> Outcome:
    text = body + (f"\n\n{link}" if link else "")
    try:
        send_mail(title, text, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    except Exception as exc:  # SMTP and socket errors of every kind: record, retry later
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
    return Outcome(True)
