from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from fangkong.places.access import requires, scope

from .models import AuditEvent


@requires("audit.view")
@require_GET
def event_list(request):
    qs = scope(AuditEvent.objects.all(), request.user, "audit.view")
    action = request.GET.get("action", "")[:64]
    if action:
        qs = qs.filter(action__startswith=action)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "audit/event_list.html", {"page": page, "action": action})
