"""The access matrix: every page route (from the URL resolver) and every API operation
(from the ninja routers, checked against the OpenAPI schema) × every role × own / own-leaf
/ sibling / sibling-leaf / parent / organization scopes, plus no grant and anonymous.

A route must declare what it needs (places.access.requires / api_perm / authenticated /
public); an undeclared route fails here, so a new endpoint is covered the day it is added.
Routes are found through public interfaces only: Django's URL resolver for pages, and the
API's OpenAPI schema for operations (each operation's security scheme names its permission
in x-fangkong-* fields; see places.access.api_perm). Roles and permissions come from the
access module's merged table (every app's permissions.py). Each route × subject is a
subtest of its own, so one failure hides no other.
Expected outcomes are computed from the place tree, not from the access module:
  role without the permission -> 403; object outside the grant -> 404;
  object inside -> allowed (anything but 403/404/5xx); list pages never show the names of
  persons outside the grant; anonymous -> login redirect (pages) or 401 (API).
"""
from __future__ import annotations

import functools
import io
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fangkong.accounts.actions import add_grant
from fangkong.api import api
from django.apps import apps

from fangkong.places.access import all_roles, role_perms
from tests import matrix
from tests.cast import make_user

TARGET_NAMES = {"person_a1": "靶子甲", "person_a2": "靶子乙", "person_b1": "靶子丙"}
PLACE_SCOPES = ["own", "own_leaf", "parent", "sibling", "sibling_leaf"]
ORG_SCOPES = ["org_own", "org_sibling"]


# --- Route discovery ------------------------------------------------------------------

# A route whose path ends so is a file (a PDF, a spreadsheet, a service worker), not a page:
# the walks of the pages in a browser and in Chinese pass it by (the matrix does not).
FILE_SUFFIXES = (".pdf", ".xlsx", ".csv", ".js")


def is_file_route(pattern: str) -> bool:
    return pattern.rstrip("$").endswith(FILE_SUFFIXES)


def page_routes():
    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "api":
                    continue  # API operations are walked through the routers below
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append((p.name, prefix + str(p.pattern), p.callback))

    walk(get_resolver().url_patterns)
    only = os.environ.get("FANGKONG_MATRIX_ONLY")  # a regex on route names, for working on a module
    return [r for r in out if re.search(only, r[0] or "")] if only else out


@dataclass(frozen=True)
class ApiOp:
    """An API operation as its OpenAPI schema describes it."""

    method: str
    path: str  # "/api/inflow/{pk}"
    perm: str | None = None
    model: type | None = None
    whole_tree: bool = False
    personal_link: bool = False
    token: str = ""  # an upstream system's credential kind (places.access.token_auth)
    public: str = ""
    authenticated: bool = False  # any signed-in user (django_auth)
    unknown: tuple = ()  # security schemes that say nothing the matrix understands


def api_operations() -> list[ApiOp]:
    schema = api.get_openapi_schema()
    schemes = schema.get("components", {}).get("securitySchemes", {})
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            fields: dict = {"public": op.get("x-fangkong-public", "")}
            unknown = []
            for requirement in op.get("security", []):
                for name in requirement:
                    scheme = schemes[name]
                    if scheme.get("x-fangkong-perm"):
                        label = scheme.get("x-fangkong-object")
                        fields.update(perm=scheme["x-fangkong-perm"], whole_tree=bool(scheme.get("x-fangkong-whole-tree")),
                                      model=apps.get_model(label) if label else None)
                    elif scheme.get("x-fangkong-personal-link"):
                        fields["personal_link"] = True
                    elif scheme.get("x-fangkong-token"):
                        fields["token"] = scheme["x-fangkong-token"]
                    elif name == "SessionAuth":
                        fields["authenticated"] = True
                    else:
                        unknown.append(name)
            ops.append(ApiOp(method.upper(), path, unknown=tuple(unknown), **fields))
    return ops


def declared(callback):
    for attr in ("fk_perm", "fk_public", "fk_authenticated", "fk_personal_link"):
        if getattr(callback, attr, None):
            return attr
    return None


def test_every_page_route_declares_its_access():
    missing = [f"{name} ({pattern})" for name, pattern, cb in page_routes() if not declared(cb)]
    assert not missing, f"routes without requires()/public()/authenticated: {missing}"


def test_every_api_operation_declares_its_access_in_openapi():
    ops = api_operations()
    assert len(ops) >= 30
    for op in ops:
        assert not op.unknown, f"{op.method} {op.path}: security {op.unknown} is not one of places.access's"
        assert op.perm or op.personal_link or op.token or op.public or op.authenticated, (
            f"{op.method} {op.path} has no auth: declare api_perm(...), link_auth(), token_auth(...), django_auth or "
            "**public_api(...)")
        if op.token:
            assert op.token in matrix.credentials(), f"{op.method} {op.path}: add a credential maker for {op.token} in tests/matrix/"
        if "{pk}" in op.path and op.perm:
            assert op.model is not None, f"{op.method} {op.path}: api_perm(..., obj=Model) must name the model behind {{pk}}"


# --- The matrix -------------------------------------------------------------------------

# Scopes each role is tried at on PostgreSQL: its own community, a sibling community and its
# own unit. The full seven run on SQLite (each a request per route: 100+ subjects × 300+
# routes took over 20 minutes on PostgreSQL on two cores); which rows a grant's scope selects
# is the same SQL, checked on both databases by tests/test_subtree_lookup.py and
# tests/test_access_table.py. FANGKONG_FULL_MATRIX=1 runs all seven on PostgreSQL too.
PG_SCOPES = {"own", "sibling", "org_own"}

# A role WITHOUT a route's permission is refused (403) before any scope is looked at, so
# the scope variants that differ only in which rows a grant selects (leaf, parent, the
# other unit) add nothing for it. Each such role is tried on half the routes it lacks, at
# one of three scopes, turning from route to route (a hash of the route and the role's
# place in the table): its own community (a view that forgot the permission check answers
# 200 or 404 there), a sibling community (a view that looks the object up in scope before
# checking the permission answers 404) or its own unit (the organization path); on the
# other half it is not tried. So every route is tried by about half its refused roles (at
# least one, and the signed-in user without any grant, always), and every refused role at
# each of the three scopes on about fifty routes. Roles holding the permission are tried at
# every scope (the three of PG_SCOPES on PostgreSQL). The turn cut the page matrix on
# SQLite from 77,086 subtests (129 subjects a route) to 17,397, the half to 14,451; the
# page matrix was the slowest test of both runs of scripts/test (2026-12-07: 348 s on
# SQLite, 264 s on PostgreSQL, loaded; 198 s on PostgreSQL with the half, quiet).
# FANGKONG_FULL_MATRIX=1 tries every subject everywhere.
NONHOLDER_SCOPES = ("own", "sibling", "org_own")
NONHOLDER_TURNS = 2 * len(NONHOLDER_SCOPES)  # a turn past the scopes: not tried on this route


def _tried(role, scope, perm, route) -> bool:
    """Is (role@scope) tried on `route` (method and URL) needing `perm`? See NONHOLDER_SCOPES."""
    if role is None or role == "admin" or perm is None or perm in role_perms(role):
        return True
    if os.environ.get("FANGKONG_FULL_MATRIX") == "1":
        return True
    return _refused_turns(perm, route).get(role) == scope


@functools.lru_cache(maxsize=None)
def _refused_turns(perm, route) -> dict:
    """{role: the scope it is tried at} for the roles lacking `perm` tried on `route`."""
    import zlib

    roles = all_roles()
    base = zlib.crc32(route.encode())
    turns = {r: (base + roles.index(r)) % NONHOLDER_TURNS for r in roles if r != "admin" and perm not in role_perms(r)}
    tried = {r: NONHOLDER_SCOPES[t % len(NONHOLDER_SCOPES)] for r, t in turns.items() if t < len(NONHOLDER_SCOPES)}
    if not tried and turns:  # every refused role's turn is past the scopes: the first one is tried
        first = next(iter(turns))
        tried[first] = NONHOLDER_SCOPES[turns[first] % len(NONHOLDER_SCOPES)]
    return tried


def _subjects(cast):
    """(label, role, user, grant-kind, grant-target) for every role × scope."""
    import os

    from django.db import connection

    p, o = cast.places, cast.orgs
    place_targets = {"own": p["comm_a"], "own_leaf": p["grid_a1"], "parent": p["street"],
                     "sibling": p["comm_b"], "sibling_leaf": p["grid_a2"]}
    org_targets = {"org_own": o["org_x"], "org_sibling": o["org_y"]}
    if connection.vendor == "postgresql" and os.environ.get("FANGKONG_FULL_MATRIX") != "1":
        place_targets = {k: v for k, v in place_targets.items() if k in PG_SCOPES}
        org_targets = {k: v for k, v in org_targets.items() if k in PG_SCOPES}
    out = [("anonymous", None, None, None), ("nogrant", None, cast.nogrant, None), ("admin", "admin", cast.admin, None)]
    for role in all_roles():
        if role == "admin":
            continue
        for scope, target in {**place_targets, **org_targets}.items():
            user = make_user(f"m_{role}_{scope}")
            add_grant(acting_user=None, user=user, role=role, target=target)
            out.append((f"{role}@{scope}", role, user, target))
    return out


def _is_root(target) -> bool:
    """A grant target that reaches every place: the cast's tree has one root, the street."""
    from fangkong.places.models import Place

    assert Place.objects.filter(parent__isnull=True).count() == 1
    return isinstance(target, Place) and target.parent_id is None


def _covers(target, obj, role=None) -> bool:
    """Does a grant on `target` (None = everything) reach `obj`? From the tree alone."""
    from fangkong.places.models import Organization, Place

    if target is None:
        return True
    model = type(obj)
    exact = getattr(model, "SCOPE_EXACT", None) or {}
    if isinstance(target, Place) and role in exact:  # that role's place grant: the object at the place only
        return getattr(obj, exact[role]) == target.path
    if isinstance(target, Place):
        return getattr(obj, model.SCOPE_PATH).startswith(target.path)
    if isinstance(target, Organization):
        field = getattr(model, "SCOPE_ORG", None)
        return bool(field) and getattr(obj, field) == target.pk
    raise AssertionError(target)


def _holds_owner_perm(obj, perm, role) -> bool:
    """An attachment is reached only by the holders of its owner's permission (uploads.owners):
    with several owning modules, holding uploads.view (the union of the owners' roles) is
    not enough for another module's record; as for an object out of scope, the answer is 404."""
    from fangkong.uploads.models import Attachment
    from fangkong.uploads.owners import owner_spec

    if not isinstance(obj, Attachment) or role == "admin":
        return True
    spec = owner_spec(obj.owner_type)
    return (spec.view_perm if perm == "uploads.view" else spec.attach_perm) in role_perms(role)


def _objects(cast):
    """One object of every model a route can name, located in grid A1 (compound A1Y);
    contributed per app by the modules of tests/matrix/."""
    return matrix.build_objects(cast)


def _url(name, pattern, obj):
    extra = matrix.url_kwargs().get(name)
    if extra is not None:
        return reverse(name, kwargs=extra(obj))
    return reverse(name, kwargs={"pk": obj.pk}) if "<" in pattern else reverse(name)


def _text(resp) -> str:
    ctype = resp.get("Content-Type", "")
    body = b"".join(resp.streaming_content) if getattr(resp, "streaming", False) else resp.content
    if "spreadsheetml" in ctype:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(" ".join(str(v) for v in row if v is not None) for ws in wb for row in ws.iter_rows(values_only=True))
    return body.decode("utf-8", "replace")


def _leaks(cast, target, text):
    leaks = []
    for key, name in TARGET_NAMES.items():
        if name in text and not _covers(target, cast.persons[key]):
            leaks.append(name)
    return leaks


def _request(client, method, url, api_call):
    if method == "GET":
        return client.get(url)
    if api_call:
        return client.generic(method, url, data=json.dumps({}), content_type="application/json")
    return client.generic(method, url, data="", content_type="application/x-www-form-urlencoded")


_CLIENTS: dict = {}


def _client(user) -> Client:
    """A client signed in as `user` (None: anonymous), made once per test and user: signing
    in for every request made this test the slowest of the suite."""
    key = (id(_CLIENTS.get("_test")), getattr(user, "pk", None))
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = Client()
        if user is not None:
            client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_clients():
    _CLIENTS.clear()
    _CLIENTS["_test"] = object()
    yield
    _CLIENTS.clear()


class Cases:
    """Each (route, subject) is a subtest of its own: it passes or fails by itself."""

    def __init__(self, subtests):
        self.subtests = subtests
        self.count = 0
        self.refused_at: set[tuple[str, str]] = set()  # (role, scope) tried on a route it lacks the permission of

    def assert_refusals_everywhere(self):
        """Every role was tried at each of NONHOLDER_SCOPES on some route it may not use."""
        if os.environ.get("FANGKONG_MATRIX_ONLY"):
            return
        missing = [(r, sc) for r in all_roles() if r != "admin" for sc in NONHOLDER_SCOPES if (r, sc) not in self.refused_at]
        assert not missing, f"refused roles never tried at these scopes: {missing}"

    @contextmanager
    def case(self, name: str):
        problems: list[str] = []
        self.count += 1
        with self.subtests.test(msg=name):
            yield problems
            assert not problems, "\n".join(problems)


_TIMES: dict = {}  # FANGKONG_MATRIX_TIMES=1: seconds spent per route, the slowest printed at the end


def _check(cast, subjects, method, url, perm, obj, kind, api_call, cases, whole_tree=False, route=None):
    """`route`: the route's name or path template (the turn of NONHOLDER_SCOPES; stable
    whatever the object's id)."""

    started = time.perf_counter()
    try:
        _check_subjects(cast, subjects, method, url, perm, obj, kind, api_call, cases, whole_tree, route)
    finally:
        key = f"{method} {route or url}"
        _TIMES[key] = _TIMES.get(key, 0.0) + time.perf_counter() - started


def _print_times():
    if os.environ.get("FANGKONG_MATRIX_TIMES") == "1":
        import sys

        for key, seconds in sorted(_TIMES.items(), key=lambda kv: -kv[1])[:40]:
            print(f"{seconds:8.2f}s  {key}", file=sys.stderr)
        print(f"{sum(_TIMES.values()):8.2f}s  in all, {len(_TIMES)} routes", file=sys.stderr)
    _TIMES.clear()


def _check_subjects(cast, subjects, method, url, perm, obj, kind, api_call, cases, whole_tree, route):
    for label, role, user, target in subjects:
        scope = label.partition("@")[2]
        if kind == "perm" and not _tried(role, scope, perm, f"{method} {route or url}"):
            continue
        if kind == "perm" and role not in (None, "admin") and perm not in role_perms(role):
            cases.refused_at.add((role, scope))
        with cases.case(f"{method} {url} as {label}") as failures:
            _check_one(cast, method, url, perm, obj, kind, api_call, failures, whole_tree, label, role, user, target)


def _check_one(cast, method, url, perm, obj, kind, api_call, failures, whole_tree, label, role, user, target):
    client = _client(user)
    resp = _request(client, method, url, api_call)
    code = resp.status_code
    where = f"{method} {url} as {label}: {code}"
    if code >= 500:
        failures.append(where + " (server error)")
        return
    if user is None:
        if kind == "public":
            return
        ok = code == 401 if api_call else (code == 302 and "/login/" in resp["Location"])
        if not ok:
            failures.append(where + " (anonymous must be sent to sign in)")
        return
    if kind == "token":  # an upstream system's credential: a session is not one
        if code != 401:
            failures.append(where + " (expected 401: only the system's credential lets it in)")
        return
    if kind == "authenticated" or kind == "public":
        if code in (403, 404):
            failures.append(where + " (any signed-in user may use this route)")
    else:
        has = role is not None and perm in role_perms(role)
        if not has:
            if code != 403:
                failures.append(where + f" (expected 403: role lacks {perm})")
            return
        if whole_tree and role != "admin" and not _is_root(target):
            # Acts on every place at once: a grant below the tree's root is not enough.
            if code != 403:
                failures.append(where + f" (expected 403: {perm} over the whole tree only)")
            return
        if obj is not None:
            expected_in = _covers(target if role != "admin" else None, obj, role) and _holds_owner_perm(obj, perm, role)
            if expected_in and code in (403, 404):
                failures.append(where + " (object is in scope)")
            if not expected_in and code != 404:
                failures.append(where + " (expected 404: object outside the grant)")
            return
        if code in (403, 404):
            failures.append(where + " (role holds the permission)")
    if code == 200 and user is not None and role != "admin":
        leaked = _leaks(cast, target, _text(resp))
        if leaked:
            failures.append(where + f" LEAK of {leaked}")


def _allowed_methods(url, api_call, admin):
    client = _client(admin)
    out = []
    for method in ("GET", "POST"):
        if _request(client, method, url, api_call).status_code != 405:
            out.append(method)
    return out


@pytest.mark.django_db(transaction=False)
def test_page_routes_matrix(cast, subtests):
    subjects = _subjects(cast)
    objects = _objects(cast)
    cases, tested = Cases(subtests), 0
    for name, pattern, cb in page_routes():
        kind = declared(cb)
        perm = getattr(cb, "fk_perm", None)
        model = getattr(cb, "fk_object", None)
        if kind == "fk_personal_link":  # its only URL argument is the token
            tested += _check_personal_link_page(cast, subjects, name, pattern, cases)
            continue
        if "<" in pattern and name not in matrix.url_kwargs():
            assert model is not None, f"{name}: requires(..., obj=Model) must name the model behind the URL's pk"
            assert model in objects, f"{name}: add a factory for {model.__name__} in tests/matrix/"
        obj = objects[model] if model is not None else None
        url = _url(name, pattern, obj)
        if name == "logout":
            continue  # covered below: it ends the session it is called with
        started = time.perf_counter()
        if kind != "fk_public":
            assert _client(cast.admin).delete(url).status_code == 405, f"DELETE {url} must be 405"
        methods = _allowed_methods(url, False, cast.admin)
        _TIMES["(methods probed)"] = _TIMES.get("(methods probed)", 0.0) + time.perf_counter() - started
        for method in methods:
            _check(cast, subjects, method, url, perm, obj, "perm" if kind == "fk_perm" else kind.replace("fk_", ""), False, cases,
                   whole_tree=getattr(cb, "fk_whole_tree", False), route=name)
            tested += 1
        # Re-create the object if a POST may have changed it, so later routes see a fresh one.
        if model is not None:
            started = time.perf_counter()
            objects[model] = matrix.factories()[model](cast)
            _TIMES["(objects re-created)"] = _TIMES.get("(objects re-created)", 0.0) + time.perf_counter() - started
    # Every role is tried at least once (at its own community) on every route.
    floor = 1 if os.environ.get("FANGKONG_MATRIX_ONLY") else 15
    assert tested >= floor and cases.count >= floor * (3 + len(all_roles()) - 1)
    _print_times()
    cases.assert_refusals_everywhere()


def _resident_token(cast) -> str:
    from fangkong.accounts.actions import issue_resident_link

    return issue_resident_link(acting_user=None, person=cast.person_a1)


def _check_personal_link_page(cast, subjects, name, pattern, cases) -> int:
    """A personal-link page: the URL's token is its only argument. With person A1's valid
    token anyone (anonymous included) gets the page and sees no other person's name; with
    a wrong token everyone gets 404."""
    assert "<" in pattern and reverse(name, kwargs={"token": "x" * 32}), f"{name}: personal-link routes take <token>"
    good = reverse(name, kwargs={"token": _resident_token(cast)})
    bad = reverse(name, kwargs={"token": "not-a-valid-token-0123456789abcdef"})
    n = 0
    for method in ("GET", "POST"):
        probe = _request(Client(), method, good, False)
        if probe.status_code == 405:
            continue
        n += 1
        for label, _role, user, _target in subjects:
          with cases.case(f"{method} {name} (personal link) as {label}") as failures:
            client = _client(user)
            resp = _request(client, method, good, False)
            if resp.status_code in (401, 403, 404) or resp.status_code >= 500:
                failures.append(f"{method} {good} as {label}: {resp.status_code} (valid personal link)")
            elif resp.status_code == 200:
                text = _text(resp)
                leaked = [v for k, v in TARGET_NAMES.items() if k != "person_a1" and v in text]
                if leaked:
                    failures.append(f"{method} {good} as {label}: LEAK of {leaked}")
            resp = _request(client, method, bad, False)
            if resp.status_code != 404:
                failures.append(f"{method} {bad} as {label}: {resp.status_code} (expected 404 for a wrong link)")
    return n


@pytest.mark.django_db
def test_api_operations_matrix(cast, subtests):
    subjects = _subjects(cast)
    objects = _objects(cast)
    cases = Cases(subtests)
    ops = api_operations()
    for op in ops:
        if op.model is not None:
            assert op.model in objects, f"{op.method} {op.path}: add a factory for {op.model.__name__} in tests/matrix/"
        obj = objects[op.model] if op.model else None
        url = op.path.replace("{pk}", str(obj.pk)) if obj else op.path
        kind = "public" if op.public else "perm" if op.perm else "token" if op.token else "authenticated"
        _check(cast, subjects, op.method, url, op.perm, obj, kind, True, cases, whole_tree=op.whole_tree, route=op.path)
        if op.personal_link:
            with cases.case(f"{op.method} {url} with a personal link") as failures:
                _check_personal_link_api(cast, op.method, url, failures)
        if op.token:
            with cases.case(f"{op.method} {url} with a {op.token} credential") as failures:
                _check_credential_api(cast, op.method, url, op.token, failures)
        if op.model is not None:
            objects[op.model] = matrix.factories()[op.model](cast)
    admin = Client()
    admin.force_login(cast.admin)
    for op in ops:
        url = op.path.replace("{pk}", str(cast.person_a1.pk))
        taken = {o.method for o in ops if o.path == op.path}
        for wrong in {"PUT", "DELETE"} - taken:
            with cases.case(f"{wrong} {op.path} is 405") as failures:
                if admin.generic(wrong, url).status_code != 405:
                    failures.append(f"{wrong} {url} must be 405")
    assert cases.count >= len(ops) * (3 + len(all_roles()) - 1)
    _print_times()
    cases.assert_refusals_everywhere()


def _check_personal_link_api(cast, method, url, failures):
    """An operation for a resident's device: a valid token header is let in, a wrong one is 401."""
    token = _resident_token(cast)
    for header, ok in ((token, True), ("wrong-token-0123456789", False)):
        resp = Client().generic(method, url, data=json.dumps({}), content_type="application/json",
                                headers={"X-Resident-Token": header})
        code = resp.status_code
        if ok and (code in (401, 403, 404) or code >= 500):
            failures.append(f"{method} {url} with a valid personal link: {code}")
        if not ok and code != 401:
            failures.append(f"{method} {url} with a wrong personal link: {code} (expected 401)")


def _check_credential_api(cast, method, url, kind, failures):
    """An operation for an upstream system: its live credential is let in; a wrong one and
    the same one once revoked are 401."""
    secret, revoke = matrix.credentials()[kind](cast)
    for header, ok in ((secret, True), ("wrong-credential-0123456789", False), (None, False)):
        if header is None:
            revoke()
            header = secret
        resp = Client().generic(method, url, headers={"Authorization": f"Bearer {header}"})
        code = resp.status_code
        if ok and (code in (401, 403, 404) or code >= 500):
            failures.append(f"{method} {url} with a live {kind} credential: {code}")
        if not ok and code != 401:
            failures.append(f"{method} {url} with a wrong or revoked {kind} credential: {code} (expected 401)")


@pytest.mark.django_db
def test_logout_needs_a_session_and_post(cast):
    client = Client()
    assert client.post("/logout/").status_code == 302  # anonymous: to sign in
    client.force_login(cast.nogrant)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302  # signed out
