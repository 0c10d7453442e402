"""JSON API of disinfection: the phone's rounds and its queue of logs (sent in batches, a
client id per log: a resend stores once), a round's log by id, a target's round by its
code. The same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from ninja import Router, Schema

from fangkong.lib.apitypes import Offset
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.supplies.models import Item

from . import actions
from .models import Round, Target

router = Router(tags=["disinfection"])
BATCH = 200
AGENTS = ("disinfectant", "disinfectant_powder", "alcohol")


class DisinfectionRoundOut(Schema):
    id: int
    target_id: int
    target: str
    kind: str
    key_area: bool
    day: dt.date
    due_at: dt.datetime
    state: str
    done_at: dt.datetime | None
    agent_id: int | None
    amount: int | None

    @staticmethod
    def resolve_target(obj):
        return obj.target.label


class DisinfectionLogIn(Schema):
    client_id: str = ""
    agent_id: int | None = None
    amount: int | str | None = None
    note: str = ""


class DisinfectionBatchIn(Schema):
    entries: list[dict[str, Any]]
    sent_at: str | None = None


class DisinfectionBatchOut(Schema):
    accepted: list[str]
    rejected: list[dict[str, Any]]
    rounds: list[DisinfectionRoundOut]


def _agent(agent_id):
    if agent_id in (None, ""):
        return None
    item = Item.objects.filter(pk=agent_id, code__in=AGENTS).first() if str(agent_id).isdigit() else None
    if item is None:
        raise Invalid({"agent_id": "unknown disinfectant"})
    return item


@router.get("/disinfection/rounds", response=list[DisinfectionRoundOut], auth=api_perm("disinfection.log"),
            summary="Rounds still due today and yesterday in the caller's scope, earliest first")
def rounds(request, offset: Offset = 0):
    today = timezone.localdate()
    qs = scope(Round.objects.filter(state=Round.State.DUE, day__gte=today - dt.timedelta(days=1), day__lte=today),
               request.user, "disinfection.log").select_related("target").order_by("due_at", "id")
    return list(qs[offset:offset + 500])


@router.post("/disinfection/rounds/{pk}/log", response=DisinfectionRoundOut,
             auth=api_perm("disinfection.log", obj=Round), summary="Log one round (idempotent per client id)")
def log(request, pk: int, payload: DisinfectionLogIn):
    r = get_in_scope(Round.objects.select_related("target"), request.user, "disinfection.log", pk=pk)
    done, _created = actions.log_round(acting_user=request.user, round=r, client_id=payload.client_id,
                                       agent=_agent(payload.agent_id), amount=payload.amount, note=payload.note)
    return done


@router.post("/disinfection/logs", response=DisinfectionBatchOut, auth=api_perm("disinfection.log"),
             summary="The phone's queue of logs")
def logs(request, payload: DisinfectionBatchIn):
    """Each entry {client_id, round (id) or code (a scanned target's), agent_id?, amount?,
    device_at, offline, note?}. Accepted: logged now or before (same client id, or a second
    scan of a target just done); rejected with the reason per field, nothing stored for it."""
    if len(payload.entries) > BATCH:
        raise Invalid({"entries": f"at most {BATCH} entries per batch"})
    accepted, rejected, out = [], [], {}
    for e in payload.entries:
        cid = str(e.get("client_id") or "")[:64] if isinstance(e, dict) else ""
        if not cid:
            rejected.append({"client_id": "", "errors": {"client_id": "required"}})
            continue
        try:
            with transaction.atomic():
                r = _entry_round(request, e)
                if r.state == Round.State.DONE and r.client_id != cid and e.get("code"):
                    done = r  # a second scan of a target just logged: counted once
                else:
                    done, _created = actions.log_round(
                        acting_user=request.user, round=r, client_id=cid, agent=_agent(e.get("agent_id")),
                        amount=e.get("amount"), device_at=e.get("device_at"), offline=bool(e.get("offline")),
                        note=str(e.get("note") or ""))
        except Invalid as exc:
            rejected.append({"client_id": cid, "errors": {k: str(v) for k, v in exc.errors.items()}})
            continue
        except Conflict as exc:
            rejected.append({"client_id": cid, "errors": {"state": str(exc)}})
            continue
        accepted.append(cid)
        out[done.pk] = done
    fresh = Round.objects.filter(pk__in=list(out)).select_related("target")
    return {"accepted": accepted, "rejected": rejected, "rounds": list(fresh)}


def _entry_round(request, e) -> Round:
    from django.http import Http404

    try:
        if e.get("round") not in (None, ""):
            pk = int(e.get("round"))
            return get_in_scope(Round.objects.select_related("target"), request.user, "disinfection.log", pk=pk)
        code = str(e.get("code") or "")[:20]
        t = get_in_scope(Target.objects.all(), request.user, "disinfection.log", code=code)
    except (Http404, ValueError, TypeError):
        raise Invalid({"round": "no such round in your scope"}) from None
    r = actions.round_for_scan(t)
    if r is None:
        raise Conflict("no round of this target is due")
    return r
