"""Issue 15, points 4 and 5: served without DEBUG, Secure cookies and HSTS on https, the
proxy header, and a Content-Security-Policy that no page needs to break."""
import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import path

import fangkong

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()
NAMES = ("DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER",
         "CSRF_TRUSTED_ORIGINS")


def settings_in(tmp_path, **env) -> dict:
    """The settings of a fresh process with `env` (nothing of this run's FANGKONG_* kept)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    base.update({"FANGKONG_VAR": str(tmp_path), "FANGKONG_ENV": "dev"}, **env)
    code = "import fangkong.settings as s; print(repr({n: getattr(s, n) for n in %r}))" % (NAMES,)
    proc = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout)  # noqa: S307 (our own repr of plain values)


# --- Point 4: DEBUG and cookies ------------------------------------------------------------

def test_the_default_environment_runs_without_debug(tmp_path):
    assert settings_in(tmp_path)["DEBUG"] is False
    assert settings_in(tmp_path, FANGKONG_DEBUG="1")["DEBUG"] is True  # a developer's explicit choice


def test_fangkong_run_serves_without_debug_even_when_asked_for_it(tmp_path, settings):
    settings.DEBUG = True
    with mock.patch("fangkong.core.management.commands.run.subprocess.Popen") as popen, \
            mock.patch("fangkong.core.management.commands.run.call_command"), \
            mock.patch.dict(os.environ, {"FANGKONG_DEBUG": "1"}), pytest.raises(SystemExit):
        call_command("run", "--bind", "127.0.0.1:1")  # the mocked processes "end" at once
    envs = [c.kwargs["env"] for c in popen.call_args_list]
    assert len(envs) == 2 and all(e["FANGKONG_DEBUG"] == "0" for e in envs)
    served = {k: v for k, v in envs[1].items() if k != "FANGKONG_VAR"}
    assert settings_in(tmp_path, **{k: v for k, v in served.items() if k.startswith("FANGKONG_")})["DEBUG"] is False


def test_cookies_are_secure_when_the_public_address_is_https(tmp_path):
    https = settings_in(tmp_path, FANGKONG_PUBLIC_URL="https://fk.example.gov.cn")
    assert https["SESSION_COOKIE_SECURE"] and https["CSRF_COOKIE_SECURE"] and https["LANGUAGE_COOKIE_SECURE"]
    assert https["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert "https://fk.example.gov.cn" in https["CSRF_TRUSTED_ORIGINS"]  # forms posted through a TLS-ending proxy
    plain = settings_in(tmp_path)  # the demo at http://127.0.0.1:8000: Secure cookies would break sign-in
    assert not plain["SESSION_COOKIE_SECURE"] and not plain["CSRF_COOKIE_SECURE"] and not plain["LANGUAGE_COOKIE_SECURE"]
    assert plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_PROXY_SSL_HEADER"] is None
    proxied = settings_in(tmp_path, FANGKONG_PROXY_SSL_HEADER="1")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_secure_cookies_cannot_be_switched_off_on_https(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    base.update(FANGKONG_VAR=str(tmp_path), FANGKONG_PUBLIC_URL="https://fk.example.gov.cn", FANGKONG_SECURE_COOKIES="0")
    proc = subprocess.run([sys.executable, "-c", "import fangkong.settings"], env=base, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "FANGKONG_SECURE_COOKIES" in proc.stderr


def _boom(request):
    raise RuntimeError("secret internals /r/SECRETtok/")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_error_pages_show_no_url_patterns_and_no_traceback(settings):
    settings.DEBUG = False  # as `fangkong run` serves
    page = Client().get("/no-such-page/")
    assert page.status_code == 404
    body = page.content.decode()
    assert "URLconf" not in body and "readyz" not in body and "api/" not in body
    with override_settings(ROOT_URLCONF=__name__):
        page = Client(raise_request_exception=False).get("/boom/")
    assert page.status_code == 500
    body = page.content.decode()
    assert "Traceback" not in body and "RuntimeError" not in body and "SECRET" not in body


# --- Point 5: CSP, HSTS ---------------------------------------------------------------------

TEMPLATES = sorted(Path(fangkong.__file__).parent.rglob("templates/**/*.html"))
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"""[\s"'/]on[a-z]+\s*=""", re.I)


def test_no_template_has_an_inline_script_event_handler_or_style_element():
    assert len(TEMPLATES) > 50
    found = []
    for t in TEMPLATES:
        text = t.read_text(encoding="utf-8")
        found += [f"{t.name}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
        found += [f"{t.name}: {m.group(0)}" for m in HANDLER.finditer(text)]
        found += [f"{t.name}: javascript:" for _ in re.finditer(r"javascript:", text, re.I)]
        found += [f"{t.name}: <style>" for _ in re.finditer(r"<style\b", text, re.I)]  # style sheets are files too
    assert not found


@pytest.mark.django_db
def test_pages_carry_the_content_security_policy(cast, login):
    for client, url in ((Client(), "/login/"), (login(cast.admin), "/"), (Client(), "/no-such-page/")):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'"  # no inline scripts, no eval
        assert directives["style-src-elem"] == "'self'"  # no <style> elements
        assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'" and directives["form-action"] == "'self'"
    # Not on what is no page: a PDF's viewer would be refused by object-src 'none'.
    assert "Content-Security-Policy" not in Client().get("/healthz")


@pytest.mark.django_db
def test_hsts_is_sent_over_https_behind_the_proxy(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert "Strict-Transport-Security" not in Client().get("/login/")
    page = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
