import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.functional import SimpleLazyObject, empty

from fangkong.audit.actions import add_context, flush_refusals, reset_context, set_context
from fangkong.lib import throttle


class NoStoreMiddleware:
    """Audit context (client IP, the route's pattern) for actions, the refusals of the
    request written to the audit after it, and no caching of pages that may hold
    personal data: every HTML and JSON response is Cache-Control: no-store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_context(ip=throttle.client_address(request), refusals=[])
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

# --- Content-Security-Policy ------------------------------------------------------------
# A header of our own rather than django-csp: one fixed policy for every response, no
# nonces (no page has an inline script or event handler: tests/test_security_headers.py
# keeps it so), so ten lines do what a dependency would.
# Style sheets only from our files (style-src-elem: no <style> element); style attributes
# are allowed (style-src-attr): the vendored ECharts writes its tooltips as HTML with
# style attributes and a few templates keep short ones; they cannot run code nor load
# anything (img-src, font-src). Browsers that know neither directive read style-src, which
# allows both (a pass's colour is a style attribute). Scripts have no exception (nor eval).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # for browsers without the two below (older Safari/Firefox)
    "style-src-elem 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "worker-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Documents a browser renders as a page (HTML, SVG); not PDFs, whose viewer a
        # policy of object-src 'none' would refuse, nor images, JSON and files.
        kind = response.get("Content-Type", "").split(";")[0].strip().lower()
        if kind in _RENDERED:
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


_RENDERED = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml"}


# --- One JSON line per request ------------------------------------------------------------
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
request_log = logging.getLogger("fangkong.request")


class RequestLogMiddleware:
    """Gives each request an id (X-Request-ID: the incoming one when it looks safe, else a
    new one; answered in the response) and writes one JSON line per request on the logger
    "fangkong.request": when it came (UTC), request id, user id, method, route (the URL
    pattern, never the path, which may hold a personal link's token), status and
    milliseconds taken."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        at, started = time.time(), time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        if request_log.isEnabledFor(logging.INFO):
            match = getattr(request, "resolver_match", None)
            request_log.info(json.dumps({
                "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z",
                "request_id": request.request_id,
                "user_id": _user_id(request),
                "method": request.method,
                "route": ("/" + match.route) if match is not None and match.route else None,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }, separators=(",", ":")))
        return response


def _user_id(request):
    """The signed-in user's id if the request looked at it (never loads a session just to log)."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk
    return None


class RequestBodyMiddleware:
    """A POSTed form (urlencoded or multipart) is read here, before anything else reads
    it, so that a body the server cannot read is a 400 wherever it is sent (413 when too
    large). Read later, the first reader could be an error page: Django's 404 and 403
    views check the CSRF token, which reads the form, and a multipart body without a
    boundary then raised inside the error handler: a 500 for a POST to any unknown URL.
    The CSRF check reads every page's POSTed form anyway; the API answers in JSON.

    A NUL character (%00) in the path, a query parameter or a form field is refused here
    too (400; the API: 422 naming the field): PostgreSQL cannot store or compare text
    holding one, and a view using it (a search box, a code in the path, the audit detail
    of a list's filter) answered 500. The API's JSON bodies: its parser (fangkong/api.py)."""

    FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
    UNREADABLE = (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type in self.FORMS:
            try:
                request.POST  # noqa: B018  (parses the body once; views and checks reuse it)
            except self.UNREADABLE as exc:
                if not request.path.startswith("/api/"):
                    raise  # Django's 400 (the form is marked unreadable for the error page)
                too_big = isinstance(exc, RequestDataTooBig)
                return JsonResponse({"detail": "Request body too large" if too_big else "Cannot parse request body"},
                                    status=413 if too_big else 400)
            field = nul_field(request.POST)
        else:
            field = None
        field = nul_field(request.GET) or field
        if "\x00" in request.path_info:  # %00 in the path: a code or token a view looks up
            field = "path"
        if field is not None:
            if not request.path.startswith("/api/"):
                raise BadRequest("A NUL character in a parameter")
            return JsonResponse({"detail": [{"field": field, "message": NUL_MESSAGE}]}, status=422)
        return self.get_response(request)


NUL_MESSAGE = "Text must not contain NUL characters"


def nul_field(data) -> str | None:
    """The name of the first parameter of a QueryDict whose name or a value holds a NUL
    character (its name without the NUL), else None."""
    for key, values in data.lists():
        if "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values):
            return key.replace("\x00", "")
    return None
