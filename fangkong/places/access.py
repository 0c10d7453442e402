"""The ONE place that decides who sees and does what (DESIGN.md §3).

A user holds grants: a role over a place subtree or over an organization (admin: over
everything). A role carries permissions (ROLE_PERMS). For a permission:

* `require(user, perm)` — 403 (PermissionDenied) if no grant of the user carries it;
* `scope(qs, user, perm)` — the queryset filtered to the subtrees/organizations of the
  grants that carry it;
* `get_in_scope(qs, user, perm, **lookup)` — one object, or 404 whether it is missing or
  outside the scope, so nobody learns that it exists.

Models say how they are scoped with two class attributes: SCOPE_PATH (the field holding the
place path of the object) and SCOPE_ORG (the field holding the organization id). Views, API
operations, exports and tasks call only these functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

ROLES = [
    "admin",
    "commander",
    "coordinator",
    "committee",
    "grid_worker",
    "medic",
    "gate_guard",
    "unit_liaison",
    "volunteer",
    "resident",
]

# Every permission with the roles that hold it (admin holds all). One line per permission,
# grouped by module, so that modules add their lines without touching each other's.
PERM_ROLES: dict[str, set[str]] = {
    # Registry (M1, M2) and audit.
    "places.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
    # A liaison sees the persons employed by its own organization, nothing else.
    "residents.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "residents.edit": {"committee", "grid_worker"},
    "residents.unmask": {"committee"},
    "residents.import": {"committee"},
    "residents.export": {"commander", "coordinator", "committee"},
    "audit.view": {"commander"},
    # Inflow closed loop (M4): one permission per link. A liaison applies for its own staff
    # and follows its own applications (scoped by organization).
    "inflow.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "inflow.apply": {"committee", "unit_liaison"},
    "inflow.forward": {"coordinator"},
    "inflow.review": {"committee"},
    "inflow.travel": {"unit_liaison"},
    "inflow.arrive": {"committee", "grid_worker"},
    "inflow.policy": set(),
    # Observation (M5).
    "observation.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
    "observation.start": {"committee", "medic"},
    "observation.report": {"committee", "grid_worker", "medic"},
    "observation.handle": {"committee", "grid_worker", "medic"},
    "observation.manage": {"committee", "medic"},
    "observation.release": {"medic"},
    "observation.sites": {"coordinator", "medic"},
    # Door-to-door census (M3): campaigns run by the committee or the street; visits by
    # the committee and the grid workers (volunteers' scope is a site, not households).
    "census.view": {"commander", "coordinator", "committee", "grid_worker"},
    "census.manage": {"coordinator", "committee"},
    "census.visit": {"committee", "grid_worker"},
    # Official documents (notices with a verification QR code), scoped like their subject.
    "documents.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "documents.revoke": {"committee"},
    # Health passes and gates (M6). A guard verifies tokens (colour and masked name only);
    # an override of the derived colour needs a second person to approve it.
    "passes.view": {"commander", "committee", "grid_worker", "medic"},
    "passes.issue": {"committee", "grid_worker"},
    "passes.override": {"committee", "medic"},
    "passes.approve_override": {"commander", "committee", "medic"},
    "passes.verify": {"gate_guard", "committee", "medic"},
    # Notifications: configure webhook/e-mail channels, see and retry failed deliveries (admin).
    "notify.manage": set(),
    # Gates (M6) and pre-screening triage (M18): guards record entries at their checkpoints.
    "gates.enter": {"gate_guard"},
    "gates.view": {"commander", "coordinator", "committee", "medic"},
    "gates.triage": {"medic", "committee"},
    # Self-declaration beside grid watch (M7): grid workers verify declarations and record
    # undeclared risks in their grid; the committee prints its community's QR code, confirms
    # findings (an entry never rests on one person's word) and decides appeals.
    "declarations.view": {"commander", "committee", "grid_worker"},
    "declarations.points": {"committee"},
    "declarations.verify": {"committee", "grid_worker"},
    "declarations.watch": {"committee", "grid_worker"},
    "declarations.confirm": {"committee"},
    # Personal credit record (个人诚信档案).
    "credit.view": {"commander", "committee", "grid_worker"},
    "credit.decide_appeal": {"committee"},
    # Dashboard (M8, M17): counts only, never a person, within the viewer's place grants.
    # The medic sees it too (fevers and missed reports of their community); guards,
    # liaisons, volunteers and residents have no place tree to read figures of.
    "dashboard.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
    # Daily report (M8): figures from the data per place and unit; entered figures filed by
    # each station/unit through the liaison granted on it; the street's coordinator defines
    # the figures, reopens confirmed ones, corrects closed days and closes days.
    "reports.view": {"commander", "coordinator", "committee", "grid_worker"},
    "reports.enter": {"unit_liaison"},
    "reports.late": {"commander", "coordinator", "committee"},
    "reports.manage": {"coordinator"},
    # Private uploads (fangkong.uploads): the route-level permission to see or attach files
    # at all; each file is then checked against its owner record with the permission the
    # owning module registered (uploads.register_owner). These roles must cover the roles
    # of every registered owner's view/attach permission (checked at registration).
    "uploads.view": {"commander", "committee", "grid_worker"},
    "uploads.attach": {"committee", "grid_worker"},
}
PERMS = set(PERM_ROLES)
assert all(roles <= set(ROLES) - {"admin"} for roles in PERM_ROLES.values())

ROLE_PERMS: dict[str, frozenset[str]] = {
    role: frozenset(PERMS) if role == "admin" else frozenset(p for p, rs in PERM_ROLES.items() if role in rs)
    for role in ROLES
}

assert set(ROLE_PERMS) == set(ROLES)
assert all(p <= PERMS for p in ROLE_PERMS.values())


@dataclass(frozen=True)
class Scope:
    role: str
    place_id: int | None
    place_path: str | None
    org_id: int | None

    @property
    def everything(self) -> bool:
        return self.place_path is None and self.org_id is None


def grants(user) -> list[Scope]:
    """The user's grants, loaded once per request (cached on the user object)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_fk_grants", None)
    if cached is None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(_grants_sql(), [user.pk, True])
            cached = [Scope(role, place_id, path, org_id) for role, place_id, path, org_id in cur.fetchall()]
        user._fk_grants = cached
    return cached


_GRANTS_SQL: list[str] = []


def _grants_sql() -> str:
    """The active grants of a user with their place's path: one statement, built once from
    the models (every signed-in request reads it; the ORM would compile it each time)."""
    if not _GRANTS_SQL:
        from django.db import connection

        from fangkong.accounts.models import Grant

        g = Grant._meta
        cols, place_join, col = _grant_sql_parts()
        _GRANTS_SQL.append(
            f"SELECT {cols} FROM {connection.ops.quote_name(g.db_table)} {place_join} "
            f"WHERE {col(g, 'user')} = %s AND {col(g, 'active')} = %s ORDER BY {col(g, 'id')}")
    return _GRANTS_SQL[0]


def _grant_sql_parts():
    """The SELECT list of a grant as a Scope (role, place id, place path, organization id),
    the join of its place, and a column-naming helper: shared by the grants query and
    user_with_grants."""
    from django.db import connection

    from fangkong.accounts.models import Grant
    from fangkong.places.models import Place

    qn = connection.ops.quote_name
    g, p = Grant._meta, Place._meta
    col = lambda meta, name: f"{qn(meta.db_table)}.{qn(meta.get_field(name).column)}"  # noqa: E731
    cols = f"{col(g, 'role')}, {col(g, 'place')}, {col(p, 'path')}, {col(g, 'organization')}"
    return cols, f"LEFT OUTER JOIN {qn(p.db_table)} ON {col(g, 'place')} = {col(p, 'id')}", col


_USER_SQL: dict = {}


def user_with_grants(pk):
    """The user `pk` (every field; None if there is none) with its active grants loaded,
    so that grants() reads nothing more: the authentication backend's read of the
    signed-in user on every request, one statement (user LEFT JOIN grants LEFT JOIN
    places: a row per grant, or one row without) instead of two."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from fangkong.accounts.models import Grant
    from fangkong.lib.db import fastsql

    model = get_user_model()
    plan = _USER_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        u, g = model._meta, Grant._meta
        cols, place_join, col = _grant_sql_parts()
        reader = fastsql.Reader(model, tuple(f.name for f in u.concrete_fields))
        sql = (f"SELECT {reader.columns}, {cols} FROM {qn(u.db_table)} "
               f"LEFT OUTER JOIN {qn(g.db_table)} ON {col(g, 'user')} = {col(u, u.pk.name)} AND {col(g, 'active')} = %s "
               f"{place_join} WHERE {col(u, u.pk.name)} = %s ORDER BY {col(g, 'id')}")
        plan = _USER_SQL[connection.vendor] = (sql, reader)
    sql, reader = plan
    with connection.cursor() as cur:
        cur.execute(sql, [True, model._meta.pk.get_db_prep_value(pk, connection, prepared=False)])
        rows = cur.fetchall()
    if not rows:
        return None
    user = reader.instance(rows[0])
    if user.is_active:  # grants() of an inactive user is [] without a read
        user._fk_grants = [Scope(*row[reader.width:]) for row in rows if row[reader.width] is not None]
    return user


def roles(user) -> list[str]:
    return sorted({g.role for g in grants(user)})


def grants_for(user, perm: str) -> list[Scope]:
    if perm not in PERMS:
        raise ValueError(f"unknown permission {perm!r}")
    return [g for g in grants(user) if perm in ROLE_PERMS[g.role]]


def has_perm(user, perm: str) -> bool:
    return bool(grants_for(user, perm))


def require(user, perm: str) -> None:
    if not has_perm(user, perm):
        raise PermissionDenied(perm)


def covers_whole_tree(user, perm: str) -> bool:
    """Whether the user's grants for `perm` reach every place: everything (admin), or place
    grants on every root of the tree. What applies to every street at once (closing a day
    of the daily report, the figures every unit enters) needs that, so that one street's
    coordinator cannot decide it for another street."""
    from .models import Place

    paths = set()
    for g in grants_for(user, perm):
        if g.everything:
            return True
        if g.place_path is not None:
            paths.add(g.place_path)
    if not paths:
        return False
    roots = set(Place.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return bool(roots) and roots <= paths


def require_whole_tree(user, perm: str) -> None:
    require(user, perm)
    if not covers_whole_tree(user, perm):
        raise PermissionDenied(perm)


def scope_q(model, user, perm: str) -> Q | None:
    """Q selecting the objects of `model` in the user's scope for `perm`; None = all."""
    path_field = getattr(model, "SCOPE_PATH", None)
    org_field = getattr(model, "SCOPE_ORG", None)
    q = Q(pk__in=[])
    for g in grants_for(user, perm):
        if g.everything:
            return None
        if g.place_path is not None and path_field:
            q |= Q(**{f"{path_field}__under": g.place_path})
        if g.org_id is not None and org_field:
            q |= Q(**{org_field: g.org_id})
    return q


def scope(qs, user, perm: str):
    q = scope_q(qs.model, user, perm)
    return qs if q is None else qs.filter(q)


def get_in_scope(qs, user, perm: str, **lookup):
    """One object within scope, else Http404 (missing and out-of-scope look the same)."""
    if not hasattr(qs, "model"):
        qs = qs._default_manager.all()
    try:
        return scope(qs, user, perm).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def in_scope(obj, user, perm: str) -> bool:
    return scope(type(obj)._default_manager.filter(pk=obj.pk), user, perm).exists()


def path_in_scope(user, perm: str, path: str) -> bool:
    """Whether an object at place path `path` lies in the user's scope for `perm`: what
    scope() decides for a model with SCOPE_PATH, from the grants already loaded (no query)."""
    return any(g.everything or (g.place_path is not None and path.startswith(g.place_path)) for g in grants_for(user, perm))


def places_in_scope(user, perm: str):
    from fangkong.places.models import Place

    return scope(Place.objects.all(), user, perm)


# --- View markers ---------------------------------------------------------------------
# Every route declares its permission (or that it is public); the access-matrix test reads
# these markers, so an unmarked new route fails the test suite.

def requires(perm: str, obj=None, whole_tree: bool = False):
    """Decorator for page views: the permission this route needs, and (for routes with a
    <pk>) the model whose object the pk names. whole_tree: the route acts on every place
    at once, so the permission must come with a grant over the whole tree (covers_whole_tree)."""
    if perm not in PERMS:
        raise ValueError(f"unknown permission {perm!r}")
    check = require_whole_tree if whole_tree else require

    def deco(fn):
        @wraps(fn)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            check(user, perm)
            return fn(request, *args, **kwargs)

        wrapper.fk_perm = perm
        wrapper.fk_object = obj
        wrapper.fk_whole_tree = whole_tree
        return wrapper

    return deco


def api_perm(perm: str, obj=None, whole_tree: bool = False):
    """django-ninja auth for an API operation: signed in (else 401) and holding `perm`
    (else 403; whole_tree: as in requires). It runs before the body is parsed, so a wrong
    role gets 403, not 422."""
    from ninja.security import SessionAuth

    if perm not in PERMS:
        raise ValueError(f"unknown permission {perm!r}")
    check = require_whole_tree if whole_tree else require

    class PermAuth(SessionAuth):
        fk_perm = perm
        fk_object = obj
        fk_whole_tree = whole_tree

        def authenticate(self, request, key):
            if not request.user.is_authenticated:
                return None
            check(request.user, perm)
            return request.user

    return PermAuth()


def public(reason: str):
    """Mark a route as needing no permission (login page, language switch...)."""

    def deco(fn):
        fn.fk_public = reason
        return fn

    return deco


def public_api(reason: str):
    """django-ninja auth for an API operation anyone may call (a public form's endpoint):
    it lets every request in; the access-matrix test reads `fk_public`."""

    def allow(request):
        return True

    allow.fk_public = reason
    return allow


def authenticated(fn):
    """Any signed-in user (their home page, logout); shows only the user's own things."""

    @wraps(fn)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        return fn(request, *args, **kwargs)

    wrapper.fk_authenticated = True
    return wrapper


def personal_link(fn):
    """A resident's page reached by a personal link (no password): the URL's `token`
    names the person (request.resident); an unknown, expired or revoked token is a 404,
    whoever is signed in. The page shows only that person's own things."""

    @wraps(fn)
    def wrapper(request, token, *args, **kwargs):
        from fangkong.accounts.actions import resident_for_token

        person = resident_for_token(token)
        if person is None:
            raise Http404
        request.resident = person
        request.resident_token = token
        return fn(request, *args, **kwargs)

    wrapper.fk_personal_link = True
    return wrapper


def link_auth():
    """django-ninja auth for an API operation used by a resident's device: the personal
    link's token in the `X-Resident-Token` header (else 401). Sets request.resident_id and
    request.resident (the person, read from the database only if the operation uses it)."""
    from django.utils.functional import SimpleLazyObject
    from ninja.security import APIKeyHeader

    class LinkAuth(APIKeyHeader):
        param_name = "X-Resident-Token"
        fk_personal_link = True

        def authenticate(self, request, key):
            from fangkong.accounts.actions import resident_id_for_token
            from fangkong.residents.models import Person

            person_id = resident_id_for_token(key or "")
            if person_id is None:
                return None
            request.resident_id = person_id
            request.resident = SimpleLazyObject(lambda: Person.objects.select_related("household").get(pk=person_id))
            return person_id

    return LinkAuth()
