"""The JSON API at /api/ (OpenAPI docs at /api/docs)."""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI, Schema
from ninja.security import django_auth

from fangkong.places.access import roles
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.census.api import router as census_router
from fangkong.declarations.api import router as declarations_router
from fangkong.dashboard.api import router as dashboard_router
from fangkong.documents.api import router as documents_router
from fangkong.inflow.api import router as inflow_router
from fangkong.observation.api import router as observation_router
from fangkong.notify.api import router as notify_router
from fangkong.gates.api import router as gates_router
from fangkong.passes.api import router as passes_router
from fangkong.reports.api import router as reports_router
from fangkong.residents.api import router as residents_router

# Every operation names its own auth: api_perm(...) for a permission, django_auth for
# "any signed-in user". There is no default, so an operation without auth is visible
# to the access-matrix test as a public route and fails it unless declared public.
api = NinjaAPI(title="Fangkong API", version="1", urls_namespace="api")


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


@api.exception_handler(Conflict)
def _conflict(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


class Me(Schema):
    username: str
    roles: list[str]


@api.get("/me", response=Me, tags=["accounts"], auth=django_auth)
def me(request):
    return {"username": request.user.get_username(), "roles": roles(request.user)}


api.add_router("/", residents_router)
api.add_router("/", inflow_router)
api.add_router("/", observation_router)
api.add_router("/", census_router)
api.add_router("/", documents_router)
api.add_router("/", notify_router)
api.add_router("/", gates_router)
api.add_router("/", passes_router)
api.add_router("/", declarations_router)
api.add_router("/", dashboard_router)
api.add_router("/", reports_router)
