"""The ONE place that decides who sees and does what (DESIGN.md §3).

A user holds grants: a role over a place subtree or over an organization (admin: over
everything). A role carries permissions; each app declares its roles and permissions in
its permissions.py (declare(), below), merged here into one table. For a permission:

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

import contextvars
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from fangkong.lib.db import fastsql
from fangkong.lib.workflow import Transition

from .models import Grant, Place

# --- Roles and permissions, declared by the apps ----------------------------------------
# Each app declares the roles it brings and its permissions (with the roles that hold
# them) in its own permissions.py, loaded by its AppConfig (fangkong.lib.apps); declare()
# merges them here into the one table that every check and the access-matrix test read.
# The admin role holds every permission.

_ROLE_LABELS: dict[str, object] = {}
_PERM_ROLES: dict[str, set[str]] = {}
_TABLE: dict[str, dict] = {}
_PERM_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")


def declare(*, roles: dict | None = None, perms: dict | None = None, extend: dict | None = None) -> None:
    """Add roles ({role: label}), permissions ({perm: roles holding it}) and, for
    permissions another app declared, more roles holding them (extend). A permission is
    declared once; a role may be declared again only with the same label."""
    for role, label in (roles or {}).items():
        if not re.fullmatch(r"[a-z_]{2,20}", role):
            raise ValueError(f"bad role name {role!r}")
        if role in _ROLE_LABELS and _ROLE_LABELS[role] != label:
            raise ValueError(f"role {role!r} declared twice")
        _ROLE_LABELS[role] = label
    for perm, who in (perms or {}).items():
        if not _PERM_NAME.match(perm):
            raise ValueError(f"bad permission name {perm!r}")
        if perm in _PERM_ROLES:
            raise ValueError(f"permission {perm!r} declared twice")
        _PERM_ROLES[perm] = set(who)
    for perm, who in (extend or {}).items():
        if perm not in _PERM_ROLES:
            raise ValueError(f"cannot extend undeclared permission {perm!r}")
        _PERM_ROLES[perm] |= set(who)
    _TABLE.clear()


def _table() -> dict:
    """The merged table, built once after the declarations (and again after a new one)."""
    if not _TABLE:
        if "admin" not in _ROLE_LABELS:
            raise RuntimeError("no roles declared yet (fangkong.places must be installed and ready)")
        for perm, who in _PERM_ROLES.items():
            unknown = who - set(_ROLE_LABELS) | (who & {"admin"})
            if unknown:
                raise ValueError(f"permission {perm!r} names unknown roles {sorted(unknown)} (admin holds all)")
        perms = frozenset(_PERM_ROLES)
        _TABLE.update(
            roles=tuple(_ROLE_LABELS),
            perms=perms,
            role_perms={role: perms if role == "admin" else frozenset(p for p, rs in _PERM_ROLES.items() if role in rs)
                        for role in _ROLE_LABELS},
            perm_roles={p: frozenset(rs) for p, rs in _PERM_ROLES.items()},
        )
    return _TABLE


def all_roles() -> tuple[str, ...]:
    return _table()["roles"]


def all_perms() -> frozenset[str]:
    return _table()["perms"]


def role_perms(role: str) -> frozenset[str]:
    return _table()["role_perms"].get(role, frozenset())


def perm_roles(perm: str) -> frozenset[str]:
    """The roles (admin aside) holding `perm`."""
    _check_perm(perm)
    return _table()["perm_roles"][perm]


def role_label(role: str):
    return _ROLE_LABELS.get(role, role)


def role_choices() -> list[tuple[str, object]]:
    return [(r, _ROLE_LABELS[r]) for r in all_roles()] if _ROLE_LABELS else []


def _check_perm(perm: str) -> None:
    if perm not in _table()["perms"]:
        raise ValueError(f"unknown permission {perm!r}")


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
            today = _today()
            cur.execute(_grants_sql(), [user.pk, today, today])
            cached = [Scope(role, place_id, path, org_id) for role, place_id, path, org_id in cur.fetchall()]
        user._fk_grants = cached
    return cached


_GRANTS_SQL: list[str] = []


def _today():
    from django.utils import timezone

    return timezone.localdate()


def _in_force(col, g) -> str:
    """A grant counts while it is not revoked and, when it has dates, on the days from
    starts_on to ends_on (local dates), from the first request of the first day to the last
    of the last: the check itself says so (two date parameters), not the hourly task that
    keeps the `active` column in step for lists (accounts.apply_grant_dates)."""
    return (f"{col(g, 'revoked_at')} IS NULL "
            f"AND ({col(g, 'starts_on')} IS NULL OR {col(g, 'starts_on')} <= %s) "
            f"AND ({col(g, 'ends_on')} IS NULL OR {col(g, 'ends_on')} >= %s)")


def _grants_sql() -> str:
    """The active grants of a user with their place's path: one statement, built once from
    the models (every signed-in request reads it; the ORM would compile it each time)."""
    if not _GRANTS_SQL:
        from django.db import connection

        g = Grant._meta
        cols, place_join, col = _grant_sql_parts()
        _GRANTS_SQL.append(
            f"SELECT {cols} FROM {connection.ops.quote_name(g.db_table)} {place_join} "
            f"WHERE {col(g, 'user')} = %s AND {_in_force(col, g)} ORDER BY {col(g, 'id')}")
    return _GRANTS_SQL[0]


def _grant_sql_parts():
    """The SELECT list of a grant as a Scope (role, place id, place path, organization id),
    the join of its place, and a column-naming helper: shared by the grants query and
    user_with_grants."""
    from django.db import connection

    qn = connection.ops.quote_name
    g, p = Grant._meta, Place._meta
    col = lambda meta, name: f"{qn(meta.db_table)}.{qn(meta.get_field(name).column)}"  # noqa: E731
    cols = f"{col(g, 'role')}, {col(g, 'place')}, {col(p, 'path')}, {col(g, 'organization')}"
    return cols, f"LEFT OUTER JOIN {qn(p.db_table)} ON {col(g, 'place')} = {col(p, 'id')}", col


_USER_SQL: dict = {}

# --- The signed-in user kept across requests ---------------------------------------------
# Every signed-in request needs the user, its grants (with their places' paths) and, when a
# permission of a membership role is asked, its memberships. They change rarely, so each
# process keeps what it read, keyed by the auth version: one row (places.AuthVersion)
# holding a random number that the database changes itself, by triggers on every table
# these are read from (install_auth_triggers, run after every migrate), whoever writes and
# however (a queryset update, raw SQL, another server). The session is read with the
# version in one statement (accounts.sessions), and a user kept under that version is the
# user as of that version; any other version is a miss, read anew.
#
# Why it is safe: what is kept under a version was read in the same statement as that
# version (user_with_grants: one snapshot), or after it on the same connection
# (memberships: version first, then the members), so it is never older than its version.
# A change committed later bumps the version (a miss); a change of this transaction bumps
# it inside the transaction, to a random number no other transaction will see again if it
# rolls back. No version (the row missing: a flushed test database) keeps nothing.
#
# Counted (tests: test_a_registration_reads_the_site_and_the_person_then_writes_three_rows):
# the session, the user with grants and the memberships were three statements of every
# registration, now one; W6's rate did not measurably change with it (bench/RESULTS.md).

_AUTH_TABLES: list[tuple[Callable[[], list[str]], tuple[str, ...], tuple[str, ...] | None]] = []
_KEPT_USERS: dict = {}  # (pk, version, today) -> (converted user values, grants)
_KEPT_MEMBERS: dict = {}  # (pk, version) -> membership scopes
_KEPT_MAX = 20_000
_VERSION_SEEN: contextvars.ContextVar = contextvars.ContextVar("fangkong_auth_version", default=None)


def declare_auth_tables(tables: Callable[[], list[str]], *, ignore_columns: tuple[str, ...] = (),
                        only_columns: tuple[str, ...] | None = None) -> None:
    """Tables the signed-in user is read from (`tables()` returns their names once the
    models are loaded): a write to any of them changes the auth version, except an UPDATE
    that sets none of `only_columns` (when given) or only `ignore_columns`."""
    _AUTH_TABLES.append((tables, tuple(ignore_columns), only_columns))


def _user_tables() -> list[str]:
    from django.contrib.auth import get_user_model

    return [get_user_model()._meta.db_table]


# The user (not its last sign-in time, written at every sign-in: a kept user may show an
# older one), its grants, and the paths of the places they name.
declare_auth_tables(_user_tables, ignore_columns=("last_login",))
declare_auth_tables(lambda: [Grant._meta.db_table])
# The paths of grants' places; a place's kind, name and code, as kept() keeps a checkpoint.
declare_auth_tables(lambda: [Place._meta.db_table], only_columns=("path", "kind", "name", "code"))


def _version_table() -> str:
    from .models import AuthVersion

    return AuthVersion._meta.db_table


def auth_version_sql() -> str:
    """A scalar subquery of the current auth version (NULL when there is none), for the
    statement that reads the session."""
    from django.db import connection

    return f"(SELECT n FROM {connection.ops.quote_name(_version_table())} WHERE id = 1)"


def read_auth_version():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT {auth_version_sql()}")
        return cur.fetchone()[0]


def saw_auth_version(version) -> None:
    """The auth version read with this request's session (None: nothing may be reused)."""
    _VERSION_SEEN.set(version)


def take_auth_version():
    """The version read with this request's session, once."""
    version = _VERSION_SEEN.get()
    if version is not None:
        _VERSION_SEEN.set(None)
    return version


def install_auth_triggers(connection) -> None:
    """The triggers that change the auth version on every write to the declared tables
    (idempotent: run after every migrate, which on SQLite may rebuild a table and drop its
    triggers). SQLite: a trigger per table and operation, per row; PostgreSQL: one per
    table, per statement (TRUNCATE included)."""
    qn = connection.ops.quote_name
    version = qn(_version_table())
    existing = set(connection.introspection.table_names())
    if _version_table() not in existing:
        return
    random = "floor((random() - 0.5) * 9.2e18)::bigint" if connection.vendor == "postgresql" else "random()"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "CREATE OR REPLACE FUNCTION fangkong_auth_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO {version} (id, n) VALUES (1, {random}) "
                "ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n; RETURN NULL; END $$")
        else:
            # No INSERT OR REPLACE: SQLite applies the firing statement's conflict policy
            # to the trigger's statements (Django adds members by INSERT OR IGNORE, which
            # would leave the number as it was). An insert that cannot conflict, an update.
            bump = (f"INSERT INTO {version} (id, n) SELECT 1, {random} WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {version} WHERE id = 1); UPDATE {version} SET n = {random} WHERE id = 1;")
        cur.execute(f"SELECT count(*) FROM {version}")
        if cur.fetchone()[0] == 0:
            cur.execute(f"INSERT INTO {version} (id, n) VALUES (1, {random})")
        for tables, ignore, only in _AUTH_TABLES:
            for table in tables():
                if table not in existing:
                    continue
                columns = [c.name for c in connection.introspection.get_table_description(cur, table)]
                watched = [c for c in columns if c not in ignore and (only is None or c in only)]
                update = f"UPDATE OF {', '.join(qn(c) for c in watched)}" if ignore or only else "UPDATE"
                name = qn(f"fk_auth_{table}"[:60])
                if connection.vendor == "postgresql":
                    cur.execute(f"CREATE OR REPLACE TRIGGER {name} AFTER INSERT OR {update} OR DELETE ON {qn(table)} "
                                "FOR EACH STATEMENT EXECUTE FUNCTION fangkong_auth_bump()")
                    cur.execute(f"CREATE OR REPLACE TRIGGER {qn(f'fk_authtr_{table}'[:60])} AFTER TRUNCATE ON "
                                f"{qn(table)} FOR EACH STATEMENT EXECUTE FUNCTION fangkong_auth_bump()")
                else:
                    for op, when in (("i", "INSERT"), ("u", update), ("d", "DELETE")):
                        trig = qn(f"fk_auth_{op}_{table}"[:60])
                        # An UPDATE OF list that changed (a new column) needs the trigger anew.
                        cur.execute(f"DROP TRIGGER IF EXISTS {trig}")
                        cur.execute(f"CREATE TRIGGER {trig} AFTER {when} ON {qn(table)} BEGIN {bump} END")
    _KEPT_USERS.clear()
    _KEPT_MEMBERS.clear()
    _KEPT_ROWS.clear()


def _keep(store: dict, key, value) -> None:
    if len(store) >= _KEPT_MAX:
        store.clear()
    store[key] = value


_KEPT_ROWS: dict = {}  # (kind, key, version) -> a value read from auth tables


def kept(user, kind: str, key, load: Callable[[], object]):
    """`load()`, a value read only from tables declared with declare_auth_tables (the
    columns that matter among their only_columns), kept by this process under the auth
    version read with this request's session, so that a request under the same version
    reads nothing; any write to those tables changes the version, and the next request
    reads anew. Safe by the rule above: it is read after that version was (later in the
    same request), so never older than it. Not inside a transaction, which may hold its own
    uncommitted writes, and not without a version (no signed-in user: load() each time).
    None (a missing row) is not kept: ids sent at random fill nothing. The value is shared
    by every request of the process: keep plain values (a tuple), not a model instance."""
    from django.db import connection

    version = getattr(user, "_fk_version", None)
    if version is None or connection.in_atomic_block:
        return load()
    k = (kind, key, version)
    try:
        return _KEPT_ROWS[k]
    except KeyError:
        value = load()
        if value is not None:
            _keep(_KEPT_ROWS, k, value)
        return value


def user_with_grants(pk, version=None):
    """The user `pk` (every field; None if there is none) with its active grants loaded,
    so that grants() reads nothing more: the authentication backend's read of the
    signed-in user on every request, one statement (user LEFT JOIN grants LEFT JOIN
    places: a row per grant, or one row without) instead of two, with the auth version.
    `version`, the auth version read with the session: a user this process read under the
    same version (and today's date: grants have dates) is made from what was kept, with
    no statement at all."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    model = get_user_model()
    plan = _USER_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        u, g = model._meta, Grant._meta
        cols, place_join, col = _grant_sql_parts()
        reader = fastsql.Reader(model, tuple(f.name for f in u.concrete_fields))
        sql = (f"SELECT {reader.columns}, {cols}, {auth_version_sql()} FROM {qn(u.db_table)} "
               f"LEFT OUTER JOIN {qn(g.db_table)} ON {col(g, 'user')} = {col(u, u.pk.name)} AND {_in_force(col, g)} "
               f"{place_join} WHERE {col(u, u.pk.name)} = %s ORDER BY {col(g, 'id')}")
        plan = _USER_SQL[connection.vendor] = (sql, reader)
    sql, reader = plan
    today = _today()
    kept = _KEPT_USERS.get((pk, version, today)) if version is not None else None
    if kept is None:
        with connection.cursor() as cur:
            cur.execute(sql, [today, today, model._meta.pk.get_db_prep_value(pk, connection, prepared=False)])
            rows = cur.fetchall()
        if not rows:
            return None
        w = reader.width
        kept = (reader.values(rows[0]), [Scope(*row[w:w + 4]) for row in rows if row[w] is not None])
        version = rows[0][-1]
        if version is not None:
            _keep(_KEPT_USERS, (pk, version, today), kept)
    user = model.from_db(connection.alias, reader.attnames, kept[0])
    user._fk_version = version
    if user.is_active:  # grants() of an inactive user is [] without a read
        user._fk_grants = list(kept[1])
    return user


# --- Memberships ------------------------------------------------------------------------
# A role may also be held by belonging to something an app keeps rather than by a grant: a
# member of a street headquarters' working group sees that street's dashboard and HQ board.
# The app declares the role (declare()) and registers here how its members are found:
# places_of(user) -> [(place_id, place_path)], the places where the user belongs now. Every
# check of a permission the role carries counts these as place scopes of that role, read
# when such a permission is first checked in a request (never for the others); nothing is
# copied into the grants, so leaving the group ends the access at once. A membership role
# cannot be granted (accounts refuses it) and delegates nothing (grants() holds grants only).

_MEMBERSHIPS: dict[str, Callable] = {}


def declare_membership(role: str, places_of: Callable, tables: Callable[[], list[str]]) -> None:
    """`tables()`: the names of the tables places_of reads (besides places), whose writes
    change the auth version (declare_auth_tables)."""
    if role not in _ROLE_LABELS or role == "admin":
        raise ValueError(f"membership of undeclared role {role!r}")
    _MEMBERSHIPS[role] = places_of
    declare_auth_tables(tables)
    _TABLE.clear()


def membership_roles() -> frozenset[str]:
    """The roles held by membership only (never granted)."""
    return frozenset(_MEMBERSHIPS)


def memberships(user) -> list[Scope]:
    """The user's membership scopes (role, place), loaded once per request (cached on the user)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active or not _MEMBERSHIPS:
        return []
    cached = getattr(user, "_fk_members", None)
    if cached is None:
        key = (user.pk, getattr(user, "_fk_version", None))
        cached = _KEPT_MEMBERS.get(key) if key[1] is not None else None
        if cached is None:
            version = read_auth_version()  # first, so what is kept is never older than it
            cached = [Scope(role, place_id, path, None)
                      for role, places_of in _MEMBERSHIPS.items() for place_id, path in places_of(user)]
            if version is not None:
                _keep(_KEPT_MEMBERS, (user.pk, version), cached)
        user._fk_members = cached = list(cached)  # the request's own list, the kept one untouched
    return cached


def _member_perms() -> frozenset[str]:
    table = _table()
    if "member_perms" not in table:
        table["member_perms"] = frozenset().union(*(table["role_perms"].get(r, ()) for r in _MEMBERSHIPS))
    return table["member_perms"]


def roles(user) -> list[str]:
    """The user's roles: its grants' and its memberships'."""
    return sorted({g.role for g in grants(user)} | {m.role for m in memberships(user)})


def grants_for(user, perm: str) -> list[Scope]:
    """The scopes through which `user` holds `perm`: its grants carrying it and, for a
    permission a membership role carries, its memberships of that role."""
    _check_perm(perm)
    role_perms = _table()["role_perms"]
    out = [g for g in grants(user) if perm in role_perms.get(g.role, ())]
    if perm in _member_perms():
        out += [m for m in memberships(user) if perm in role_perms.get(m.role, ())]
    return out


def has_perm(user, perm: str) -> bool:
    """Does `user` hold `perm` anywhere? The permissions its grants carry are gathered once
    per grants list (a page's header asks about fifty of them: through grants_for that was
    about a fifth of a page's time in the access matrix's profile); membership roles are
    read only for a permission one of them carries."""
    _check_perm(perm)
    gs = grants(user)
    cached = getattr(user, "_fk_held", None) if user is not None else None
    if cached is None or cached[0] is not gs:
        role_perms = _table()["role_perms"]
        cached = (gs, frozenset().union(*(role_perms.get(g.role, ()) for g in gs)))
        if gs:
            user._fk_held = cached
    if perm in cached[1]:
        return True
    return perm in _member_perms() and bool(grants_for(user, perm))


# --- Refusals ---------------------------------------------------------------------------
# Every refusal this module decides (403 for a missing permission, 404 for an object out of
# scope or missing) is told to the hooks registered here (the places app registers the
# audit's: this module imports no app). A hook gets (user, perm, kind), kind one of
# "denied", "out_of_scope", "missing"; it must not raise.

_REFUSAL_HOOKS: list[Callable] = []


def register_refusal_hook(fn: Callable) -> Callable:
    if fn not in _REFUSAL_HOOKS:
        _REFUSAL_HOOKS.append(fn)
    return fn


def _refused(user, perm: str, kind: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        return
    for fn in _REFUSAL_HOOKS:
        try:
            fn(user, perm, kind)
        except Exception:  # telling of a refusal never turns it into a 500
            import logging

            logging.getLogger(__name__).exception("refusal hook failed")


def require(user, perm: str) -> None:
    if not has_perm(user, perm):
        _refused(user, perm, "denied")
        raise PermissionDenied(perm)


def covers_whole_tree(user, perm: str) -> bool:
    """Whether the user's grants for `perm` reach every place: everything (admin), or place
    grants on every root of the tree. What applies to every street at once (closing a day
    of the daily report, the figures every unit enters) needs that, so that one street's
    coordinator cannot decide it for another street."""
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
        _refused(user, perm, "denied")
        raise PermissionDenied(perm)


def scope_paths(user, perm: str) -> list[str] | None:
    """The place paths of the user's grants for `perm` (each a subtree), or None when a
    grant covers everything."""
    paths = []
    for g in grants_for(user, perm):
        if g.everything:
            return None
        if g.place_path is not None:
            paths.append(g.place_path)
    return paths


def scope_orgs(user, perm: str) -> list[int]:
    """The organizations of the user's organization grants for `perm`."""
    return [g.org_id for g in grants_for(user, perm) if g.org_id is not None]


def top_paths(user, perm: str) -> list[str] | None:
    """The user's grant paths for `perm` without those lying under another one (the tops of
    the places the user sees), sorted; None for everything."""
    paths = scope_paths(user, perm)
    if paths is None:
        return None
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != q and p.startswith(q) for q in unique)]


def ancestor_paths(path: str) -> list[str]:
    """"a/b/c/" -> ["a/", "a/b/", "a/b/c/"]: the place at `path` and every place above it."""
    segments = [s for s in path.split("/") if s]
    return ["/".join(segments[: i + 1]) + "/" for i in range(len(segments))]


def scope_q(model, user, perm: str, *, ancestors: bool = False) -> Q | None:
    """Q selecting the objects of `model` in the user's scope for `perm`; None = all.
    ancestors: also the objects at a place above a granted one (a campaign over the whole
    street is visible to a grid's worker)."""
    path_field = getattr(model, "SCOPE_PATH", None)
    org_field = getattr(model, "SCOPE_ORG", None)
    # SCOPE_EXACT = {role: field}: a place grant of that role covers only the objects whose
    # field holds exactly the grant's place path, not the subtree (a storekeeper of the
    # street's warehouse keeps that warehouse, not every station under the street).
    exact = getattr(model, "SCOPE_EXACT", None) or {}
    q = Q(pk__in=[])
    for g in grants_for(user, perm):
        if g.everything:
            return None
        if g.place_path is not None and g.role in exact:
            q |= Q(**{exact[g.role]: g.place_path})
        elif g.place_path is not None and path_field:
            q |= Q(**{f"{path_field}__under": g.place_path})
            if ancestors:
                q |= Q(**{f"{path_field}__in": ancestor_paths(g.place_path)})
        if g.org_id is not None and org_field:
            q |= Q(**{org_field: g.org_id})
    return q


def scope(qs, user, perm: str, *, ancestors: bool = False):
    q = scope_q(qs.model, user, perm, ancestors=ancestors)
    return qs if q is None else qs.filter(q)


def holders(perm: str, *, place_path: str = "", org_id: int | None = None):
    """The active users who hold `perm` over the place at `place_path` (a grant on it or on
    a place above it) or over the organization `org_id`: whom to tell. Admins (who hold
    every permission over everything) are not included: they are told nothing by default."""
    from django.contrib.auth import get_user_model

    roles = perm_roles(perm)
    where = Q(pk__in=[])
    if place_path:
        where |= Q(place__path__in=ancestor_paths(place_path))
    if org_id is not None:
        where |= Q(organization_id=org_id)
    if not roles or (not place_path and org_id is None):
        return get_user_model().objects.none()
    today = _today()
    grants_ = Grant.objects.filter(where, revoked_at__isnull=True, role__in=sorted(roles)).filter(
        Q(starts_on__isnull=True) | Q(starts_on__lte=today), Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    return get_user_model().objects.filter(is_active=True, pk__in=grants_.values("user_id"))


def get_in_scope(qs, user, perm: str, **lookup):
    """One object within scope, else Http404 (missing and out-of-scope look the same)."""
    if not hasattr(qs, "model"):
        qs = qs._default_manager.all()
    try:
        return scope(qs, user, perm).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        if _REFUSAL_HOOKS:
            _refused(user, perm, _missing_or_out_of_scope(qs, lookup))
        raise Http404 from None


def _missing_or_out_of_scope(qs, lookup) -> str:
    """For the audit of a 404 only (the answer is the same): whether the object exists
    outside the user's scope, the queryset given possibly already scoped (one query, on
    the refusal path only)."""
    try:
        return "out_of_scope" if qs.model._default_manager.filter(**lookup).exists() else "missing"
    except (ValueError, TypeError):
        return "missing"


def may(user, perm: str, obj) -> bool:
    """Whether `user` holds `perm` over `obj` (a page's "show this button" question): the
    permission, and the object inside the grants that carry it."""
    return has_perm(user, perm) and in_scope(obj, user, perm)


def in_scope(obj, user, perm: str) -> bool:
    return scope(type(obj)._default_manager.filter(pk=obj.pk), user, perm).exists()


def path_in_scope(user, perm: str, path: str) -> bool:
    """Whether an object at place path `path` lies in the user's scope for `perm`: what
    scope() decides for a model with SCOPE_PATH, from the grants already loaded (no query)."""
    return any(g.everything or (g.place_path is not None and path.startswith(g.place_path)) for g in grants_for(user, perm))


def loaded_in_scope(obj, user, perm: str) -> bool:
    """Whether the loaded object `obj` lies in the user's scope for `perm`, decided from
    its own fields and the grants already loaded (no query): what scope() would select for
    a model whose SCOPE_PATH, SCOPE_ORG and SCOPE_EXACT fields are columns of its own
    (the `under` lookup is a prefix of the path). For a hot path that has read the object
    by a prepared statement; when this says no, call get_in_scope for the answer and the
    refusal's audit (a 404 either way)."""
    model = type(obj)
    path_field = getattr(model, "SCOPE_PATH", None)
    org_field = getattr(model, "SCOPE_ORG", None)
    exact = getattr(model, "SCOPE_EXACT", None) or {}
    if any("__" in f for f in (path_field or "", org_field or "", *exact.values())):
        return False  # a field of a related object: only the query can tell
    for g in grants_for(user, perm):
        if g.everything:
            return True
        if g.place_path is not None and g.role in exact:
            if getattr(obj, exact[g.role]) == g.place_path:
                return True
        elif g.place_path is not None and path_field and (getattr(obj, path_field) or "").startswith(g.place_path):
            return True
        if g.org_id is not None and org_field and getattr(obj, org_field) == g.org_id:
            return True
    return False


def possible_transitions(table: dict[str, Transition], obj, user) -> list[tuple[str, Transition]]:
    """The (name, transition) pairs of `table` that `user` may take on `obj` now: allowed
    from its state, the user holds the transition's permission, and `obj` lies in the
    user's scope for it (the access module decides both)."""
    allowed: dict[str, bool] = {}  # one scope query per permission, not per transition
    out = []
    for name, t in table.items():
        if obj.state not in t.sources:
            continue
        if t.perm not in allowed:
            allowed[t.perm] = may(user, t.perm, obj)
        if allowed[t.perm]:
            out.append((name, t))
    return out


def places_in_scope(user, perm: str):
    return scope(Place.objects.all(), user, perm)


# --- View markers ---------------------------------------------------------------------
# Every route declares its permission (or that it is public); the access-matrix test reads
# these markers, so an unmarked new route fails the test suite.

def requires(perm: str, obj=None, whole_tree: bool = False):
    """Decorator for page views: the permission this route needs, and (for routes with a
    <pk>) the model whose object the pk names. whole_tree: the route acts on every place
    at once, so the permission must come with a grant over the whole tree (covers_whole_tree)."""
    _check_perm(perm)
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


# API operations say what they need in the OpenAPI schema (/api/docs): each auth below is a
# security scheme of its own whose x-fangkong-* fields name the permission, the model
# behind {pk}, whole_tree, a personal link or a public route. The access-matrix test reads
# them from the schema, the API's public description, and nothing else.

def _model_label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}" if model is not None else ""


def api_perm(perm: str, obj=None, whole_tree: bool = False):
    """django-ninja auth for an API operation: signed in (else 401) and holding `perm`
    (else 403; whole_tree: as in requires). It runs before the body is parsed, so a wrong
    role gets 403, not 422."""
    from ninja.security import SessionAuth

    _check_perm(perm)
    check = require_whole_tree if whole_tree else require

    def authenticate(self, request, key):
        if not request.user.is_authenticated:
            return None
        check(request.user, perm)
        return request.user

    # The scheme's name in the schema is the class's name: one per permission, model and
    # whole_tree, so that each operation's security names exactly what it needs.
    name = "perm:" + perm + (f"@{_model_label(obj)}" if obj is not None else "") + ("+whole_tree" if whole_tree else "")
    auth = type(name, (SessionAuth,), {"authenticate": authenticate, "fk_perm": perm, "fk_object": obj,
                                       "fk_whole_tree": whole_tree})()
    auth.openapi_security_schema.update({
        "description": f"Signed in with a grant holding {perm}" + (" over the whole tree" if whole_tree else ""),
        "x-fangkong-perm": perm, "x-fangkong-object": _model_label(obj), "x-fangkong-whole-tree": whole_tree})
    return auth


def public(reason: str):
    """Mark a route as needing no permission (login page, language switch...)."""

    def deco(fn):
        fn.fk_public = reason
        return fn

    return deco


def public_api(reason: str) -> dict:
    """The keyword arguments of an API operation anyone may call (a public form's
    endpoint): `@router.post(..., **public_api("why"))`. It lets every request in and says
    so, with the reason, in the operation's OpenAPI description (x-fangkong-public)."""

    def allow(request):
        return True

    allow.fk_public = reason
    return {"auth": allow, "openapi_extra": {"x-fangkong-public": reason}}


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


@dataclass(frozen=True)
class LinkResolver:
    """How a personal link's token names a person, registered by the app that issues the
    links (accounts): `person(token)` -> the person or None (pages); `person_id(token)` ->
    its id or None, and `load(id)` -> the person (devices: the id on every call, the person
    only when an operation reads it)."""

    person: Callable
    person_id: Callable
    load: Callable


_LINKS: list[LinkResolver] = []


def register_link_resolver(resolver: LinkResolver) -> None:
    _LINKS[:] = [resolver]


def _links() -> LinkResolver:
    if not _LINKS:
        raise RuntimeError("no personal-link resolver registered (fangkong.accounts must be installed)")
    return _LINKS[0]


def personal_link(fn):
    """A resident's page reached by a personal link (no password): the URL's `token`
    names the person (request.resident); an unknown, expired or revoked token is a 404,
    whoever is signed in. The page shows only that person's own things."""

    @wraps(fn)
    def wrapper(request, token, *args, **kwargs):
        person = _links().person(token)
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
            links = _links()
            person_id = links.person_id(key or "")
            if person_id is None:
                return None
            request.resident_id = person_id
            request.resident = SimpleLazyObject(lambda: links.load(person_id))
            return person_id

    auth = LinkAuth()
    auth.openapi_security_schema.update({"description": "A resident's personal link", "x-fangkong-personal-link": True})
    return auth


# --- System credentials -----------------------------------------------------------------
# An upstream system (the CDC's) calls an operation with a credential the admin made for it
# and named after it, not with a person's session. The app that issues such credentials
# registers how one is checked, `register_credential(kind, check)` with check(secret) -> the
# live credential or None (it audits a refused known credential); the operation declares
# `auth=token_auth(kind)`. A missing, unknown or revoked credential is 401 whoever is signed
# in (a session is not the credential); the credential is request.auth in the operation,
# which reads only what it scopes (its area, its export).

_CREDENTIALS: dict[str, Callable] = {}


def register_credential(kind: str, check: Callable) -> None:
    if not _PERM_NAME.match(kind):
        raise ValueError(f"bad credential kind {kind!r}")
    _CREDENTIALS[kind] = check


def token_auth(kind: str, description: str = ""):
    """django-ninja auth for an operation called by an upstream system with its credential
    of `kind` (Authorization: Bearer <secret>); else 401."""
    from ninja.security import HttpBearer

    if not _PERM_NAME.match(kind):
        raise ValueError(f"bad credential kind {kind!r}")

    def authenticate(self, request, token):
        check = _CREDENTIALS.get(kind)
        if check is None:
            raise RuntimeError(f"no checker registered for credentials of kind {kind!r}")
        return check(token or "") if token and len(token) <= 200 else None

    auth = type("token:" + kind, (HttpBearer,), {"authenticate": authenticate, "fk_token": kind})()
    auth.openapi_security_schema.update({
        "description": description or f"An upstream system's credential of kind {kind}, made by the admin",
        "x-fangkong-token": kind})
    return auth
