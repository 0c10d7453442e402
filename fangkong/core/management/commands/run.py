"""Run the platform: migrations, the Huey worker and the web server, together."""
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from fangkong import gunicorn_conf
from fangkong.lib.address import public_url_for_bind


def gunicorn_argv(bind: str, web_workers: int, threads: int) -> list[str]:
    """The web server's command line (here and in `fangkong web`, the production units' one)."""
    return [sys.executable, "-m", "gunicorn", "fangkong.wsgi:application", "-c", "python:fangkong.gunicorn_conf", "--bind", bind,
            "--workers", str(web_workers), "--threads", str(threads), "--access-logfile", "-",
            "--logger-class", "fangkong.core.gunicorn_logging.RedactingLogger"]


def add_server_arguments(parser) -> None:
    """The web server's options (here and in `fangkong web`)."""
    parser.add_argument("--bind", default=os.environ.get("FANGKONG_BIND", "127.0.0.1:8000"))
    parser.add_argument("--web-workers", type=int, default=gunicorn_conf.WORKERS)
    parser.add_argument("--threads", type=int, default=gunicorn_conf.THREADS)


def server_env(command, bind: str) -> dict:
    """The environment of the processes `command` starts to serve at `bind` (here and in
    `fangkong web`). Served without DEBUG, always: with it a 404 lists every URL pattern and
    a 500 shows its traceback to anyone (a developer wanting it runs `runserver`). Without a
    configured public address the links and QR codes they hand out follow `bind`
    (settings.PUBLIC_URL, fangkong.lib.address)."""
    if settings.DEBUG:
        command.stderr.write(f"FANGKONG_DEBUG is ignored by `fangkong {command.name}`: the platform is served without DEBUG")
    return dict(os.environ, DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_DEBUG="0", FANGKONG_BIND=bind)


class Command(BaseCommand):
    help = "Apply migrations, then run the background worker and the web server until interrupted."
    name = "run"

    def add_arguments(self, parser):
        add_server_arguments(parser)

    def handle(self, *args, bind, web_workers, threads, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        env = server_env(self, bind)
        public = settings.PUBLIC_URL if settings.PUBLIC_URL_SET else public_url_for_bind(bind)
        py = sys.executable
        procs = [
            subprocess.Popen([py, "-m", "fangkong.cli", "run_huey", "--workers", str(settings.HUEY["consumer"]["workers"]), "-k", "thread"], env=env),
            subprocess.Popen(gunicorn_argv(bind, web_workers, threads), env=env),
        ]
        self.stdout.write(f"Fangkong is running at http://{bind}/  (worker and web server; Ctrl-C stops both)")
        self.stdout.write(f"Links and QR codes point to {public}/" + (
            "" if settings.PUBLIC_URL_SET else "  (set FANGKONG_PUBLIC_URL to the address people reach it at)"))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True
            for p in procs:
                if p.poll() is None:
                    p.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping and all(p.poll() is None for p in procs):
                time.sleep(0.5)
            unexpected = not stopping  # (stop() below sets `stopping`)
        finally:
            stop()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        codes = [p.returncode for p in procs]
        if unexpected:
            self.stderr.write(f"a process ended unexpectedly (exit codes {codes}); stopped the others")
            sys.exit(1)
