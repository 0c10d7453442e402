from django.conf import settings

from fangkong.audit.actions import reset_context, set_context
from fangkong.lib import throttle


class NoStoreMiddleware:
    """Audit context (client IP) for actions, and no caching of pages that may hold
    personal data: every HTML and JSON response is Cache-Control: no-store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_context(ip=throttle.client_address(request))
        try:
            response = self.get_response(request)
        finally:
            reset_context(token)
        if not request.path.startswith("/static/") and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"  # a response that says no-store itself keeps its words
        return response


class ApiBudgetMiddleware:
    """The JSON API's budget (settings.API_RATE, in the shared cache: it holds across
    processes and servers): requests per signed-in user, per personal link (devices and
    residents' phones send X-Resident-Token), or per client address; beyond it 429 with
    Retry-After. Placed after the authentication middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            limit, window = settings.API_RATE
            if limit:
                user = getattr(request, "user", None)
                if user is not None and user.is_authenticated:
                    key = f"api:u:{user.pk}"
                elif request.headers.get("X-Resident-Token"):
                    key = "api:l:" + throttle.digest(request.headers["X-Resident-Token"])
                else:
                    key = "api:a:" + throttle.digest(throttle.client_address(request))
                wait = throttle.budget(key, limit, window)
                if wait is not None:
                    return throttle.too_many(request, wait)
        return self.get_response(request)
