"""Transfer requests (迁入申请): taking over a person registered in another jurisdiction.

An action started in one jurisdiction never reveals or takes over a person of another
(issue 15, item 1). When a registering action (a return application, a new registration)
names an ID number that is registered outside the acting user's scope, it sends a
transfer request to the committee where the person is registered instead:

    requested ─accept→ accepted   (the person moves into the requester's household)
              ─decline→ declined  (with the reason)
              ─withdraw→ withdrawn (by the requester's side)

The requester's answer is the same whether the number is unknown or registered elsewhere
until the owners accept; then the person is in the requester's scope like any other.
Every step is an audit event; the owners hear of a request through the inbox and their
to-do list, the requester of the decision.

Another module that waits for a request's decision (an inflow application for a person
registered elsewhere) registers a follow-up for its `purpose` with `on_decided()`; it runs
in the deciding transaction.
"""
from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.identity import has_numbers, mask_name, mask_numbers
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition

from .models import Household, Person, Transfer

T = Transfer.State

TRANSITIONS: dict[str, Transition] = {
    "accept": Transition("residents.transfer", (T.REQUESTED,), T.ACCEPTED, gettext_lazy("Accept the transfer")),
    "decline": Transition("residents.transfer", (T.REQUESTED,), T.DECLINED, gettext_lazy("Decline the transfer")),
}
# The requester's side withdraws its own request (scoped by the destination: OutgoingTransfer).
WITHDRAW = Transition("residents.transfer_request", (T.REQUESTED,), T.WITHDRAWN, gettext_lazy("Withdraw the request"))

_FOLLOW_UPS: dict[str, Callable] = {}


def on_decided(purpose: str, fn: Callable) -> None:
    """Register `fn(transfer, acting_user)` to run when a request with this purpose is
    accepted, declined or withdrawn (in the same transaction)."""
    _FOLLOW_UPS[purpose] = fn


def _reason(text, *, required: bool, field: str = "reason") -> str:
    text = " ".join(str(text or "").split())
    if required and not text:
        raise Invalid({field: _("Give the reason")})
    if len(text) > 300:
        raise Invalid({field: _("At most 300 characters")})
    return mask_numbers(text)


def request(*, acting_user, person: Person, typed_name: str, to_place, address: str, reason: str,
            employer=None, purpose: str = "") -> Transfer:
    """Ask the committee where `person` is registered to transfer them to `address` at
    `to_place`. The caller found `person` by the ID number the requester typed, outside
    the requester's scope; nothing of the person is returned to the requester."""
    address = " ".join(str(address or "").split())
    errors = {}
    if not address:
        errors["address"] = _("Enter the household address")
    elif len(address) > 200:
        errors["address"] = _("Address is longer than 200 characters")
    elif has_numbers(address):
        errors["address"] = _("Leave phone and ID numbers out of the address")
    try:
        reason = _reason(reason, required=True)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    pending = Transfer.objects.filter(person=person, to_path=to_place.path, purpose=purpose, state=T.REQUESTED).first()
    if pending is not None and purpose != "inflow":  # asked already: no second message to the owners
        return pending
    with transaction.atomic():
        t = Transfer.objects.create(
            person=person, from_path=person.place_path, to_place=to_place, to_path=to_place.path, address=address,
            employer=employer, typed_name=str(typed_name or "")[:50], id_masked=person.id_masked, reason=reason,
            purpose=purpose, requested_by=acting_user if acting_user and acting_user.is_authenticated else None,
            requested_at=timezone.now())
        record(acting_user, "residents.transfer.request", obj=t, detail={"to_place": to_place.pk, "purpose": purpose})
        transaction.on_commit(lambda: _tell_owners(acting_user, t))
    return t


def decide(*, acting_user, transfer: Transfer, action: str, reason: str = "") -> Transfer:
    """The owning committee accepts (the person moves into the requester's household) or
    declines (a reason is required)."""
    t = TRANSITIONS[action]
    reason = _reason(reason, required=action == "decline")
    now = timezone.now()
    with transaction.atomic():
        current = apply_transition(
            Transfer.objects, transfer, t,
            changes={"decided_by": acting_user, "decided_at": now, "decision_reason": reason},
            refused=gettext_lazy("Cannot %(action)s: the request is %(state)s"),
            changed=gettext_lazy("The request was changed by someone else; reload it"), lower=True)
        if action == "accept":
            _move(acting_user, current)
        record(acting_user, f"residents.transfer.{action}", obj=current, detail={"state": current.state})
        _follow_up(current, acting_user)
        transaction.on_commit(lambda: _tell_requester(acting_user, current))
        if action == "accept":  # the person has moved: other requests for them are over
            for other in Transfer.objects.filter(person_id=current.person_id, state=T.REQUESTED).exclude(pk=current.pk):
                decide(acting_user=acting_user, transfer=other, action="decline",
                       reason=_("The person moved to another place meanwhile"))
    return current


def withdraw(*, acting_user, transfer: Transfer) -> Transfer:
    """The requester's side withdraws its request. A request another module waits for (an
    inflow application's) is withdrawn only by who made it or by that module itself
    (acting_user None), so withdrawing cannot stand in for that module's own decision."""
    if transfer.purpose and acting_user is not None and transfer.requested_by_id != getattr(acting_user, "pk", None):
        raise Conflict(_("Only who made this request can withdraw it"))
    with transaction.atomic():
        current = apply_transition(
            Transfer.objects, transfer, WITHDRAW, changes={"decided_at": timezone.now()},
            refused=gettext_lazy("Cannot %(action)s: the request is %(state)s"),
            changed=gettext_lazy("The request was changed by someone else; reload it"), lower=True)
        record(acting_user, "residents.transfer.withdraw", obj=current, detail={"state": current.state})
        _follow_up(current, acting_user)
    return current


def _move(acting_user, t: Transfer) -> None:
    """The person moves into the household at the requested address (made if new) and,
    when the request came from a unit, to that unit's staff."""
    from . import actions

    person = Person.objects.select_for_update().get(pk=t.person_id)
    if person.place_path != t.from_path:
        raise Conflict(_("The person has moved since the request was made; decline it and ask for a new one"))
    household = Household.objects.filter(place=t.to_place, address=t.address).first()
    if household is None:
        household = actions.create_household(acting_user=acting_user, place=t.to_place, address=t.address)
    actions.update_person(acting_user=acting_user, person=person, clean={}, household=household,
                          employer=t.employer if t.employer_id else ...)


def _follow_up(t: Transfer, acting_user) -> None:
    fn = _FOLLOW_UPS.get(t.purpose)
    if fn is not None:
        fn(t, acting_user)


def _tell_owners(acting_user, t: Transfer) -> None:
    from django.urls import reverse

    from fangkong.notify.actions import notify

    with translation.override(settings.LANGUAGE_CODE):
        notify(kind="residents.transfer", perms=("residents.transfer",), place_path=t.from_path, obj=t,
               acting_user=acting_user, link=reverse("transfer_detail", args=[t.pk]),
               dedupe_key=f"residents.transfer:{t.pk}",
               title=_("Transfer request: %(name)s (%(id)s)") % {"name": mask_name(t.typed_name), "id": t.id_masked},
               body=_("To %(place)s. %(reason)s") % {"place": t.to_place.name, "reason": t.reason})


def _tell_requester(acting_user, t: Transfer) -> None:
    from django.urls import reverse

    from fangkong.notify.actions import notify

    with translation.override(settings.LANGUAGE_CODE):
        notify(kind=f"residents.transfer.{t.state}", users=[t.requested_by_id] if t.requested_by_id else [],
               place_path=t.to_path, obj=t, acting_user=acting_user, link=reverse("transfer_list"),
               dedupe_key=f"residents.transfer.decided:{t.pk}",
               title=_("Transfer request %(name)s (%(id)s): %(state)s") % {
                   "name": mask_name(t.typed_name), "id": t.id_masked, "state": t.get_state_display()},
               body=t.decision_reason or str(t.get_state_display()))


def register_or_request(*, acting_user, clean: dict, household: Household, employer=None):
    """A new registration at `household`: (person, None); or, when the ID number is
    registered outside the acting user's scope, (None, a transfer request to the
    committee where it is registered) — the registrar learns that the number is taken,
    nothing of the person. A number registered in the user's own scope is the
    `DuplicatePerson` of `actions.create_person` (a pointer to follow)."""
    from . import actions

    try:
        return actions.create_person(acting_user=acting_user, clean=clean, household=household, employer=employer), None
    except actions.DuplicatePerson as dup:
        if dup.existing is not None:
            raise
        from fangkong.lib import crypto

        person = Person.objects.filter(id_bidx__in=crypto.blind_indexes("id", clean["id_number"])).first()
        if person is None:  # gone meanwhile (persons are not deleted today): say it plainly
            raise
    return None, request(acting_user=acting_user, person=person, typed_name=clean["name"], to_place=household.place,
                         address=household.address, employer=employer,
                         reason=_("Registered as a resident at %(address)s") % {"address": household.address})
