"""The air-gapped install (README, "Air-gapped install"; issue 22, item 6): the lock agrees with
pyproject.toml's pins, and a bundle built by scripts/bundle installs into a fresh venv with
every package index disabled and serves the platform.

The second takes 55-115 s on the project's 2-core machine, by its load (2026-12-07): building
7-35 s (PyPI download and the project's wheel), installing 18-28 s, the upgrade pass 5-8 s,
`fangkong run` migrating a new SQLite file and starting 21-38 s (the migrations alone take
25 s, as for any fresh database)."""
import base64
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Neither test uses the test database, but conftest.py's cache clearing needs it set up
# (pytest-django sets up only the databases the collected tests ask for).
pytestmark = pytest.mark.django_db


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~; ]", requirement, 1)[0]).lower()


def _locked() -> dict[str, tuple[str, int]]:
    """{name: (version, number of hashes)} of requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    out = {}
    for entry in re.split(r"\n(?=[a-z0-9])", "\n" + text):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", entry.strip())
        if m:
            out[_name(m[1])] = (m[2], entry.count("--hash=sha256:"))
    return out


def test_lock_has_every_pin_with_its_version_and_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    assert len(locked) >= len(project["dependencies"])
    for requirement in project["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^]]*\])?==(\S+)", requirement.strip())
        assert m, f"pyproject.toml pins every dependency with ==: {requirement}"
        name, version = _name(m[1]), m[3]
        assert name in locked, f"{name} is missing from requirements.lock: run bash scripts/lock"
        assert locked[name][0] == version, (f"pyproject.toml pins {name}=={version}, requirements.lock has "
                                            f"{locked[name][0]}: run bash scripts/lock")
    assert all(hashes for _, hashes in locked.values()), "every locked package has its hashes"
    assert "psycopg-binary" in locked  # an extra's packages are locked too (psycopg[binary])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offline_env(**extra) -> dict:
    """No pip configuration, no index, no find-links, and a proxy that answers nothing: any
    attempt to reach the network fails."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "FANGKONG_", "DATABASE_URL", "REDIS_URL", "PYTHON", "DJANGO_"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    dead = "http://127.0.0.1:9"
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", http_proxy=dead, https_proxy=dead,
               HTTP_PROXY=dead, HTTPS_PROXY=dead, **extra)
    return env


@pytest.mark.one_database  # a venv and a SQLite file of its own, whichever database the run uses
def test_bundle_installs_offline_and_serves(tmp_path):
    started = time.monotonic()
    marks = []

    def mark(what):
        marks.append(f"{what} {time.monotonic() - started:.1f}")

    bundle = tmp_path / "bundle"
    # Built from this checkout (the dependencies' wheels from PyPI or the machine's pip
    # configuration; each file checked against the lock's hashes).
    built = subprocess.run(["bash", str(ROOT / "scripts/bundle"), str(bundle), "--no-tar"],
                           env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    mark("built")
    wheels = {p.name.split("-")[0].lower().replace("_", "-") for p in (bundle / "wheels").glob("*.whl")}
    assert set(_locked()) | {"fangkong"} == wheels
    assert (bundle / "INSTALL.txt").read_text().startswith("## Air-gapped install")

    venv = tmp_path / "srv" / "venv"
    env = _offline_env(PYTHON=sys.executable)
    installed = subprocess.run(["sh", str(bundle / "install.sh"), str(venv)], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    mark("installed")
    py = venv / "bin" / "python"
    where = subprocess.run([str(py), "-c", "import fangkong, fangkong.documents.pdf as p; print(fangkong.__file__); "
                            "print(p.fonts()['body'][0])"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(venv)), where  # the installed copy, not this checkout
    if (bundle / "fonts").is_dir():
        assert where[1] == str(venv / "share/fangkong/fonts/NotoSansCJK-Regular.ttc")
        assert "SIL" in (venv / "share/fangkong/fonts/LICENSE").read_text()

    # Upgrade: the same command into the existing venv.
    again = subprocess.run(["sh", str(bundle / "install.sh"), str(venv)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    mark("upgraded")

    port = _free_port()
    var = tmp_path / "srv" / "var"
    app_env = dict(env, FANGKONG_ENV="production", FANGKONG_VAR=str(var),
                   DATABASE_URL=f"sqlite:///{var / 'fangkong.sqlite3'}",
                   FANGKONG_SECRET_KEY=secrets.token_urlsafe(40),
                   FANGKONG_DATA_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                   FANGKONG_INDEX_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                   FANGKONG_ALLOWED_HOSTS="127.0.0.1", FANGKONG_PUBLIC_URL=f"http://127.0.0.1:{port}")
    fk = str(venv / "bin" / "fangkong")
    # `fangkong run` migrates the new SQLite file first (the README's `fangkong migrate`, which
    # would cost this test the start of one more process), then serves.
    server = subprocess.Popen([fk, "run", "--bind", f"127.0.0.1:{port}", "--web-workers", "1"], env=app_env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # (this process's own proxy settings aside)
    try:
        for _ in range(600):
            try:
                health = direct.open(base + "/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.2)
        else:
            raise AssertionError("the server did not start")
        assert server.poll() is None, server.stdout.read().decode()[-3000:]
        assert health.status == 200
        mark("serving")
        page = direct.open(base + "/login/", timeout=10)
        assert page.status == 200 and 'name="password"' in page.read().decode()
        assert direct.open(base + "/static/vendor/htmx/htmx.min.js", timeout=10).status == 200
        assert direct.open(base + "/readyz", timeout=10).status == 200  # every migration applied, keys work
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    mark("done")
    print("seconds since the start:", ", ".join(marks))
