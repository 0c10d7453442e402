"""The JSON API at /api/ (OpenAPI docs at /api/docs)."""
import datetime as dt

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as SchemaError
from ninja.parser import Parser
from ninja.security import django_auth

from fangkong.core.middleware import NUL_MESSAGE
from fangkong.lib import registry
from fangkong.places.access import roles
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.accounts import api as accounts
from fangkong.census import api as census
from fangkong.dashboard import api as dashboard
from fangkong.declarations import api as declarations
from fangkong.documents import api as documents
from fangkong.duty import api as duty
from fangkong.gates import api as gates
from fangkong.clinic import api as clinic
from fangkong.inflow import api as inflow
from fangkong.notify import api as notify
from fangkong.observation import api as observation
from fangkong.command import api as command
from fangkong.passes import api as passes
from fangkong.reports import api as reports
from fangkong.residents import api as residents
from fangkong.resumption import api as resumption
from fangkong.supplies import api as supplies
from fangkong.disinfection import api as disinfection
from fangkong.uploads import api as uploads
from fangkong.services import api as services
from fangkong.testing import api as testing

# Every operation names its own auth: api_perm(...) for a permission, django_auth for
# "any signed-in user". There is no default, so an operation without auth is visible
# to the access-matrix test as a public route and fails it unless declared public.
class _NulInBody(ValueError):
    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def _nul_at(data, path: tuple = ()) -> str | None:
    """The dotted path of the first string in a JSON value (a key or a value) holding a NUL
    character, else None."""
    if isinstance(data, str):
        return (".".join(path) or "body") if "\x00" in data else None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if "\x00" in str(key):
            return ".".join((*path, str(key).replace("\x00", "")))
        found = _nul_at(value, (*path, str(key)))
        if found:
            return found
    return None


class _Parser(Parser):
    """JSON bodies as ninja reads them, refusing text with a NUL character (PostgreSQL
    cannot store or compare it: it was a 500 on any text field there). Query parameters
    and forms: RequestBodyMiddleware (fangkong/core/middleware.py)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        field = _nul_at(data)
        if field is not None:
            raise _NulInBody(field)  # ninja makes it a 400; _http_error below a 422 naming the field
        return data


api = NinjaAPI(title="Fangkong API", version="1", urls_namespace="api", parser=_Parser())


@api.exception_handler(HttpError)
def _http_error(request, exc):
    if isinstance(exc.__cause__, _NulInBody):
        return api.create_response(request, {"detail": [{"field": exc.__cause__.field, "message": NUL_MESSAGE}]},
                                   status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)  # ninja's own answer


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": "Forbidden"}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": "Not Found"}, status=404)


# An action's refusals, for every operation: bad input is a 422 naming each field, a
# conflict with the record's state a 409 with the reason (the shape of ninja's HttpError).
@api.exception_handler(Invalid)
def _invalid(request, exc):
    return api.create_response(
        request, {"detail": [{"field": k, "message": str(v)} for k, v in exc.errors.items()]}, status=422
    )


# The schema's own refusals (a missing or mistyped field) in the same shape: the field as
# a dotted path ("questions.0.text"), without ninja's "body"/"payload" prefix.
@api.exception_handler(SchemaError)
def _schema_invalid(request, exc):
    detail = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc[:1] and loc[0] in ("body", "query", "path", "form", "file", "header", "cookie"):
            loc = loc[1:]
        if loc[:1] == ["payload"]:
            loc = loc[1:]
        detail.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", ""))})
    return api.create_response(request, {"detail": detail}, status=422)


# A body the server cannot read is the client's error, for every operation (and in DEBUG
# too, where ninja would answer an unhandled exception with a 500): multipart without a
# boundary or broken; a JSON operation sent a form (its body was read as the form, there
# is no JSON left to read); more form fields or files than allowed; too large.
@api.exception_handler(MultiPartParserError)
@api.exception_handler(RawPostDataException)
@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def _unreadable_body(request, exc):
    return api.create_response(request, {"detail": "Cannot parse request body"}, status=400)


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return api.create_response(request, {"detail": "Request body too large"}, status=413)


@api.exception_handler(Conflict)
def _conflict(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


class Me(Schema):
    username: str
    roles: list[str]


@api.get("/me", response=Me, tags=["accounts"], auth=django_auth)
def me(request):
    return {"username": request.user.get_username(), "roles": roles(request.user)}


class TodoOut(Schema):
    key: str
    label: str
    count: int
    url: str
    due: dt.datetime | None
    overdue: bool
    rank: int


@api.get("/todos", response=list[TodoOut], tags=["accounts"], auth=django_auth,
         summary="What the signed-in user must do now, most urgent first (the home page's list)")
def todos(request):
    return [{**vars(t), "label": str(t.label)} for t in registry.todos(request.user)]


# Each module's router, all at the root (their paths name the module).
for module in (residents, inflow, observation, census, documents, notify, gates, clinic, passes, declarations, dashboard, reports,
               uploads, accounts, duty, resumption, command, supplies, disinfection, services, testing):
    api.add_router("/", module.router)
