"""Serve the platform's web pages only: one app server of several (README, "Production
layout"; deploy/systemd/fangkong-web@.service). No migrations and no worker: those run once
for the whole system (`fangkong migrate` before a release, `fangkong run_huey` on the worker
machines), not in every app server."""
import os

from django.core.management.base import BaseCommand

from .run import add_server_arguments, gunicorn_argv, server_env


class Command(BaseCommand):
    help = "Run the web server alone (gunicorn), for several app servers behind a load balancer."
    name = "web"

    def add_arguments(self, parser):
        add_server_arguments(parser)

    def handle(self, *args, bind, web_workers, threads, **opts):
        env = server_env(self, bind)
        argv = gunicorn_argv(bind, web_workers, threads)
        # Replaced by gunicorn: the service manager's signals (stop, reload) reach it directly.
        os.execve(argv[0], argv, env)
