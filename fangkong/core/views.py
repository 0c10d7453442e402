"""Small pages of the platform itself (no module of their own)."""
from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_safe

from fangkong.audit.models import AuditEvent, actor_names
from fangkong.places.access import public, requires, scope
from fangkong.web.lists import page_of


@public("health check")
@require_safe
def healthz(request):
    """Liveness for load balancers and the HTTP benchmarks' baseline: no database query."""
    return HttpResponse("ok", content_type="text/plain")


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
    return render(request, "audit/event_list.html", {"page": page, "action": action})
