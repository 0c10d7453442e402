"""JSON API of mass testing: rounds and coverage, the registrar's phone (the area's roster
for offline work, registration, sealing, the batch sync of its offline queue), the lab's
results, recall and door-knock lists. A registrar's answers hold a name and a masked ID,
never a full ID number or phone."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Body, Router, Schema, Status

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, kept, loaded_in_scope, scope
from fangkong.places.models import Place
from fangkong.residents.models import Household

from . import actions, queries
from .models import Box, Round, Site, Tube

router = Router(tags=["testing"])


def get_round(user, perm: str, pk: int) -> Round:
    """A round in scope for `perm`: at or under a granted place, or above it (a round of the
    whole street is the grid worker's round too); else 404."""
    try:
        return queries.rounds(user, perm).get(pk=pk) if 0 < pk < 2**63 else _404()
    except Round.DoesNotExist:
        get_in_scope(Round, user, perm, pk=pk)  # audits the refusal, raises 404
        raise Http404 from None


def _404():
    raise Http404


class TestingRoundIn(Schema):
    name: str
    place: int
    start_date: dt.date
    end_date: dt.date
    pooling: int = 10
    min_age: int | None = None
    max_age: int | None = None
    tags: str = ""


class TestingRoundOut(Schema):
    id: int
    name: str
    place_id: int
    start_date: dt.date
    end_date: dt.date
    pooling: int
    state: str


class TestingCoverageRow(Schema):
    place_id: int
    place_name: str
    must: int
    tested: int
    percent: float


class TestingRegistrationOut(Schema):
    id: int
    client_id: str
    name: str
    id_masked: str
    lane: int | None
    tube: str
    filled: int
    capacity: int
    sealed: bool
    conflict: bool
    created: bool


# Bodies of operations on an object ({pk}) have defaults: an object out of scope is a 404
# before anything in the body is looked at (ninja would answer 422 first).
class TestingSealIn(Schema):
    tube: str = ""


class TestingTubeOut(Schema):
    code: str
    filled: int
    capacity: int
    state: str
    result: str


class TestingSyncIn(Schema):
    entries: list[dict[str, Any]] = []


class TestingSyncOut(Schema):
    stored: int
    duplicates: int
    conflicts: int
    accepted: list[str]
    rejected: list[dict[str, Any]]


class TestingResultIn(Schema):
    tube: str
    result: str
    at: dt.datetime | None = None


class TestingResultsIn(Schema):
    rows: list[dict[str, Any]]


class TestingResultsOut(Schema):
    stored: int
    unchanged: int
    errors: list[dict[str, Any]]


class TestingRecallOut(Schema):
    id: int
    name: str
    tube: str
    state: str


class TestingHouseholdOut(Schema):
    id: int
    address: str
    place_name: str
    missing: int
    reason: str


class TestingKnockIn(Schema):
    household: int = 0
    reason: str = ""
    note: str = ""


class TestingBoxIn(Schema):
    lab: int = 0
    tubes: list[str] = []


class TestingBoxOut(Schema):
    id: int
    state: str
    tubes: int


def round_out(r: Round) -> dict:
    return {f: getattr(r, f) for f in ("id", "name", "place_id", "start_date", "end_date", "pooling", "state")}


def registration_out(reg, created: bool, site: Site) -> dict:
    tube = reg.tube
    return {"id": reg.pk, "client_id": str(reg.client_id), "name": actions.shown_name(site, reg.person),
            "id_masked": reg.person.id_masked, "lane": reg.lane.number if reg.lane_id else None, "tube": tube.code,
            "filled": tube.filled, "capacity": tube.capacity, "sealed": tube.state != Tube.State.OPEN,
            "conflict": reg.conflict, "created": created}


@router.get("/testing/rounds", response=list[TestingRoundOut], auth=api_perm("testing.view"))
def round_list(request):
    return [round_out(r) for r in queries.rounds(request.user)[:200]]


@router.post("/testing/rounds", response={201: TestingRoundOut}, auth=api_perm("testing.manage"))
def round_create(request, payload: TestingRoundIn):
    place = scope(Place.objects.all(), request.user, "testing.manage").filter(pk=payload.place if 0 < payload.place < 2**63 else 0).first()
    if place is None:
        raise Invalid({"place": _("Choose a place in your area")})
    r = actions.create_round(acting_user=request.user, name=payload.name, place=place, start_date=payload.start_date,
                             end_date=payload.end_date, pooling=payload.pooling, min_age=payload.min_age,
                             max_age=payload.max_age, tags=payload.tags)
    return Status(201, round_out(r))


@router.post("/testing/rounds/{pk}/start", response=TestingRoundOut, auth=api_perm("testing.manage", obj=Round))
def round_start(request, pk: int):
    return round_out(actions.transition(acting_user=request.user, round=get_in_scope(Round, request.user, "testing.manage", pk=pk),
                                        action="start"))


@router.post("/testing/rounds/{pk}/close", response=TestingRoundOut, auth=api_perm("testing.manage", obj=Round))
def round_close(request, pk: int):
    return round_out(actions.transition(acting_user=request.user, round=get_in_scope(Round, request.user, "testing.manage", pk=pk),
                                        action="close"))


@router.get("/testing/rounds/{pk}/coverage", response=list[TestingCoverageRow], auth=api_perm("testing.view", obj=Round))
def round_coverage(request, pk: int, level: str = "community"):
    """Who has been tested against who must be, per community, grid, compound or building."""
    if level not in queries.LEVELS:
        raise Invalid({"level": _("The level must be community, grid, compound or building")})
    rnd = get_round(request.user, "testing.view", pk)
    return [{"place_id": r["place"].pk, "place_name": r["place"].name, "must": r["must"], "tested": r["tested"],
             "percent": r["percent"]} for r in queries.coverage(request.user, rnd, level=level)]


@router.get("/testing/rounds/{pk}/recalls", response=list[TestingRecallOut], auth=api_perm("testing.recall", obj=Round))
def round_recalls(request, pk: int):
    rnd = get_round(request.user, "testing.recall", pk)
    return [{"id": r.pk, "name": r.person.name, "tube": r.tube.code, "state": r.state}
            for r in queries.recalls(request.user, rnd)[:1000]]


@router.get("/testing/rounds/{pk}/not-tested", response=list[TestingHouseholdOut], auth=api_perm("testing.knock", obj=Round))
def round_not_tested(request, pk: int):
    """The households of the caller's area with a member not yet tested (the door-knock list)."""
    rnd = get_round(request.user, "testing.knock", pk)
    rows = list(queries.not_tested_households(request.user, rnd)[:1000])
    knocks = queries.last_knocks(rnd, [h.pk for h in rows])
    return [{"id": h.pk, "address": h.address, "place_name": h.place.name, "missing": h.missing,
             "reason": knocks[h.pk].reason if h.pk in knocks else ""} for h in rows]


@router.post("/testing/rounds/{pk}/knocks", response={201: dict}, auth=api_perm("testing.knock", obj=Round))
def round_knock(request, pk: int, payload: TestingKnockIn):
    rnd = get_round(request.user, "testing.knock", pk)
    household = scope(Household.objects.all(), request.user, "testing.knock").filter(
        pk=payload.household if 0 < payload.household < 2**63 else 0).first()
    if household is None:
        raise Invalid({"household": _("No such household in your area")})
    k = actions.knock(acting_user=request.user, round=rnd, household=household, reason=payload.reason, note=payload.note)
    return Status(201, {"id": k.pk, "reason": k.reason})


# --- The registrar's phone ---------------------------------------------------------------------

def _site(request, pk: int) -> Site:
    """The site in the registrar's scope (with its round and area), else 404. The phone's
    calls (a registration each scan) read it by a prepared statement and check the scope
    from the grants already loaded (queries.site_values, access.loaded_in_scope); anything
    that check refuses is asked again of get_in_scope, which answers and audits the 404.
    The site's, its round's and its area's values are kept by the process under the auth
    version (places.access.kept; the testing app declares its sites and rounds, so that a
    round closed or a site changed counts from the next request): measured by
    bench.profile W6, the site's read was one of four statements on PostgreSQL."""
    values = kept(request.user, "testing.site", pk, lambda: queries.site_values(pk)) if 0 < pk < 2**63 else None
    site = None if values is None else queries.site_of(values)
    if site is not None and loaded_in_scope(site, request.user, "testing.register"):
        return site
    return get_in_scope(Site.objects.select_related("round", "place"), request.user, "testing.register", pk=pk)


@router.get("/testing/sites/{pk}/roster", auth=api_perm("testing.register", obj=Site))
def site_roster(request, pk: int) -> dict:
    """What the phone keeps for working offline: the lanes, the pooling size, the persons
    of the site's area with name, birth year and masked ID (never a full ID number), and the
    passes' public keys, the revoked pass ids and the revoked personal links' ids (a scanned
    pass or personal-link code is checked on the phone: fangkong/passcode.js)."""
    from fangkong.accounts import linkcodes
    from fangkong.gates import passcheck

    site = _site(request, pk)
    persons = actions.area_persons(site).values_list("id", "name", "birth_date", "id_masked").order_by("id")
    return {"site": site.pk, "round": site.round_id, "pooling": site.round.pooling, "state": site.round.state,
            "lanes": [{"id": ln.pk, "number": ln.number, "kind": ln.kind, "label": ln.get_kind_display()}
                      for ln in site.lanes.all()],
            "persons": [[pid, name, born.year, masked] for pid, name, born, masked in persons],
            "trust": {**passcheck.trust(), "revoked_links": linkcodes.revoked_ids()}}


@router.post("/testing/sites/{pk}/registrations", response={200: TestingRegistrationOut, 201: TestingRegistrationOut},
             auth=api_perm("testing.register", obj=Site))
def site_register(request, pk: int, payload: dict[str, Any] = Body(...)):
    """Register a person (scanned code, typed ID number, name-search id, or a new person)
    into the scanned tube. A resend (same client_id) returns the stored one with 200."""
    site = _site(request, pk)
    reg, created = actions.register(acting_user=request.user, site=site, raw={**payload, "offline": False})
    return Status(201 if created else 200, registration_out(reg, created, site))


@router.post("/testing/sites/{pk}/seal", response=TestingTubeOut, auth=api_perm("testing.register", obj=Site))
def site_seal(request, pk: int, payload: TestingSealIn):
    t = actions.seal(acting_user=request.user, site=_site(request, pk), code=payload.tube)
    return {"code": t.code, "filled": t.filled, "capacity": t.capacity, "state": t.state, "result": t.result}


@router.post("/testing/sites/{pk}/sync", response=TestingSyncOut, auth=api_perm("testing.register", obj=Site))
def site_sync(request, pk: int, payload: TestingSyncIn):
    """The phone's offline queue: registrations and seals in order, each stored once."""
    return actions.sync(acting_user=request.user, site=_site(request, pk), entries=payload.entries)


@router.post("/testing/sites/{pk}/boxes", response={201: TestingBoxOut}, auth=api_perm("testing.register", obj=Site))
def site_box(request, pk: int, payload: TestingBoxIn):
    from fangkong.places.models import Organization

    site = _site(request, pk)
    lab = Organization.objects.filter(pk=payload.lab if 0 < payload.lab < 2**63 else 0).first()
    box = actions.pack_box(acting_user=request.user, site=site, lab=lab, codes=payload.tubes)
    return Status(201, {"id": box.pk, "state": box.state, "tubes": box.tubes.count()})


@router.post("/testing/boxes/{pk}/courier", response=TestingBoxOut, auth=api_perm("testing.register", obj=Box))
def box_courier(request, pk: int):
    box = actions.handover(acting_user=request.user, box=queries.registrar_box(request.user, pk), step="courier")
    return {"id": box.pk, "state": box.state, "tubes": box.tubes.count()}


@router.post("/testing/boxes/{pk}/receive", response=TestingBoxOut, auth=api_perm("testing.results", obj=Box))
def box_receive(request, pk: int):
    box = actions.handover(acting_user=request.user, box=get_in_scope(Box, request.user, "testing.results", pk=pk), step="receive")
    return {"id": box.pk, "state": box.state, "tubes": box.tubes.count()}


class TestingPostIn(Schema):
    kind: str = ""
    user: int = 0


class TestingPolicyIn(Schema):
    pending_colour: str


@router.post("/testing/sites/{pk}/posts", response={201: dict}, auth=api_perm("testing.manage", obj=Site))
def site_post(request, pk: int, payload: TestingPostIn):
    """Fill a staff post of the site (order keeper, registrar, sampler) with an account."""
    from django.contrib.auth import get_user_model

    site = get_in_scope(Site, request.user, "testing.manage", pk=pk)
    user = get_user_model().objects.filter(pk=payload.user if 0 < payload.user < 2**63 else 0, is_active=True).first()
    post = actions.add_post(acting_user=request.user, site=site, kind=payload.kind, user=user)
    return Status(201, {"id": post.pk, "kind": post.kind, "user": post.user_id})


@router.post("/testing/policy", response=dict, auth=api_perm("testing.policy"))
def policy_set(request, payload: TestingPolicyIn):
    """The pass colour of a positive pool's persons while their single results are pending."""
    policy = actions.set_policy(acting_user=request.user, colour=payload.pending_colour)
    return {"pending_colour": policy.pending_colour}


# --- The lab ------------------------------------------------------------------------------------

@router.post("/testing/results", response=TestingTubeOut, auth=api_perm("testing.results"))
def result_post(request, payload: TestingResultIn):
    """One tube's result, by its barcode (a tube the lab received, or in the caller's area)."""
    tube = results_tube(request.user, payload.tube)
    t, _changed = actions.post_result(acting_user=request.user, tube=tube, result=payload.result, at=payload.at)
    return {"code": t.code, "filled": t.filled, "capacity": t.capacity, "state": t.state, "result": t.result}


def results_tube(user, code) -> Tube:
    code = actions.clean_code(code)
    tube = scope(Tube.objects.all(), user, "testing.results").filter(code=code).first()
    if tube is None:
        raise Invalid({"tube": _("Unknown tube %(code)s") % {"code": code}})
    return tube


@router.post("/testing/results/batch", response=TestingResultsOut, auth=api_perm("testing.results"))
def result_batch(request, payload: TestingResultsIn):
    """Rows {tube, result, time}: each stored by itself; the bad ones reported with their row."""
    from . import results

    return results.apply_rows(request.user, ((i, row) for i, row in enumerate(payload.rows, start=1)))
