from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError

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
