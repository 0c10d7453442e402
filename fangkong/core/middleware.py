from fangkong.audit.actions import add_context, flush_refusals, reset_context, set_context


class NoStoreMiddleware:
    """Audit context (client IP, the route's pattern) for actions, the refusals of the
    request written to the audit after it, and no caching of pages that may hold
    personal data: every HTML and JSON response is Cache-Control: no-store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_context(ip=request.META.get("REMOTE_ADDR", ""), refusals=[])
        try:
            response = self.get_response(request)
            flush_refusals()  # refusals of this request, outside any transaction it aborted
        finally:
            reset_context(token)
        if not request.path.startswith("/static/") and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"  # a response that says no-store itself keeps its words
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """The route's pattern (no ids or tokens) for the audit of refusals."""
        match = request.resolver_match
        add_context(route=(match.route if match else "")[:120])
