"""Serve the platform's web pages only: one app server of several (README, "Production
layout"; deploy/systemd/fangkong-web@.service). No migrations and no worker: those run once
for the whole system (`fangkong migrate` before a release, `fangkong run_huey` on the worker
machines), not in every app server."""
import os

from django.conf import settings
from django.core.management.base import BaseCommand

from fangkong import gunicorn_conf

from .run import gunicorn_argv


class Command(BaseCommand):
    help = "Run the web server alone (gunicorn), for several app servers behind a load balancer."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("FANGKONG_BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=gunicorn_conf.WORKERS)
        parser.add_argument("--threads", type=int, default=gunicorn_conf.THREADS)

    def handle(self, *args, bind, web_workers, threads, **opts):
        if settings.DEBUG:
            self.stderr.write("FANGKONG_DEBUG is ignored by `fangkong web`: the platform is served without DEBUG")
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_DEBUG="0", FANGKONG_BIND=bind)
        argv = gunicorn_argv(bind, web_workers, threads)
        # Replaced by gunicorn: the service manager's signals (stop, reload) reach it directly.
        os.execve(argv[0], argv, env)
