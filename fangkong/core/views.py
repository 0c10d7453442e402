"""Small pages of the platform itself (no module of their own)."""
from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_safe

from fangkong.places.access import public


@public("health check")
@require_safe
def healthz(request):
    """Liveness for load balancers and the HTTP benchmarks' baseline: no database query."""
    return HttpResponse("ok", content_type="text/plain")
