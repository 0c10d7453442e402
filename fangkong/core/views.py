"""Small pages of the platform itself (no module of their own)."""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_safe

from fangkong.audit import labels
from fangkong.audit.models import AuditEvent, actor_names
from fangkong.lib.queue import queue_depth
from fangkong.places.access import has_perm, public, requires, role_label, scope
from fangkong.web.lists import page_of


@public("health check")
@require_safe
def healthz(request):
    """Liveness for load balancers and the HTTP benchmarks' baseline: no database query."""
    return HttpResponse("ok", content_type="text/plain")


def _database_ok() -> bool:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        return cur.fetchone()[0] == 1


_MIGRATED: list = []  # once all are applied, they stay so for this process's code


def _migrations_applied() -> bool:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if _MIGRATED:
        return True
    executor = MigrationExecutor(connection)
    done = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    if done:
        _MIGRATED.append(True)
    return done


def _keys_present() -> bool:
    """The personal-data keys are set and work: a number encrypted decrypts again."""
    from fangkong.lib import crypto

    return crypto.decrypt(crypto.encrypt("ready")) == "ready" and bool(crypto.blind_index("id", "ready"))


@public("readiness check")
@require_safe
def readyz(request):
    """Readiness for load balancers and operators: the database answers, every migration is
    applied, the encryption keys work and the worker's queue can be read. 200 when all
    hold, else 503; the queue's depth is shown to those who run the system."""
    checks, depth = {}, None
    for name, check in (("database", _database_ok), ("migrations", _migrations_applied), ("keys", _keys_present)):
        try:
            checks[name] = "ok" if check() else "failed"
        except Exception:
            checks[name] = "failed"
    try:
        depth = queue_depth()
        checks["queue"] = "ok"
    except Exception:
        checks["queue"] = "failed"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    if depth is not None and request.user.is_authenticated and has_perm(request.user, "core.system"):
        body["queue_depth"] = depth
    return JsonResponse(body, status=200 if ready else 503)


@requires("audit.view")
@require_GET
def audit_events(request):
    """The audit log, within the viewer's scope (the audit app itself sits below the access
    module and has no pages)."""
    qs = scope(AuditEvent.objects.all(), request.user, "audit.view")
    action = request.GET.get("action", "")[:64]
    if action:
        qs = qs.filter(action__startswith=action)
    page = page_of(request, qs)
    page.object_list = list(page.object_list)
    names = actor_names(page.object_list)  # looked up: an event keeps the id, not the name
    for e in page.object_list:
        e.actor = names.get(e.user_id, f"#{e.user_id}") if e.user_id is not None else e.username
        e.action_label = labels.ACTIONS.get(e.action)  # none: the code is shown as it is
        e.outcome_label = labels.outcome_label(e.outcome)
        e.role_labels = pgettext("list separator", ", ").join(str(role_label(r)) for r in e.roles.split(",") if r)
        e.object_label = _object_labels().get(e.object_type, e.object_type)
    return render(request, "audit/event_list.html", {"page": page, "action": action})


def _object_labels() -> dict:
    """An event's object type (its model's class name) → the model's name in the reader's
    language where the model gives one (else the class name); a class name two apps share
    is named by both."""
    from django.apps import apps

    names: dict[str, list[str]] = {}
    for model in apps.get_models():
        if "verbose_name" not in model._meta.original_attrs:
            label = labels.OBJECTS.get(model.__name__)
            if label is None:
                continue
        else:
            label = model._meta.verbose_name
        label = str(label)
        if label not in names.setdefault(model.__name__, []):
            names[model.__name__].append(label)
    return {k: " / ".join(v) for k, v in names.items()}
