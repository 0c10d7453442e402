"""Writes of mass testing as named actions (each audited): rounds and their states, sites
with lanes and posts, the registration of a person into a pooled tube (online, or a batch
synced from a phone that was offline), sealing, boxes handed site → courier → lab, results
per tube, the recall of a positive pool, and the door-knock of households not tested.

Registration holds under concurrency: the tube's row is locked while its count goes up,
and a check constraint keeps the count at or under the capacity; a person is registered
once per round (a partial unique index), a device's entry once (its client id).

The registration's reads are statements built once (fastsql), not querysets compiled on
every scan: the person by the name search's id (_person_in_area), the site with its round
(queries.site_values, kept under the auth version; scope from the loaded grants) and the
audit's HQ memberships (command.permissions). Measured in-process on the bench's request (W6, SQLite,
2026-12-06): 6.0 ms of CPU a registration before, 1.9–2.6 ms after, the ORM's compiling
of those three queries having been ~3.5 ms of it (the floor's write: 0.6 ms).
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import prepare as audit_prepare
from fangkong.audit.actions import record
from fangkong.lib import crypto, registry
from fangkong.lib.db import fastsql, group_commit
from fangkong.lib.identity import IdentityError, mask_name, normalize_id
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition
from fangkong.places.access import path_in_scope
from fangkong.residents.models import Person

from .models import POOLING_SIZES, Box, Knock, Lane, Policy, Post, Recall, Registration, Round, Site, Tube

FUTURE_SKEW = dt.timedelta(minutes=10)
MAX_AGE = dt.timedelta(days=30)
MAX_BATCH = 10_000
SYNC_CHUNK = 100
TUBE_CODE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")

TRANSITIONS = {
    "start": Transition("testing.manage", (Round.State.PLANNED,), Round.State.RUNNING, gettext_lazy("Start")),
    "close": Transition("testing.manage", (Round.State.RUNNING,), Round.State.CLOSED, gettext_lazy("Close")),
}
REFUSED = gettext_lazy("Cannot %(action)s a round that is %(state)s")


# --- Rounds, sites, lanes, posts ------------------------------------------------------------

def _check_place(user, perm: str, place, field: str = "place") -> None:
    if place is None or (user is not None and not path_in_scope(user, perm, place.path)):
        raise Invalid({field: _("Choose a place in your area")})


@transaction.atomic
def create_round(*, acting_user, name: str, place, start_date, end_date, pooling: int = 10, min_age=None, max_age=None,
                 tags: str = "", compounds=()) -> Round:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Give the round a name")
    if pooling not in POOLING_SIZES:
        errors["pooling"] = _("Pooling size must be 1, 5, 10 or 20")
    if not start_date or not end_date or end_date < start_date:
        errors["end_date"] = _("The end date must not be before the start date")
    if min_age is not None and max_age is not None and max_age < min_age:
        errors["max_age"] = _("The maximum age must not be below the minimum age")
    try:
        _check_place(acting_user, "testing.manage", place)
    except Invalid as exc:
        errors.update(exc.errors)
    for c in compounds:
        if place is not None and not c.path.startswith(place.path):
            errors["compounds"] = _("The compounds must lie in the round's area")
    if errors:
        raise Invalid(errors)
    rnd = Round.objects.create(name=name[:100], place=place, place_path=place.path, start_date=start_date,
                               end_date=end_date, pooling=pooling, min_age=min_age, max_age=max_age,
                               tags=(tags or "").strip()[:200], created_by=acting_user if getattr(acting_user, "pk", None) else None)
    if compounds:
        rnd.compounds.set(compounds)
    record(acting_user, "testing.round.create", obj=rnd, place_path=rnd.place_path)
    return rnd


@transaction.atomic
def transition(*, acting_user, round: Round, action: str) -> Round:
    t = TRANSITIONS.get(action)
    if t is None:
        raise Invalid({"action": _("Unknown action")})
    rnd = apply_transition(Round.objects.all(), round, t, refused=REFUSED, lower=True)
    record(acting_user, f"testing.round.{action}", obj=rnd, place_path=rnd.place_path)
    return rnd


@transaction.atomic
def create_site(*, acting_user, round: Round, name: str, place, opens, closes, organization=None,
                lanes=(Lane.Kind.ORDINARY,)) -> Site:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Give the site a name")
    if place is None or not place.path.startswith(round.place_path):
        errors["place"] = _("The site must stand in the round's area")
    if opens is None or closes is None or closes <= opens:
        errors["closes"] = _("The site must close after it opens")
    if organization is not None and (organization.kind != "site"
                                     or not (organization.place_path or "").startswith(round.place_path)):
        errors["organization"] = _("Choose an organization of kind site")
    bad = [k for k in lanes if k not in Lane.Kind.values]
    if bad or not lanes:
        errors["lanes"] = _("Choose the lanes of the site")
    if errors:
        raise Invalid(errors)
    site = Site.objects.create(round=round, name=name[:100], place=place, place_path=place.path, opens=opens,
                               closes=closes, organization=organization)
    Lane.objects.bulk_create([Lane(site=site, kind=k, number=i) for i, k in enumerate(lanes, start=1)])
    record(acting_user, "testing.site.create", obj=site, place_path=site.place_path)
    return site


@transaction.atomic
def add_post(*, acting_user, site: Site, kind: str, user) -> Post:
    if kind not in Post.Kind.values:
        raise Invalid({"kind": _("Choose the post")})
    if user is None:
        raise Invalid({"user": _("Choose the account")})
    post, created = Post.objects.get_or_create(site=site, kind=kind, user=user)
    if created:
        record(acting_user, "testing.post.add", obj=post, place_path=site.place_path)
    return post


# --- Finding the person -----------------------------------------------------------------------

def area_persons(site: Site):
    """The persons the registrar at `site` may look up by ID number or name: those
    registered in the site's area (never a person of another community)."""
    return Person.objects.filter(place_path__under=site.place_path)


def _with_recall(qs, site: Site):
    """`qs` with `recalled`: whether the person is recalled for a single test in the site's
    round (read with the person: one statement, not a second one for every registration)."""
    return qs.annotate(recalled=Exists(Recall.objects.filter(round_id=site.round_id, person=OuterRef("pk"),
                                                            state=Recall.State.RECALLED)))


_PERSON_SQL: dict = {}


def _person_in_area(site: Site, pid: int) -> Person | None:
    """The person `pid` if registered in the site's area, with `recalled`: what
    _with_recall(area_persons(site).filter(pk=pid), site).first() reads (every field, the
    area as the `under` lookup's path prefix), by one statement built once (fastsql). The
    name search's id is how most persons are registered; compiling that queryset was ~0.8
    ms of a registration's CPU, the statement tens of microseconds (profile of W6 over
    HTTP in-process, 2026-12-06)."""
    from django.db import connection

    from fangkong.lib.db import fastsql

    plan = _PERSON_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        reader = fastsql.Reader(Person, tuple(f.name for f in Person._meta.concrete_fields))
        p, r = qn(Person._meta.db_table), qn(Recall._meta.db_table)
        col = lambda table, model, name: f"{table}.{qn(model._meta.get_field(name).column)}"  # noqa: E731
        sql = (f"SELECT {reader.columns}, EXISTS(SELECT 1 FROM {r} WHERE {col(r, Recall, 'round')} = %s "
               f"AND {col(r, Recall, 'person')} = {col(p, Person, 'id')} AND {col(r, Recall, 'state')} = %s) "
               f"FROM {p} WHERE {col(p, Person, 'id')} = %s")
        plan = _PERSON_SQL[connection.vendor] = (sql, reader)
    sql, reader = plan
    with connection.cursor() as cur:
        cur.execute(sql, [site.round_id, Recall.State.RECALLED.value, pid])
        row = cur.fetchone()
    if row is None:
        return None
    person = reader.instance(row)
    if not person.place_path.startswith(site.place_path):
        return None  # not of the site's area: the same answer as no such person
    person.recalled = bool(row[reader.width])
    return person


def _by_code(code: str) -> tuple[int, str]:
    """(person id, via) from a scanned code: a personal link (its URL or token, with or
    without its signed statement: accounts.linkcodes) or a pass."""
    from fangkong.accounts import linkcodes
    from fangkong.places.access import _links

    code = code.strip()
    token, statement = linkcodes.split(code)
    if token is not None:
        claims = None
        if statement is not None:  # the QR code's signed form: the statement must be the token's
            from fangkong.passes import tokens

            try:
                claims = linkcodes.verify(statement, token=token)
            except tokens.TokenError as exc:
                raise Invalid({"code": _("This personal-link code is forged, altered or expired (%(reason)s)") % {
                    "reason": exc.code}}) from None
        person_id = _links().person_id(token)
        if person_id is None or (claims is not None and claims.person_id != person_id):
            raise Invalid({"code": _("This personal link is not valid (expired or withdrawn)")})
        return person_id, Registration.Via.LINK
    from fangkong.passes import tokens
    from fangkong.passes.colours import pass_now

    from fangkong.gates import passcheck

    try:
        claims = passcheck.check(code)
    except tokens.TokenError as exc:
        raise Invalid({"code": exc.message}) from None
    stored = pass_now(claims.pass_id) if claims.kind == "resident" else None
    if stored is None or stored[0] is None:
        raise Invalid({"code": _("Not a resident's pass")})
    return stored[0], Registration.Via.PASS


def resolve_person(site: Site, raw: dict, *, acting_user) -> tuple[Person, str]:
    """The person an entry names: a scanned `code` (pass or personal link: anyone who shows
    it), a typed `id_number` or a `person` id from the name search (both within the site's
    area: an unregistered number and one registered elsewhere get the same answer), or a
    `new` person registered on the spot through the registry's validation."""
    code = str(raw.get("code") or "").strip()
    if code:
        if len(code) > 600:
            raise Invalid({"code": _("Unreadable code")})
        person_id, via = _by_code(code)
        person = _with_recall(Person.objects.filter(pk=person_id), site).first()
        if person is None:
            raise Invalid({"code": _("Not a resident's pass")})
        return person, via
    if raw.get("id_number"):
        try:
            number = normalize_id(str(raw["id_number"]))
        except IdentityError as exc:
            raise Invalid({"id_number": str(exc.message)}) from None
        person = _with_recall(area_persons(site).filter(id_bidx__in=crypto.blind_indexes("id", number)), site).first()
        if person is None:
            raise Invalid({"id_number": _("No person with this ID number is registered in this site's area: "
                                          "register the person on the spot")})
        return person, Registration.Via.ID
    if raw.get("person") not in (None, ""):
        try:
            pid = int(raw["person"])
        except (TypeError, ValueError, OverflowError):
            pid = None
        person = _person_in_area(site, pid) if pid is not None and 0 < pid < 2**62 else None
        if person is None:
            raise Invalid({"person": _("No such person in this site's area")})
        return person, Registration.Via.NAME
    new = raw.get("new")
    if isinstance(new, dict):
        return _register_new(site, new, acting_user=acting_user), Registration.Via.NEW
    raise Invalid({"person": _("Scan the person's code, type an ID number or find the person by name")})


def _register_new(site: Site, data: dict, *, acting_user) -> Person:
    from fangkong.residents.actions import DuplicatePerson, create_person
    from fangkong.residents.validation import validate_person

    clean, errors = validate_person({k: data.get(k) or "" for k in ("name", "id_number", "phone", "sex", "birth_date")})
    if errors:
        raise Invalid(errors)
    try:
        return create_person(acting_user=acting_user, clean=clean, place=site.place)
    except DuplicatePerson:
        # Registered already (maybe elsewhere): the test is that person's; the registrar is
        # answered exactly as for a new person (the name and number it typed), nothing more.
        person = Person.objects.get(id_bidx__in=crypto.blind_indexes("id", clean["id_number"]))
        person._typed_name = clean["name"]  # answered with what was typed, never the stored name
        return person


def shown_name(site: Site, person: Person) -> str:
    """What the registrar sees: the name of a person of the site's area, else masked."""
    typed = getattr(person, "_typed_name", None)
    if typed is not None:
        return typed
    return person.name if person.place_path.startswith(site.place_path) else mask_name(person.name)


# --- Registration -----------------------------------------------------------------------------

def _when(raw, now) -> tuple[dt.datetime, bool]:
    when = raw.get("occurred_at")
    try:
        parsed = parse_datetime(when) if isinstance(when, str) else None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        return now, False
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > now + FUTURE_SKEW or parsed < now - MAX_AGE:
        return now, True
    return parsed, False


def clean_code(raw) -> str:
    code = str(raw or "").strip().upper()
    if not TUBE_CODE.match(code):
        raise Invalid({"tube": _("Scan the tube's barcode (4 to 40 letters, digits or dashes)")})
    return code


# The lanes of each site, kept by this process: a site's lanes are made with it and never
# change (create_site), so they are read once, not on every registration.
_LANES: dict[int, dict[int, Lane]] = {}


def _lane(site: Site, raw) -> Lane | None:
    """The lane `raw` names among the site's lanes; None when none is named."""
    if raw in (None, ""):
        return None
    lanes = _LANES.get(site.pk)
    if lanes is None:
        if len(_LANES) > 10_000:
            _LANES.clear()
        lanes = _LANES[site.pk] = {ln.pk: ln for ln in Lane.objects.filter(site_id=site.pk)}
    try:
        lane = lanes.get(int(raw))
    except (TypeError, ValueError, OverflowError):
        lane = None
    if lane is None:
        raise Invalid({"lane": _("Choose a lane of this site")})
    return lane


_BUMP_SQL: dict[str, str] = {}


def _bump_sql() -> str:
    sql = _BUMP_SQL.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        t = qn(Tube._meta.db_table)
        sql = _BUMP_SQL[connection.vendor] = (
            f"UPDATE {t} SET {qn('filled')} = {qn('filled')} + 1, {qn('version')} = {qn('version')} + 1, "
            f"{qn('state')} = CASE WHEN {qn('filled')} + 1 >= {qn('capacity')} THEN %s ELSE {qn('state')} END, "
            f"{qn('sealed_at')} = CASE WHEN {qn('filled')} + 1 >= {qn('capacity')} THEN %s ELSE {qn('sealed_at')} END "
            f"WHERE {qn('code')} = %s AND {qn('site_id')} = %s AND {qn('round_id')} = %s AND {qn('state')} = %s "
            f"AND {qn('single')} = %s AND {qn('filled')} < {qn('capacity')} "
            f"RETURNING {qn('id')}, {qn('filled')}, {qn('capacity')}, {qn('state')}")
    return sql


def _bump_params(site: Site, code: str, *, single: bool, now) -> list:
    return [Tube.State.SEALED, Tube._meta.get_field("sealed_at").get_db_prep_save(now, connection), code, site.pk,
            site.round_id, Tube.State.OPEN, single]


def _bump_row(site: Site, code: str, *, single: bool, now):
    """One more person in the open tube `code` of this site and round, if it has room: one
    conditional UPDATE (the row is locked by it; a concurrent registrar waits and then
    finds the new count), sealed in the same statement when it is full. The stored row
    (id, filled, capacity, state), or None when no such open tube has room (then
    _refuse_tube says why)."""
    with connection.cursor() as cur:
        cur.execute(_bump_sql(), _bump_params(site, code, single=single, now=now))
        return cur.fetchone()


def _tube_of_row(site: Site, code: str, row, *, single: bool, now) -> Tube:
    pk, filled, capacity, state = row
    return Tube(pk=pk, code=code, round_id=site.round_id, site_id=site.pk, place_path=site.place_path, capacity=capacity,
                filled=filled, single=single, state=state, sealed_at=now if state == Tube.State.SEALED else None)


def _bump(site: Site, code: str, *, single: bool, now) -> Tube | None:
    """_bump_row's tube as stored, or None."""
    row = _bump_row(site, code, single=single, now=now)
    return None if row is None else _tube_of_row(site, code, row, single=single, now=now)


_TUBE_FIELDS = ("round", "site", "capacity", "filled", "single", "state")


def _fill_tube(site: Site, code: str, *, single: bool, now) -> Tube:
    """The tube `code` of this site and round with one more person (made on its first scan,
    with that person in it); refused with the reason when it cannot take one. A tube made
    or filled by another registrar between two statements here is tried again."""
    for _attempt in range(3):
        tube = _bump(site, code, single=single, now=now)
        if tube is not None:
            return tube
        stored = fastsql.get(Tube, _TUBE_FIELDS, code=code)
        if stored is None:
            capacity = 1 if single else site.round.pooling
            full = capacity <= 1
            tube = Tube(code=code, round_id=site.round_id, site=site, place_path=site.place_path, capacity=capacity,
                        filled=1, single=single, opened_at=now, state=Tube.State.SEALED if full else Tube.State.OPEN,
                        sealed_at=now if full else None)
            try:
                with transaction.atomic():
                    fastsql.insert(tube)
                return tube
            except IntegrityError:  # made meanwhile by another registrar: take a place in that one
                continue
        _refuse_tube(site, stored, single=single)
        if stored.filled >= stored.capacity:
            break
        # Open with room: it was made (committed) just after the update looked: once more.
    raise Invalid({"tube": _("This tube is full: seal it and take a new one")})


def _refuse_tube(site: Site, tube: Tube, *, single: bool) -> None:
    """Why `tube` takes no one more at this site."""
    if tube.round_id != site.round_id:
        raise Invalid({"tube": _("This tube belongs to another round")})
    if tube.site_id != site.pk:
        raise Invalid({"tube": _("This tube belongs to another site")})
    if tube.state != Tube.State.OPEN:
        raise Invalid({"tube": _("This tube is sealed: take a new tube")})
    if tube.single != single:
        raise Invalid({"tube": _("A recalled person is tested alone: take a new tube for the single test")
                       if single else _("This tube is for a single test: take another tube")})


def _stored(site: Site, client_id) -> Registration | None:
    """The registration stored under this client id in the site's round (a resend). The
    round's creation time bounds it to one partition on PostgreSQL (see Registration)."""
    return Registration.objects.filter(client_id=client_id, round_id=site.round_id,
                                       round_created=site.round.created_at).first()


def _already(site: Site, person: Person) -> Registration | None:
    return (Registration.objects.filter(round_id=site.round_id, round_created=site.round.created_at, person=person,
                                        conflict=False, recall__isnull=True).select_related("site").first())


def _already_text(reg: Registration) -> str:
    when = timezone.localtime(reg.occurred_at)
    return _("Already registered in this round: at %(site)s on %(day)s at %(time)s") % {
        "site": reg.site.name, "day": when.strftime("%m-%d"), "time": when.strftime("%H:%M")}


def register(*, acting_user, site: Site, raw: dict, now=None) -> tuple[Registration, bool]:
    """Register the person an entry names into the tube it scanned. (registration, created):
    a resend of a stored entry (same client id) returns the stored one. Online a person
    registered before in this round is refused with where and when; an entry made offline
    is stored flagged as a conflict for the site lead, never counted twice.

    The happy path reads the person (with whether a recall waits) and then writes: the
    tube's conditional update, the registration and its audit event in one transaction (on
    SQLite shared with concurrent registrations: group commit). A resend and a second
    registration are found by the unique indexes when the insert fails, not by reads
    before every registration."""
    if not isinstance(raw, dict):
        raise Invalid({"entry": _("Not an entry")})
    now = now or timezone.now()
    try:
        client_id = uuid.UUID(str(raw.get("client_id", "")))
    except ValueError:
        raise Invalid({"client_id": _("The device must name the entry with a UUID")}) from None
    try:
        return _register(acting_user, site, raw, client_id, now)
    except (Invalid, Conflict):
        stored = _stored(site, client_id)
        if stored is not None:  # a resend of a stored entry (its tube may be sealed by now)
            return stored, False
        raise


def _register(acting_user, site: Site, raw: dict, client_id, now) -> tuple[Registration, bool]:
    if site.round.state != Round.State.RUNNING:
        raise Conflict(_("The round is not running: registration is closed"))
    offline = bool(raw.get("offline"))
    code = clean_code(raw.get("tube"))
    lane = _lane(site, raw.get("lane"))
    occurred_at, _suspect = _when(raw, now)
    new = not (raw.get("code") or raw.get("id_number") or raw.get("person") not in (None, "")) and isinstance(raw.get("new"), dict)
    found = None if new else resolve_person(site, raw, acting_user=acting_user)
    seen = {}

    def write(conflict: bool) -> Registration:
        # A person registered on the spot is made here: it stays only with its registration.
        person, via = found or resolve_person(site, raw, acting_user=acting_user)
        seen["person"] = person
        recall = None
        if getattr(person, "recalled", True):  # a recall waits (or not known: a person found on the spot)
            recall = Recall.objects.filter(round_id=site.round_id, person=person, state=Recall.State.RECALLED).first()
            if recall is not None and Registration.objects.filter(recall=recall, round_created=site.round.created_at).exists():
                recall = None  # its single test is taken: a further one is a repeat
        tube = _fill_tube(site, code, single=recall is not None, now=now)
        reg = Registration(client_id=client_id, round_id=site.round_id, round_created=site.round.created_at, site=site,
                           lane=lane, tube=tube, person=person,
                           person_path=person.place_path, masked=mask_name(person.name), via=via,
                           conflict=conflict and recall is None, offline=offline, occurred_at=occurred_at, received_at=now,
                           recall=recall, registrar=acting_user if getattr(acting_user, "pk", None) else None)
        fastsql.insert(reg)  # IntegrityError: this client id is stored, or the person is registered in the round
        record(acting_user, "testing.register", obj=reg, place_path=site.place_path,
               detail={"tube": tube.code, "via": via, "offline": offline, "conflict": reg.conflict})
        return reg

    if found is not None and getattr(found[0], "recalled", True) is False:
        seen["person"] = found[0]
        store = _prepared_write(acting_user, site, *found, code=code, lane=lane, client_id=client_id, offline=offline,
                                occurred_at=occurred_at, now=now)
    else:
        store = lambda: group_commit.write(lambda: write(False))  # noqa: E731
    try:
        return store(), True
    except IntegrityError:
        stored = _stored(site, client_id)
        if stored is not None:
            return stored, False
    if not offline:
        person = seen.get("person")
        before = _already(site, person) if person is not None else None
        raise Conflict(_already_text(before) if before else _("Already registered in this round"))
    try:  # registered before (online, or offline on another device): stored flagged, not counted twice
        return group_commit.write(lambda: write(True)), True
    except IntegrityError:
        stored = _stored(site, client_id)
        if stored is None:
            raise
        return stored, False


def _prepared_write(acting_user, site: Site, person: Person, via: str, *, code: str, lane, client_id, offline: bool,
                    occurred_at, now):
    """_register's write(False) for a person found before it with no recall waiting (most
    registrations): the registration's and the audit event's values (the acting user's
    roles among them) are made here, in the request's thread, so that the job the group
    commit's writer runs — one at a time for the whole server on SQLite — is the tube's
    update, its two rows going with the batch's others in multi-row inserts
    (group_commit.insert_later). Measured (W6, SQLite, py-spy --gil over the server under
    load, 2026-12-06): the writer held the GIL for 33 % of the samples, 30 % in this job,
    of which building the rows, the roles and the memberships read were about half;
    after, 17 % and 14 % (bench/RESULTS.md).

    On PostgreSQL (no group commit there; each write is a transaction of its own) the
    three writes are one statement, sent in autocommit: the tube's update, the
    registration and its event as data-modifying WITH queries, atomic as any statement
    (a unique index refusing the registration takes the update back). That is one round
    trip for what BEGIN, three statements and COMMIT took five. When the tube takes
    nobody (not made yet, full, sealed, of another site) the statement stores nothing and
    the write is the one above, in a transaction, which makes the tube or says why not.

    Returns the function that stores the registration and returns it with its tube."""
    reg = Registration(client_id=client_id, round_id=site.round_id, round_created=site.round.created_at, site=site,
                       lane=lane, person=person,
                       person_path=person.place_path, masked=mask_name(person.name), via=via, conflict=False,
                       offline=offline, occurred_at=occurred_at, received_at=now, recall=None,
                       registrar=acting_user if getattr(acting_user, "pk", None) else None)
    row = fastsql.Prepared(reg)  # its tube is set in the job
    event = audit_prepare(acting_user, "testing.register", object_type=Registration.__name__,
                          place_path=site.place_path, detail={"tube": code, "via": via, "offline": offline, "conflict": False})

    def job():
        bumped = _bump_row(site, code, single=False, now=now)
        tube = _fill_tube(site, code, single=False, now=now) if bumped is None else bumped
        row.set("tube_id", tube[0] if bumped is not None else tube.pk)
        # IntegrityError (here or in the batch's insert): this client id is stored, or the
        # person is registered in the round.
        group_commit.insert_later(row, then=lambda reg: (event.set("object_id", str(reg.pk)),
                                                         group_commit.insert_later(event)))
        return tube

    def store() -> Registration:
        tube = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            tube = _one_statement(site, code, row, event, now=now)
        if tube is None:
            tube = group_commit.write(job)
        reg.tube = tube if isinstance(tube, Tube) else _tube_of_row(site, code, tube, single=False, now=now)
        return reg

    return store


_ONE_SQL: dict[str, tuple] = {}


def _one_statement(site: Site, code: str, row: fastsql.Prepared, event: fastsql.Prepared, *, now):
    """PostgreSQL: _prepared_write's three writes as one statement (see there). The tube's
    row (id, filled, capacity, state) with the registration's and the event's ids set, or
    None when the tube took nobody (nothing stored)."""
    from fangkong.audit.models import AuditEvent

    plan = _ONE_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        bump = _bump_sql()
        _sql, reg_fields, _index = fastsql._insert_plan(Registration)
        _sql, ev_fields, _index = fastsql._insert_plan(AuditEvent)
        reg_vals = ", ".join('"t"."id"' if f.attname == "tube_id" else "%s" for f in reg_fields)
        ev_vals = ", ".join('"r"."id"::text' if f.attname == "object_id" else "%s" for f in ev_fields)
        sql = (f'WITH "t" AS ({bump}), '
               f'"r" AS (INSERT INTO {qn(Registration._meta.db_table)} ({", ".join(qn(f.column) for f in reg_fields)}) '
               f'SELECT {reg_vals} FROM "t" RETURNING {qn(Registration._meta.pk.column)}), '
               f'"e" AS (INSERT INTO {qn(AuditEvent._meta.db_table)} ({", ".join(qn(f.column) for f in ev_fields)}) '
               f'SELECT {ev_vals} FROM "r" RETURNING {qn(AuditEvent._meta.pk.column)}) '
               f'SELECT "t"."id", "t"."filled", "t"."capacity", "t"."state", "r"."id", "e"."id" FROM "t", "r", "e"')
        plan = _ONE_SQL[connection.vendor] = (sql, [f.attname != "tube_id" for f in reg_fields],
                                              [f.attname != "object_id" for f in ev_fields])
    sql, reg_keep, ev_keep = plan
    params = [*_bump_params(site, code, single=False, now=now),
              *(v for v, keep in zip(row.params, reg_keep) if keep), *(v for v, keep in zip(event.params, ev_keep) if keep)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        got = cur.fetchone()
    if got is None:
        return None
    tube_id, filled, capacity, state, reg_id, event_id = got
    row.set("tube_id", tube_id)
    row.stored(reg_id)
    event.set("object_id", str(reg_id))
    event.stored(event_id)
    return (tube_id, filled, capacity, state)


@transaction.atomic
def seal(*, acting_user, site: Site, code: str, now=None) -> Tube:
    """Seal a tube before it is full (the last people of the day). Sealing a sealed tube
    again changes nothing (an offline device resends its seals)."""
    code = clean_code(code)
    tube = Tube.objects.select_for_update().filter(code=code).first()
    if tube is None or tube.site_id != site.pk:
        raise Invalid({"tube": _("No such tube at this site")})
    if tube.state != Tube.State.OPEN:
        return tube
    if tube.filled == 0:
        raise Invalid({"tube": _("An empty tube is not sealed")})
    Tube.objects.filter(pk=tube.pk).update(state=Tube.State.SEALED, sealed_at=now or timezone.now(), version=F("version") + 1)
    tube.refresh_from_db()
    record(acting_user, "testing.tube.seal", obj=tube, place_path=tube.place_path)
    return tube


def sync(*, acting_user, site: Site, entries: list, now=None) -> dict:
    """A batch from a phone that was offline: each entry {"op": "register" | "seal", ...},
    taken in order, each by itself (one refused entry stops none other). Entries already
    stored (same client id) are counted as duplicates, not stored again."""
    if not isinstance(entries, list):
        raise Invalid({"entries": _("A list of entries")})
    if len(entries) > MAX_BATCH:
        raise Invalid({"entries": _("At most %(n)d entries at once") % {"n": MAX_BATCH}})
    now = now or timezone.now()
    out = {"stored": 0, "duplicates": 0, "conflicts": 0, "accepted": [], "rejected": []}
    # One transaction (one commit) per SYNC_CHUNK entries, each entry in its own savepoint
    # inside it: a refused entry takes nothing else with it.
    for start in range(0, len(entries), SYNC_CHUNK):
        with transaction.atomic():
            for raw in entries[start:start + SYNC_CHUNK]:
                _sync_one(acting_user, site, raw, now, out)
    return out


def _sync_one(acting_user, site: Site, raw, now, out: dict) -> None:
    cid = str(raw.get("client_id", "")) if isinstance(raw, dict) else ""
    try:
        if isinstance(raw, dict) and raw.get("op") == "seal":
            seal(acting_user=acting_user, site=site, code=raw.get("tube"), now=now)
            out["accepted"].append(cid)
            return
        reg, created = register(acting_user=acting_user, site=site, raw={**raw, "offline": True}, now=now)
    except Invalid as exc:
        out["rejected"].append({"client_id": cid, "errors": {k: str(v) for k, v in exc.errors.items()}})
        return
    except Conflict as exc:
        out["rejected"].append({"client_id": cid, "errors": {"entry": str(exc)}})
        return
    out["accepted"].append(cid)
    if created:
        out["stored"] += 1
        out["conflicts"] += int(reg.conflict)
    else:
        out["duplicates"] += 1


# --- Boxes and handover -----------------------------------------------------------------------

@transaction.atomic
def pack_box(*, acting_user, site: Site, lab, codes: list, now=None) -> Box:
    if lab is None or lab.kind not in ("clinic", "station"):
        raise Invalid({"lab": _("Choose the laboratory")})
    codes = [clean_code(c) for c in (codes or [])]
    if not codes:
        raise Invalid({"tubes": _("Scan the sealed tubes to pack")})
    tubes = list(Tube.objects.select_for_update().filter(code__in=codes))
    found = {t.code: t for t in tubes}
    for c in codes:
        t = found.get(c)
        if t is None or t.site_id != site.pk:
            raise Invalid({"tubes": _("Tube %(code)s is not one of this site's") % {"code": c}})
        if t.state != Tube.State.SEALED or t.box_id is not None:
            raise Invalid({"tubes": _("Tube %(code)s is not sealed or is packed already") % {"code": c}})
    now = now or timezone.now()
    box = Box.objects.create(site=site, place_path=site.place_path, lab=lab, packed_at=now)
    Tube.objects.filter(pk__in=[t.pk for t in tubes]).update(box=box, lab=lab)
    record(acting_user, "testing.box.pack", obj=box, place_path=box.place_path, detail={"tubes": len(tubes)})
    return box


HANDOVER = {
    "courier": Transition("testing.register", (Box.State.PACKED,), Box.State.COURIER, gettext_lazy("Hand to the courier")),
    "receive": Transition("testing.results", (Box.State.COURIER, Box.State.PACKED), Box.State.RECEIVED,
                          gettext_lazy("Receive at the lab")),
}


@transaction.atomic
def handover(*, acting_user, box: Box, step: str, now=None) -> Box:
    t = HANDOVER.get(step)
    if t is None:
        raise Invalid({"step": _("Unknown step")})
    now = now or timezone.now()
    changes = {"courier_at": now} if step == "courier" else {"received_at": now}
    box = apply_transition(Box.objects.all(), box, t, refused=gettext_lazy("Cannot %(action)s: the box is %(state)s"),
                           lower=True, changes=changes)
    record(acting_user, f"testing.box.{step}", obj=box, place_path=box.place_path)
    return box


# --- Results and recall -----------------------------------------------------------------------

RESULT_WORDS = {"negative": "negative", "阴性": "negative", "neg": "negative", "-": "negative",
                "positive": "positive", "阳性": "positive", "pos": "positive", "+": "positive",
                "invalid": "invalid", "无效": "invalid"}


def clean_result(raw) -> str:
    word = RESULT_WORDS.get(str(raw or "").strip().lower())
    if word is None:
        raise Invalid({"result": _("The result must be negative, positive or invalid (阴性/阳性/无效)")})
    return word


def post_result(*, acting_user, tube: Tube, result: str, at=None, now=None) -> tuple[Tube, bool]:
    """The lab's result for a sealed tube. (tube, changed): the same result again changes
    nothing; another result for a resulted tube is a conflict. A positive pool recalls its
    persons for single tests; a single test's result decides its person's recall."""
    result = clean_result(result)
    now = now or timezone.now()
    at = at or now
    with transaction.atomic():
        current = Tube.objects.select_for_update().get(pk=tube.pk)
        if current.state == Tube.State.RESULTED:
            if current.result == result:
                return current, False
            raise Conflict(_("Tube %(code)s already has a result (%(result)s)") % {
                "code": current.code, "result": current.get_result_display()})
        if current.state != Tube.State.SEALED:
            raise Conflict(_("Tube %(code)s is not sealed yet") % {"code": current.code})
        Tube.objects.filter(pk=current.pk).update(state=Tube.State.RESULTED, result=result, resulted_at=at,
                                                 version=F("version") + 1)
        current.refresh_from_db()
        record(acting_user, "testing.result", obj=current, place_path=current.place_path, detail={"result": result})
        regs = list(current.registrations.select_related("person", "recall"))
        if current.single:
            for reg in regs:
                if reg.recall_id and result in ("negative", "positive"):
                    Recall.objects.filter(pk=reg.recall_id, state=Recall.State.RECALLED).update(
                        state=result, decided_at=at, version=F("version") + 1)
        elif result == "positive":
            _recall(current, regs, now=now)
    return current, True


def _recall(tube: Tube, regs: list, *, now) -> None:
    people = {reg.person_id: reg for reg in regs}
    Recall.objects.bulk_create([Recall(round_id=tube.round_id, tube=tube, person_id=pid, person_path=reg.person_path,
                                       created_at=now) for pid, reg in people.items()], ignore_conflicts=True)
    record(None, "testing.recall", obj=tube, place_path=tube.place_path, detail={"persons": len(people)})
    by_place: dict[str, list[str]] = {}
    for reg in people.values():
        by_place.setdefault(reg.person_path, []).append(reg.masked)
    for path, names in by_place.items():
        text = _("Positive pool %(code)s: recall for single tests: %(names)s") % {"code": tube.code, "names": "、".join(names)}
        transaction.on_commit(lambda path=path, text=text: registry.raise_alert(registry.Alert(
            kind="testing.positive", place_path=path, text=text, perms=("testing.recall",),
            obj_type="testing.tube", obj_id=tube.pk, key=path)))


def pending_colour() -> str:
    policy = Policy.objects.first()
    return policy.pending_colour if policy else "yellow"


@transaction.atomic
def set_policy(*, acting_user, colour: str) -> Policy:
    if colour not in ("yellow", "red"):
        raise Invalid({"pending_colour": _("Choose yellow or red")})
    policy = Policy.objects.select_for_update().first() or Policy()
    policy.pending_colour = colour
    policy.save()
    record(acting_user, "testing.policy", obj=policy, detail={"colour": colour})
    return policy


# --- Door-knocks ------------------------------------------------------------------------------

@transaction.atomic
def knock(*, acting_user, round: Round, household, reason: str, note: str = "", now=None) -> Knock:
    if reason not in Knock.Reason.values:
        raise Invalid({"reason": _("Choose why the household was not tested")})
    if household is None or not household.place_path.startswith(round.place_path):
        raise Invalid({"household": _("The household is not in the round's area")})
    k = Knock.objects.create(round=round, household=household, place_path=household.place_path, reason=reason,
                             note=(note or "").strip()[:200], by=acting_user if getattr(acting_user, "pk", None) else None,
                             at=now or timezone.now())
    record(acting_user, "testing.knock", obj=k, place_path=k.place_path, detail={"reason": reason})
    return k
