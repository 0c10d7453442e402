"""Disinfection writes as named actions (keyword-only, acting_user, one transaction, an
audit event). Views, API, the worker's tasks, the demo and the alert sink call only these.

* Frequencies → rounds: `due_slots(target, day)` says when a target is due on a day (every
  N days, staggered by target so that a compound's stairwells are not all due on one
  day; N times a day spread over the working day); `generate(day)` makes the day's rounds
  (idempotent: one per target, day and slot).
* `log_round` — due → done once: a resend with the same client id is the same log, a
  second log of a done round is refused (409), a scan of a target just done is that
  round again (a double scan counts once). The agent used is taken from the supplies
  ledger through `supplies.actions.use_for_task` (409 when short: nothing is logged).
* `case_round` — a fever or a positive test in a building: a round for the building and
  its surroundings, due within FANGKONG_DISINFECTION_CASE_HOURS.
* `collect_waste` — the isolated households' waste: a daily round per household under
  home observation, until release.
* `escalate` — overdue key-area and case rounds alert the compound's property staff and
  the committee, once per round.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition
from fangkong.places.access import ancestor_paths
from fangkong.places.models import Place
from fangkong.supplies import actions as supplies
from fangkong.supplies.models import Holder, Item

from .models import Round, Target

S = Round.State
K = Target.Kind
LOG = Transition("disinfection.log", (S.DUE,), S.DONE, gettext_lazy("Log the round"))
REFUSED = gettext_lazy("Cannot %(action)s: the round is %(state)s")
DAY_START = dt.time(6, 0)  # the working day over which a day's slots are spread
DAY_HOURS = 12
DOUBLE_SCAN_MINUTES = 30  # a scan of a target done this recently is that round again
MAX_AMOUNT = 10_000
TASK = "disinfection.round"


def case_hours() -> int:
    return getattr(settings, "DISINFECTION_CASE_HOURS", 4)


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _compound_of(place: Place) -> Place | None:
    if place.kind == Place.Kind.COMPOUND:
        return place
    return next((p for p in place.ancestors() if p.kind == Place.Kind.COMPOUND), None)


# --- Frequencies ------------------------------------------------------------------------

def is_due_day(target: Target, day: dt.date) -> bool:
    """Every N days, staggered by the target's id (N = 0: never on a schedule)."""
    n = target.every_days
    return n > 0 and (day.toordinal() + target.pk) % n == 0


def due_slots(target: Target, day: dt.date) -> list[tuple[int, dt.datetime]]:
    """[(slot, due at)] of the target on `day`: none on a day it is not due; else its
    `times_a_day` slots spread over the working day (once: by 18:00; twice: 12:00 and
    18:00; three times: 10:00, 14:00, 18:00)."""
    if not is_due_day(target, day):
        return []
    start = timezone.make_aware(dt.datetime.combine(day, DAY_START))
    n = target.times_a_day
    return [(i, start + dt.timedelta(hours=DAY_HOURS) * (i + 1) / n) for i in range(n)]


def is_overdue(r: Round, now: dt.datetime | None = None) -> bool:
    return r.state == S.DUE and r.due_at < (now or timezone.now())


def _round_fields(target: Target) -> dict:
    return {"place_path": target.place_path, "compound_id_copy": target.compound_id, "key_area": target.key_area}


def generate(day: dt.date | None = None) -> int:
    """The day's scheduled rounds of every active target (idempotent); then the isolated
    households' waste rounds. Returns how many rounds are new."""
    day = day or timezone.localdate()
    made = 0
    batch: list[Round] = []
    targets = Target.objects.filter(active=True, every_days__gt=0).exclude(kind=K.ISOLATION_WASTE)
    for t in targets.iterator(chunk_size=2000):
        for slot, due in due_slots(t, day):
            batch.append(Round(target=t, kind=Round.Kind.SCHEDULED, day=day, slot=slot, due_at=due, **_round_fields(t)))
        if len(batch) >= 2000:
            made += _insert(batch)
            batch = []
    made += _insert(batch)
    made += collect_waste(day=day)
    record(None, "disinfection.generate", detail={"day": day.isoformat(), "rounds": made})
    return made


def _insert(rounds: list[Round]) -> int:
    if not rounds:
        return 0
    before = Round.objects.filter(day=rounds[0].day).count()
    Round.objects.bulk_create(rounds, ignore_conflicts=True)
    return Round.objects.filter(day=rounds[0].day).count() - before


# --- Targets ----------------------------------------------------------------------------

def _frequency(raw, field, lo, hi, default):
    text = str(raw if raw not in (None, "") else default).strip()
    if not (text.isascii() and text.isdigit()) or not lo <= int(text) <= hi:
        raise Invalid({field: _("Enter a whole number from %(lo)d to %(hi)d") % {"lo": lo, "hi": hi}})
    return int(text)


def _target_place(place: Place) -> Place:
    if place.kind not in (Place.Kind.COMPOUND, Place.Kind.BUILDING):
        raise Invalid({"place": _("A target belongs to a building or a compound")})
    return place


@transaction.atomic
def create_target(*, acting_user, place: Place, kind: str, label: str, every_days=1, times_a_day=1,
                  key_area: bool = False) -> Target:
    _target_place(place)
    if kind not in K.values or kind in (K.CASE_AREA, K.ISOLATION_WASTE):
        raise Invalid({"kind": _("Choose a kind")})
    label = str(label or "").strip()
    if not label or len(label) > 120:
        raise Invalid({"label": _("Enter a label (at most 120 characters)")})
    t = Target(place=place, place_path=place.path, compound=_compound_of(place), kind=kind, label=label,
               every_days=_frequency(every_days, "every_days", 1, 30, 1),
               times_a_day=_frequency(times_a_day, "times_a_day", 1, 12, 1), key_area=bool(key_area))
    try:
        with transaction.atomic():
            t.save()
    except IntegrityError:
        raise Invalid({"label": _("This place already has a target of this kind and label")}) from None
    record(acting_user, "disinfection.target.create", obj=t, detail={"kind": kind, "every_days": t.every_days,
                                                                     "times_a_day": t.times_a_day, "key_area": t.key_area})
    return t


@transaction.atomic
def generate_stairwells(*, acting_user, compound: Place, units=2, every_days=3, times_a_day=1) -> int:
    """A stairwell target for every entrance (unit) of every building of a compound (楼道):
    "<building>N单元楼道"; those that exist already are kept. Returns how many are new."""
    if compound.kind != Place.Kind.COMPOUND:
        raise Invalid({"place": _("Choose a compound")})
    units = _frequency(units, "units", 1, 20, 2)
    every = _frequency(every_days, "every_days", 1, 30, 3)
    times = _frequency(times_a_day, "times_a_day", 1, 12, 1)
    buildings = list(Place.objects.filter(parent=compound, kind=Place.Kind.BUILDING).order_by("path"))
    if not buildings:
        raise Invalid({"place": _("This compound has no buildings in the tree")})
    have = set(Target.objects.filter(compound=compound, kind=K.STAIRWELL).values_list("place_id", "label"))
    new = [Target(place=b, place_path=b.path, compound=compound, kind=K.STAIRWELL, label=f"{b.name}{u}单元楼道",
                  every_days=every, times_a_day=times)
           for b in buildings for u in range(1, units + 1) if (b.pk, f"{b.name}{u}单元楼道") not in have]
    Target.objects.bulk_create(new)
    record(acting_user, "disinfection.target.generate", obj=compound, detail={"new": len(new), "units": units})
    return len(new)


@transaction.atomic
def add_targets(*, acting_user, place: Place, specs) -> int:
    """Many targets at once (a compound's bins and stations, a demo street at the seeds'
    scale): specs [(kind, label, every_days, times_a_day, key_area)], each checked as by
    create_target; those already there (same kind and label) are kept. Returns how many are new."""
    _target_place(place)
    compound = _compound_of(place)
    have = set(Target.objects.filter(place=place).values_list("kind", "label"))
    new = []
    for kind, label, every, times, key in specs:
        if kind not in K.values or kind in (K.CASE_AREA, K.ISOLATION_WASTE):
            raise Invalid({"kind": _("Choose a kind")})
        label = str(label or "").strip()
        if not label or len(label) > 120:
            raise Invalid({"label": _("Enter a label (at most 120 characters)")})
        if (kind, label) in have:
            continue
        have.add((kind, label))
        new.append(Target(place=place, place_path=place.path, compound=compound, kind=kind, label=label,
                          every_days=_frequency(every, "every_days", 1, 30, 1),
                          times_a_day=_frequency(times, "times_a_day", 1, 12, 1), key_area=bool(key)))
    Target.objects.bulk_create(new, batch_size=1000)
    record(acting_user, "disinfection.target.add_many", obj=place, detail={"new": len(new)})
    return len(new)


# --- Logging a round --------------------------------------------------------------------

def holder_for(target: Target, item: Item | None = None, quantity: int = 0) -> Holder | None:
    """Where the agent comes from: the nearest active holder at or above the target's place
    (the compound's store, else the community's station, else the street's warehouse) that
    has `quantity` of `item` on hand; the nearest one when none has (its refusal says so)."""
    paths = list(reversed(ancestor_paths(target.place_path)))
    found: dict[str, list[Holder]] = {}
    for h in Holder.objects.filter(active=True, place_path__in=paths).order_by("id"):
        found.setdefault(h.place_path, []).append(h)
    ordered = [h for p in paths for h in found.get(p, [])]
    if item is not None:
        for h in ordered:
            if supplies.on_hand(h, item) >= quantity:
                return h
    return ordered[0] if ordered else None


def _amount(raw) -> int | None:
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_AMOUNT:
        raise Invalid({"amount": _("Enter a whole number from %(lo)d to %(hi)d") % {"lo": 1, "hi": MAX_AMOUNT}})
    return int(text)


def _when(raw) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        return raw
    try:
        value = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else timezone.make_aware(value)


def round_for_scan(target: Target, *, now: dt.datetime | None = None) -> Round | None:
    """The round a scan of `target` logs: the one done within the last 30 minutes (a second
    scan is the same round), else the earliest round still due today or before."""
    now = now or timezone.now()
    recent = target.rounds.filter(state=S.DONE, done_at__gte=now - dt.timedelta(minutes=DOUBLE_SCAN_MINUTES)).first()
    if recent is not None:
        return recent
    return target.rounds.filter(state=S.DUE, day__lte=timezone.localdate(now)).order_by("due_at", "id").first()


@transaction.atomic
def log_round(*, acting_user, round: Round, client_id: str = "", agent: Item | None = None, amount=None,
              device_at=None, offline: bool = False, note: str = "") -> tuple[Round, bool]:
    """due → done, once. (round as stored, whether this call logged it). A resend of one
    client id is the same log; a round logged already by another log is refused (409)."""
    client_id = str(client_id or "").strip()[:64] or None
    if client_id and (found := Round.objects.filter(client_id=client_id).first()) is not None:
        if found.pk != round.pk:
            raise Invalid({"client_id": _("This log id was already used for another round")})
        return found, False
    if round.state == S.DONE:
        raise Conflict(_("This round was already logged at %(at)s") % {"at": f"{timezone.localtime(round.done_at):%H:%M}"})
    n = _amount(amount)
    if (agent is None) != (n is None):
        raise Invalid({"amount" if agent is not None else "agent": _("Give the agent and the amount used together")})
    now = timezone.now()
    device = _when(device_at)
    done_at = device if device is not None and offline and now - dt.timedelta(days=2) < device <= now else now
    changes = {"done_at": done_at, "done_by": _user(acting_user), "device_at": device, "offline": bool(offline),
               "client_id": client_id, "note": str(note or "").strip()[:200], "agent": agent, "amount": n}
    try:
        with transaction.atomic():
            r = apply_transition(Round.objects.all(), round, LOG, refused=REFUSED, lower=True, changes=changes)
    except IntegrityError:  # the same client id stored meanwhile by a concurrent resend
        found = Round.objects.filter(client_id=client_id).first()
        if found is None or found.pk != round.pk:
            raise
        return found, False
    if agent is not None:
        holder = holder_for(r.target, agent, n)
        if holder is None:
            raise Conflict(_("No supplies holder above %(target)s to take the agent from") % {"target": r.target.label})
        entry = supplies.use_for_task(acting_user=acting_user, holder=holder, item=agent, quantity=n, task=TASK,
                                      task_id=r.pk, recipient=r.target.label[:120], at=done_at)
        Round.objects.filter(pk=r.pk).update(entry_id=entry.pk)
        r.entry_id = entry.pk
    record(acting_user, "disinfection.round.log", obj=r, detail={
        "target": r.target_id, "kind": r.kind, "agent": agent.code if agent else None, "amount": n, "offline": bool(offline)})
    return r, True


# --- Case-triggered rounds --------------------------------------------------------------

def case_place(place_path: str) -> Place | None:
    """The building (else the compound) at or above `place_path`."""
    ids = [int(s, 36) for s in place_path.strip("/").split("/") if s]
    places = {p.pk: p for p in Place.objects.filter(pk__in=ids, kind__in=[Place.Kind.BUILDING, Place.Kind.COMPOUND])}
    chain = [places[i] for i in reversed(ids) if i in places]
    return next((p for p in chain if p.kind == Place.Kind.BUILDING), None) or (chain[0] if chain else None)


@transaction.atomic
def case_round(*, acting_user, place_path: str, source: str, reason: str = "", at: dt.datetime | None = None) -> Round | None:
    """A round for the whole building (or compound) of `place_path` and its surroundings,
    due within the configured hours; one per `source` (a case told twice makes one round).
    None when the place is in no building or compound."""
    place = case_place(place_path)
    if place is None:
        return None
    key = f"{source}:{place.pk}"[:120]
    if (found := Round.objects.filter(source_key=key).first()) is not None:
        return found
    label = _("%(place)s and surroundings") % {"place": place.name}
    target, _created = Target.objects.get_or_create(
        place=place, kind=K.CASE_AREA, label=label[:120],
        defaults={"place_path": place.path, "compound": _compound_of(place), "every_days": 0, "key_area": True})
    at = at or timezone.now()
    try:
        with transaction.atomic():
            r = Round.objects.create(target=target, kind=Round.Kind.CASE, day=timezone.localdate(at), slot=0,
                                     due_at=at + dt.timedelta(hours=case_hours()), reason=str(reason or "")[:200],
                                     source_key=key, **_round_fields(target))
    except IntegrityError:
        return Round.objects.get(source_key=key)
    record(acting_user, "disinfection.case_round", obj=r, detail={"source": source.split(":")[0], "place": place.pk})
    text = _("Disinfect %(target)s by %(at)s (%(reason)s)") % {
        "target": target.label, "at": f"{timezone.localtime(r.due_at):%H:%M}", "reason": r.reason or source.split(":")[0]}
    transaction.on_commit(lambda: registry.raise_alert(registry.Alert(
        kind="disinfection.case", place_path=target.place_path, text=text, perms=("disinfection.alerted",),
        obj_type="disinfection.round", obj_id=r.pk)))
    return r


# --- Isolation waste --------------------------------------------------------------------

def isolated_households(place_path: str = "") -> list:
    """Households (at a building or compound) with someone under home observation now, by
    the health flags every module reports (no module's records read here)."""
    from fangkong.residents.models import Person

    qs = Person.objects.filter(household__isnull=False)
    if place_path:
        qs = qs.filter(place_path__under=place_path)
    pairs = list(qs.values_list("id", "household_id"))
    out = set()
    for i in range(0, len(pairs), 5000):
        chunk = pairs[i:i + 5000]
        flags = registry.health_flags([p for p, _h in chunk])
        for pid, hid in chunk:
            f = flags.get(pid, set())
            if registry.OBSERVATION in f and registry.CENTRAL_OBSERVATION not in f:
                out.add(hid)
    return sorted(out)


def collect_waste(*, day: dt.date | None = None) -> int:
    """A waste collection round today for each isolated household (its target made on the
    first day, inactive again after release). Returns how many rounds are new."""
    from fangkong.residents.models import Household

    day = day or timezone.localdate()
    households = {h.pk: h for h in Household.objects.filter(pk__in=isolated_households()).select_related("place")}
    existing = {t.household_id: t for t in Target.objects.filter(kind=K.ISOLATION_WASTE)}
    Target.objects.filter(kind=K.ISOLATION_WASTE, active=True).exclude(household_id__in=list(households)).update(active=False)
    rounds = []
    for hid, h in households.items():
        t = existing.get(hid)
        if t is None:
            place = h.place
            t = Target.objects.create(place=place, place_path=place.path, compound=_compound_of(place),
                                      kind=K.ISOLATION_WASTE, label=_("Isolation waste: %(address)s") % {"address": h.address[:90]},
                                      household_id=hid, every_days=1)
        elif not t.active:
            Target.objects.filter(pk=t.pk).update(active=True)
        due = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
        rounds.append(Round(target=t, kind=Round.Kind.WASTE, day=day, slot=0, due_at=due, **_round_fields(t)))
    return _insert(rounds)


# --- Escalation -------------------------------------------------------------------------

def escalate(*, now: dt.datetime | None = None) -> int:
    """Overdue key-area and case rounds (of the last two days) alert the compound's
    property staff and the committee, once per round."""
    now = now or timezone.now()
    late = (Round.objects.filter(state=S.DUE, due_at__lt=now, escalated_at__isnull=True,
                                 day__gte=timezone.localdate(now) - dt.timedelta(days=1))
            .filter(Q(key_area=True) | Q(kind=Round.Kind.CASE)).select_related("target"))
    n = 0
    for r in late[:500]:
        if Round.objects.filter(pk=r.pk, escalated_at__isnull=True).update(escalated_at=now) != 1:
            continue
        text = _("Disinfection overdue: %(target)s, due %(at)s") % {
            "target": r.target.label, "at": f"{timezone.localtime(r.due_at):%m-%d %H:%M}"}
        registry.raise_alert(registry.Alert(kind="disinfection.overdue", place_path=r.place_path, text=text,
                                            perms=("disinfection.alerted",), obj_type="disinfection.round", obj_id=r.pk))
        n += 1
    if n:
        record(None, "disinfection.escalate", detail={"rounds": n})
    return n
