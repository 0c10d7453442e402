from fangkong.audit.actions import reset_context, set_context


class NoStoreMiddleware:
    """Audit context (client IP) for actions, and no caching of pages that may hold
    personal data: every HTML and JSON response is Cache-Control: no-store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_context(ip=request.META.get("REMOTE_ADDR", ""))
        try:
            response = self.get_response(request)
        finally:
            reset_context(token)
        if not request.path.startswith("/static/") and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"  # a response that says no-store itself keeps its words
        return response
