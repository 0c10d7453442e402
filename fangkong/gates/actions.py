"""Gate writes as named actions: an entry (one, or a batch synced from a device that was
offline). A fever opens a visit of the clinic triage (fangkong.clinic), routed there. Views, API and bench call only these.

Idempotency: the device names every entry with a UUID (client_id). A resend returns the
stored entry; concurrent sends of one entry store it once (the unique index decides, the
losers read the winner's row). The unique key is (client_id, occurred_at), the partition key
with it (the table is partitioned by month on PostgreSQL: models.py): a resend carries the
same device time, so it meets the stored copy there. An entry whose device clock is suspect
is stored at the time it was received, which a resend does not share (nor does a resend
that comes so late that its device time is now out of range): such an entry is looked up
by client_id before its insert, under an advisory lock of the id on PostgreSQL (the single
writer on SQLite), so that concurrent resends of it are stored once too. The reverse, an
entry stored at its receipt time (a clock more than FUTURE_SKEW fast) resent once its
device time has become plausible, with that device time: a batch looks every client id up
first; a single check-in is refused by the entry's row in SuspectClock (models.py), in the
check-in's one statement on PostgreSQL (a NOT EXISTS on that small table's key: no round
trip more), read by the single writer before the insert on SQLite. Left open: the two sends
at the same moment, one with the clock found suspect and one not (the second insert does not
wait for the first's lock; stored twice, both carrying the client id).

Decision: the server checks the pass again (signature, expiry at the moment of the entry,
revocation, colour) and the temperature. An entry made online that the server refuses is
stored as refused with the server's reason (the page shows it before the person passes).
An entry made offline records what happened at the gate; if the server would have refused
it, it is flagged for review (server_check holds the reason).
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import prepare as audit_prepare
from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition  # noqa: F401  (actions.Invalid etc. for callers)
from fangkong.lib import registry
from fangkong.lib.health import body_temperature
from fangkong.passes import plates, tokens
from fangkong.lib.db import fastsql, group_commit
from fangkong.places.access import kept, path_in_scope, places_in_scope
from fangkong.places.models import Place

from . import passcheck
from .models import CHECKPOINT_KINDS, GateEntry, SuspectClock

FUTURE_SKEW = dt.timedelta(minutes=10)  # a device clock ahead by more than this is not trusted
MAX_AGE = dt.timedelta(days=30)  # an offline queue older than this: device clock not trusted
MAX_BATCH = 10_000

# Refusal reasons: stable codes (the page's JS uses the same ones) with their text.
REASONS = {
    **tokens.TokenError.MESSAGES,
    "red": gettext_lazy("Red code: may not pass"),
    "yellow": gettext_lazy("Yellow code: may not pass"),
    "fever": gettext_lazy("Fever: send to triage"),
    "no_pass": gettext_lazy("No pass shown"),
    "manual": gettext_lazy("Refused by the guard"),
    "wrong_kind": gettext_lazy("A vehicle pass is not a person's pass"),
    "plate_mismatch": gettext_lazy("The plate does not match the vehicle pass"),
    "wrong_place": gettext_lazy("This visitor pass is for another compound"),
    "sealed": gettext_lazy("This entrance is sealed"),
    "emergency": gettext_lazy("Emergency passage only"),
}
REFUSED_COLOURS = {"red", "yellow"}



def reason_text(code: str) -> str:
    return str(REASONS.get(code, code))


def guard_places(user):
    """The checkpoints (compounds and checkpoint places) the user may record entries at."""
    return places_in_scope(user, "gates.enter").filter(kind__in=CHECKPOINT_KINDS)


# --- Parsing ----------------------------------------------------------------------------

def parse_temperature(raw) -> Decimal | None:
    return body_temperature(raw)


def normalize_plate(text: str) -> str:
    try:
        return plates.normalize_plate(text)
    except ValueError as exc:
        raise Invalid({"plate": str(exc)}) from None


def _bool(raw):
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    return str(raw).lower() in ("1", "true", "yes", "on")


def clean_entry(raw: dict, *, places: dict, now: dt.datetime) -> dict:
    """The cleaned fields of one entry from a device; Invalid({field: message}) if bad.
    A place outside `places` (the user's checkpoints) is Http404."""
    if not isinstance(raw, dict):
        raise Invalid({"entry": _("Not an entry")})
    errors, out = {}, {}
    try:
        out["client_id"] = uuid.UUID(str(raw.get("client_id", "")))
    except ValueError:
        errors["client_id"] = _("The device must name the entry with a UUID")
    try:
        place_id = int(raw.get("place"))
    except (TypeError, ValueError, OverflowError):
        errors["place"] = _("Choose the checkpoint")
    else:
        if place_id not in places:
            raise Http404
        out["place"] = places[place_id]
    direction = raw.get("direction")
    if direction not in GateEntry.Direction.values:
        errors["direction"] = _("Choose in or out")
    out["direction"] = direction
    subject = raw.get("subject") or GateEntry.Subject.PERSON
    if subject not in GateEntry.Subject.values:
        errors["subject"] = _("Choose person or vehicle")
    out["subject"] = subject
    token = str(raw.get("token") or "").strip()
    if len(token) > 600:
        errors["token"] = tokens.TokenError("malformed").message
    out["token"] = token
    out["plate"] = ""
    if subject == GateEntry.Subject.VEHICLE:
        try:
            out["plate"] = normalize_plate(raw.get("plate") or "")
        except Invalid as exc:
            errors.update(exc.errors)
    try:
        out["temperature"] = parse_temperature(raw.get("temperature"))
    except Invalid as exc:
        errors.update(exc.errors)
    decision = raw.get("decision") or None  # None: the device leaves the decision to the server
    if decision is not None and decision not in GateEntry.Decision.values:
        errors["decision"] = _("Choose allowed or refused")
    out["decision"] = decision
    out["reason_code"] = str(raw.get("reason_code") or "")[:24]
    out["reason_text"] = str(raw.get("reason_text") or "")[:200]
    when = raw.get("occurred_at")
    try:
        parsed = parse_datetime(when) if isinstance(when, str) else (when if isinstance(when, dt.datetime) else None)
    except (ValueError, OverflowError):  # "2024-02-30T10:00", "+99:00"
        parsed = None
    if parsed is None:
        errors["occurred_at"] = _("The device time of the entry is missing or unreadable")
    else:
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        out["device_time"] = parsed
        suspect = parsed > now + FUTURE_SKEW or parsed < now - MAX_AGE
        out["occurred_at"] = now if suspect else parsed
        out["clock_suspect"] = suspect
    out["offline"] = bool(_bool(raw.get("offline")))
    out["travel"] = _bool(raw.get("travel"))
    out["contact"] = _bool(raw.get("contact"))
    if errors:
        raise Invalid(errors)
    return out


# --- Checking ---------------------------------------------------------------------------

def check_token(token: str, *, at: float | None = None, colour_now: bool = False,
                memo: dict | None = None) -> tuple[tokens.Claims | None, str]:
    """(claims, "") for a good pass; (claims or None, error code) otherwise. The claims of an
    expired or revoked pass (its signature is good) are returned for display. colour_now:
    the pass's colour now instead of the one in the code (online checks). memo: shared
    with problem_of, so that the pass is read once (passcheck)."""
    try:
        claims = passcheck.check(token, at=at)
        return (passcheck.with_colour_now(claims, memo=memo) if colour_now else claims), ""
    except tokens.TokenError as exc:
        claims = None
        if exc.code in ("expired", "revoked"):
            claims = tokens.decode(token)[0]
        return claims, exc.code


def problem_of(claims, code: str, *, subject: str, token: str, temperature, plate: str = "", place=None,
               memo: dict | None = None) -> str:
    """The reason the server refuses this entry ("" = none); `place`: the gate's."""
    if code:
        return code
    if claims is not None and place is not None and not passcheck.admits_at(claims, place, memo=memo):
        return "wrong_place"
    if claims is not None and claims.kind == "vehicle":
        if subject == GateEntry.Subject.PERSON:
            return "wrong_kind"
        if plate and plates.mask_plate(plate) != claims.masked:
            return "plate_mismatch"
    if claims is not None and claims.colour in REFUSED_COLOURS:
        return claims.colour
    if temperature is not None and temperature >= settings.FEVER_THRESHOLD:
        return "fever"
    if not token and subject == GateEntry.Subject.PERSON:
        return "no_pass"
    return ""


def _build(clean: dict, *, user, now, cache: dict) -> GateEntry:
    token = clean["token"]
    claims, code = None, ""
    if token:
        # Online: the colour now; offline: what the gate could know, the code's colour.
        # An online entry is checked as of now (a backdated "online" entry gets no expired
        # pass through); an offline one as of when it happened, as the gate could.
        at = (clean["occurred_at"] if clean["offline"] else now).timestamp()
        key = (token, int(at), not clean["offline"])
        if key not in cache:
            cache[key] = check_token(token, at=at, colour_now=not clean["offline"], memo=cache)
        claims, code = cache[key]
    problem = problem_of(claims, code, subject=clean["subject"], token=token, temperature=clean["temperature"],
                         plate=clean["plate"], place=clean["place"], memo=cache)
    # A sealed (or emergency-only) entrance refuses everyone, whatever the pass (command).
    shut = closure_of(clean["place"].pk, cache, user)
    if shut is not None:
        problem = shut.code
    decision, reason, flagged = clean["decision"], clean["reason_code"], False
    if decision is None:  # the device asks the server to decide
        decision, reason = (GateEntry.Decision.REFUSED, problem) if problem else (GateEntry.Decision.ALLOWED, "")
    elif decision == GateEntry.Decision.REFUSED:
        reason = reason or problem or "manual"
    elif problem:
        # The gate let the person through (offline, or against the server's word): the record
        # says what happened, never rewritten, and is flagged for someone to look at.
        flagged = True
    else:
        reason = ""
    text = clean["reason_text"] if decision == GateEntry.Decision.REFUSED and clean["reason_text"] else (
        shut.text if shut is not None and reason == shut.code else reason_text(reason) if reason else "")
    place = clean["place"]
    entry = GateEntry(
        client_id=clean["client_id"], place=place, place_path=place.path, direction=clean["direction"],
        subject=clean["subject"], pass_id=claims.pass_id if claims else None, pass_kind=claims.kind if claims else "",
        colour=claims.colour if claims else "", masked=claims.masked if claims else "", plate=clean["plate"],
        temperature=clean["temperature"], decision=decision, reason_code=reason, reason_text=text[:200],
        server_check=problem, flagged=flagged, occurred_at=clean["occurred_at"], device_time=clean["device_time"],
        clock_suspect=clean["clock_suspect"], received_at=now, guard=user if getattr(user, "pk", None) else None,
        offline=clean["offline"],
    )
    entry._answers = (clean["travel"], clean["contact"])
    return entry


def closure_of(place_id: int, cache: dict | None = None, user=None) -> registry.Closure | None:
    """Whether the entrance is closed now (sealed or emergency only) and why: asked once per
    checkpoint within one call (`cache`). That an entrance is open (nearly always) is kept
    by the process under the auth version of `user`'s request (access.kept; a change of an
    entrance's state changes it): a check-in then reads nothing for it. A closed one is read
    each time, with its reason in the reader's language."""
    key = ("closure", place_id)
    if cache is not None and key in cache:
        return cache[key]
    read = []  # what a miss read: a closed entrance is not read twice

    def load() -> bool:
        read.append(registry.closure(place_id))
        return read[0] is None

    is_open = kept(user, "gates.open", place_id, load)
    found = None if is_open else (read[0] if read else registry.closure(place_id))
    if cache is not None:
        cache[key] = found
    return found


def _is_fever(entry: GateEntry) -> bool:
    return entry.temperature is not None and entry.temperature >= settings.FEVER_THRESHOLD


def _open_triage(entries: list[GateEntry]) -> list:
    """A fever at the gate opens a visit of the clinic triage (one flow for every triage,
    fangkong.clinic): waiting to be routed by the medics, who are alerted on commit."""
    from fangkong.clinic import actions as clinic

    return clinic.open_from_gates(entries)


# --- Entries ----------------------------------------------------------------------------

def _places(user) -> dict:
    return {p.pk: p for p in guard_places(user)}


def _checkpoint(user, raw) -> dict:
    """{id: place} of the checkpoint `raw` names if it is one of the user's (as in
    guard_places), else {}: one row read by id instead of all the user's checkpoints."""
    try:
        place_id = int(raw)
    except (TypeError, ValueError, OverflowError):
        return {}
    if abs(place_id) >= 2**63:
        return {}
    # Its values kept under the auth version (a change of a place's kind, name, code or path
    # changes it); the instance made anew for each call, so that no request changes another's.
    values = kept(user, "gates.checkpoint", place_id, lambda: _checkpoint_values(place_id))
    if values is None:
        return {}
    place = Place.from_db(connection.alias, _CHECKPOINT_FIELDS, values)
    if place.kind not in CHECKPOINT_KINDS or not path_in_scope(user, "gates.enter", place.path):
        return {}
    return {place_id: place}


_CHECKPOINT_FIELDS = ("id", "kind", "name", "code", "path")  # in Place's field order, as from_db takes them


def _checkpoint_values(place_id: int) -> tuple | None:
    place = fastsql.get(Place, _CHECKPOINT_FIELDS[1:], id=place_id)
    return None if place is None else tuple(getattr(place, f) for f in _CHECKPOINT_FIELDS)


def record_entry(*, acting_user, data: dict, now: dt.datetime | None = None) -> tuple[GateEntry, bool]:
    """Store one entry (idempotent on client_id). Returns (entry, created).

    The audit rule holds as everywhere: the entry and its audit event are written in one
    transaction. A resend is found by the unique (client_id, occurred_at) when the insert
    fails (no read before every check-in; an entry whose clock is suspect is looked up
    first, see the module's docstring); on SQLite the transaction is shared with concurrent check-ins
    (group commit), each answered after the commit."""
    now = now or timezone.now()
    try:
        clean = clean_entry(data, places=_checkpoint(acting_user, data.get("place") if isinstance(data, dict) else None),
                            now=now)
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        raise Invalid({"entry": _("This entry cannot be read")}) from None
    entry = _build(clean, user=acting_user, now=now, cache={})
    entry.triage_id = None

    # The entry's row and its audit event are made here, so that the job the group
    # commit's writer runs (one at a time for the whole server on SQLite) only hands them
    # to the batch's multi-row INSERTs: testing.actions._prepared_write has the measurement.
    row = fastsql.Prepared(entry)
    event = audit_prepare(acting_user, "gates.entry", obj=entry, detail={
        "direction": entry.direction, "subject": entry.subject, "decision": entry.decision,
        "reason": entry.reason_code, "offline": entry.offline, "flagged": entry.flagged})

    def stored(entry: GateEntry) -> None:
        if _is_fever(entry):
            entry.triage_id = _open_triage([entry])[0].pk
        event.set("object_id", str(entry.pk))
        group_commit.insert_later(event)

    def write() -> GateEntry:
        if entry.clock_suspect:
            # occurred_at is the receipt time: the unique key cannot meet a stored copy.
            found = _stored_copy(entry.client_id)
            if found is not None:
                return found
            row.run()  # at once, not with the batch's rows: the next lookup of the id sees it
            _claim_suspect([entry])
            stored(entry)
            return entry
        found = _suspect_copy(entry.client_id)  # stored before at its receipt time
        if found is not None:
            return found
        # IntegrityError (here or in the batch's insert): this entry is stored already (a resend)
        group_commit.insert_later(row, then=stored)
        return entry

    try:
        if (connection.vendor == "postgresql" and not connection.in_atomic_block and not _is_fever(entry)
                and not entry.clock_suspect):
            # The entry and its event in one statement, its own transaction: one round trip
            # instead of four (BEGIN, two INSERTs, COMMIT). A fever opens a triage visit in
            # the same transaction, so it takes the path below; so does a suspect clock (a
            # lookup first). Not if this entry was stored before with a suspect clock.
            if fastsql.insert_chained(row, event, "object_id", unless=_SUSPECT_SQL, unless_params=[entry.client_id]):
                return entry, True
            found = _suspect_copy(entry.client_id)
            if found is not None:
                return _existing(found, clean), False
            fastsql.insert_chained(row, event, "object_id")  # its copy's month detached since
            return entry, True
        result = group_commit.write(write)
        if result is not entry:
            return _existing(result, clean), False
        return entry, True
    except IntegrityError:
        existing = GateEntry.objects.filter(client_id=clean["client_id"]).first()
        if existing is None:
            raise
        return _existing(existing, clean), False


_SUSPECT_LOCK_SPACE = 0x464B4753  # "FKGS": the advisory-lock key space of suspect entries' client ids
_SUSPECT_LOCK_BUCKETS = 64


def _lock_client_ids(ids) -> None:
    """PostgreSQL: transaction-scoped advisory locks of these client ids, held to the commit:
    a second send of a clock-suspect entry waits until the first is committed, then finds
    it. One lock per bucket of ids (the UUID's last bits), so that a device's queue of
    thousands of such entries takes at most _SUSPECT_LOCK_BUCKETS locks (PostgreSQL's lock
    table is shared and bounded), in one order (two callers never wait for each other).
    Nothing on SQLite (one writer at a time)."""
    if connection.vendor != "postgresql" or not ids:
        return
    buckets = sorted({u.int % _SUSPECT_LOCK_BUCKETS for u in ids})
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, b) FROM unnest(%s::int[]) AS b ORDER BY b",
                    [_SUSPECT_LOCK_SPACE, buckets])


def _stored_copy(client_id) -> GateEntry | None:
    """The stored entry of this client id, if any, looked up under its lock (in the caller's
    transaction)."""
    _lock_client_ids([client_id])
    return GateEntry.objects.filter(client_id=client_id).first()


_SUSPECT_SQL = f"EXISTS (SELECT 1 FROM {SuspectClock._meta.db_table} WHERE client_id = %s)"


def _claim_suspect(entries: list[GateEntry]) -> None:
    """Note the client ids of these entries, stored with a suspect clock (SuspectClock)."""
    SuspectClock.objects.bulk_create(
        [SuspectClock(client_id=e.client_id, occurred_at=e.occurred_at) for e in entries],
        update_conflicts=True, unique_fields=["client_id"], update_fields=["occurred_at"])


def _suspect_copy(client_id) -> GateEntry | None:
    """The entry of this client id stored before with a suspect clock, if any (one read of
    SuspectClock's key, nearly always empty-handed; the entry read only when it is there)."""
    claim = fastsql.get(SuspectClock, ("occurred_at",), client_id=client_id)
    if claim is None:
        return None
    return GateEntry.objects.filter(client_id=client_id, occurred_at=claim.occurred_at).first()


def _existing(entry: GateEntry, clean: dict) -> GateEntry:
    if entry.place_id != clean["place"].pk:
        raise Invalid({"client_id": _("This entry id was already used for another checkpoint")})
    return entry


def record_batch(*, acting_user, items: list, now: dt.datetime | None = None) -> dict:
    """Store the good entries of a device's queue in bulk; report the bad ones by client_id.
    Returns {"stored": n, "duplicates": n, "accepted": [client ids], "rejected": [{client_id, errors}],
    "entries": [...]}: accepted = stored now or before (the device may forget them)."""
    now = now or timezone.now()
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise Invalid({"entries": _("Send a list of at most %(n)d entries") % {"n": MAX_BATCH}})
    places = _places(acting_user)
    rejected, cleaned, seen = [], [], set()
    for raw in items:
        cid = str(raw.get("client_id", ""))[:64] if isinstance(raw, dict) else ""
        try:
            clean = clean_entry(raw, places=places, now=now)
        except (ValueError, TypeError, OverflowError, ArithmeticError):  # anything unreadable: this entry only
            rejected.append({"client_id": cid, "errors": {"entry": str(_("This entry cannot be read"))}})
            continue
        except Invalid as exc:
            rejected.append({"client_id": cid, "errors": {k: str(v) for k, v in exc.errors.items()}})
            continue
        except Http404:
            rejected.append({"client_id": cid, "errors": {"place": _("Not one of your checkpoints")}})
            continue
        if clean["client_id"] in seen:
            continue  # the same entry twice in one batch: stored once
        seen.add(clean["client_id"])
        cleaned.append(clean)

    ids = [c["client_id"] for c in cleaned]
    before: dict = {}
    for i in range(0, len(ids), 900):
        before.update(GateEntry.objects.filter(client_id__in=ids[i:i + 900]).values_list("client_id", "place_id"))
    cache: dict = {}
    new, accepted = [], []
    for clean in cleaned:
        cid = clean["client_id"]
        if cid in before:
            if before[cid] != clean["place"].pk:
                rejected.append({"client_id": str(cid), "errors": {
                    "client_id": _("This entry id was already used for another checkpoint")}})
            else:
                accepted.append(str(cid))
            continue
        new.append(_build(clean, user=acting_user, now=now, cache=cache))
        accepted.append(str(cid))

    with transaction.atomic():
        # Entries stored at their receipt time (a suspect clock): a concurrent send of the
        # same queue would not meet them on the unique key; looked up again under their locks.
        suspect = [e for e in new if e.clock_suspect]
        if suspect:
            suspect_ids = [e.client_id for e in suspect]
            _lock_client_ids(suspect_ids)
            meanwhile: dict = {}
            for i in range(0, len(suspect_ids), 900):
                meanwhile.update(GateEntry.objects.filter(client_id__in=suspect_ids[i:i + 900])
                                 .values_list("client_id", "place_id"))
            for e in suspect:
                if e.client_id in meanwhile:
                    new.remove(e)
                    if meanwhile[e.client_id] != e.place_id:
                        accepted.remove(str(e.client_id))
                        rejected.append({"client_id": str(e.client_id), "errors": {
                            "client_id": _("This entry id was already used for another checkpoint")}})
        # What this call stores, by the insert's own outcome: an entry a concurrent send of
        # the same queue stored in between is a duplicate here, never counted twice.
        built, new = new, fastsql.insert_new(new, unique=("client_id", "occurred_at"))
        if len(new) < len(built):
            mine = {id(e) for e in new}
            raced = [e.client_id for e in built if id(e) not in mine]
            stored_at: dict = {}
            for i in range(0, len(raced), 900):
                stored_at.update(GateEntry.objects.filter(client_id__in=raced[i:i + 900])
                                 .values_list("client_id", "place_id"))
            for e in built:
                if id(e) not in mine and stored_at.get(e.client_id, e.place_id) != e.place_id:
                    accepted.remove(str(e.client_id))
                    rejected.append({"client_id": str(e.client_id), "errors": {
                        "client_id": _("This entry id was already used for another checkpoint")}})
        if any(e.clock_suspect for e in new):
            _claim_suspect([e for e in new if e.clock_suspect])
        fevers = [e for e in new if _is_fever(e)]
        if fevers:
            _open_triage(fevers)
        if new or rejected:
            record(acting_user, "gates.batch", detail={
                "received": len(items), "stored": len(new), "duplicates": len(accepted) - len(new),
                "rejected": len(rejected), "refused": sum(e.decision == "refused" for e in new),
                "flagged": sum(e.flagged for e in new), "fevers": len(fevers)},
                place_path=new[0].place_path if len(places) == 1 and new else "")
    return {
        "stored": len(new), "duplicates": len(accepted) - len(new), "accepted": accepted, "rejected": rejected,
        "entries": [{"client_id": str(e.client_id), "decision": e.decision, "reason_code": e.reason_code,
                     "flagged": e.flagged} for e in new if e.decision == "refused" or e.flagged],
    }
