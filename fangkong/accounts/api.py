"""JSON API of staff accounts and grants: the same actions and access checks as the pages
(delegation refused with 403 and nothing stored)."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope
from fangkong.places.models import Grant, Organization, Place

from . import actions, queries
from .models import StaffProfile

router = Router(tags=["accounts"])


class StaffPersonOut(Schema):
    id: int
    username: str
    name: str
    phone: str
    place_id: int
    active: bool


def _person(p: StaffProfile) -> dict:
    return {"id": p.pk, "username": p.user.username, "name": p.user.first_name, "phone": p.phone_masked,
            "place_id": p.home_place_id, "active": p.user.is_active}


class GrantIn(Schema):  # defaults: an out-of-scope {pk} is a 404 before the body is judged
    role: str = ""
    target: str = ""  # a place's or an organization's code
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class StaffPersonIn(GrantIn):
    name: str = ""
    phone: str = ""


class GrantOut(Schema):
    id: int
    user_id: int
    role: str
    place_id: int | None
    organization_id: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None
    active: bool


def _target(code: str):
    target = Place.objects.filter(code=code).first() or Organization.objects.filter(code=code).first()
    if target is None:
        raise Invalid({"target": _("No place or organization has this code")})
    return target


@router.get("/staff/people", response=list[StaffPersonOut], auth=api_perm("accounts.view"),
            summary="People in scope, by name or (masked) phone")
def people(request, q: str = ""):
    return [_person(p) for p in queries.people(request.user, q[:40])[:200]]


@router.post("/staff/people", response={201: StaffPersonOut}, auth=api_perm("accounts.manage"),
             summary="Create an account with a first role (no password: hand over a one-time link)")
def create(request, body: StaffPersonIn):
    target = _target(body.target)
    user = actions.create_account(acting_user=request.user, name=body.name, phone=body.phone,
                                  place=target if isinstance(target, Place) else target.place, role=body.role,
                                  target=target, starts_on=body.starts_on, ends_on=body.ends_on)
    return Status(201, _person(user.staff_profile))


@router.post("/staff/people/{pk}/grants", response={201: GrantOut}, auth=api_perm("accounts.manage", obj=StaffProfile),
             summary="Grant a role over a place or organization (only what the caller may delegate)")
def grant(request, pk: int, body: GrantIn):
    profile = get_in_scope(StaffProfile.objects.select_related("user"), request.user, "accounts.manage", pk=pk)
    return Status(201, actions.grant_role(acting_user=request.user, user=profile.user, role=body.role,
                                          target=_target(body.target), starts_on=body.starts_on, ends_on=body.ends_on))


class GrantRevokeIn(Schema):
    grant: int = 0


@router.post("/staff/people/{pk}/revoke", response=GrantOut, auth=api_perm("accounts.manage", obj=StaffProfile))
def revoke(request, pk: int, body: GrantRevokeIn):
    profile = get_in_scope(StaffProfile.objects.select_related("user"), request.user, "accounts.manage", pk=pk)
    found = Grant.objects.filter(pk=body.grant, user=profile.user).select_related("place", "organization").first()
    if found is None:
        raise Invalid({"grant": _("Choose one of this person's grants.")})
    return actions.revoke(acting_user=request.user, grant=found)


class LinkIn(Schema):
    send: bool = False


class LinkOut(Schema):
    url: str
    hours: int


@router.post("/staff/people/{pk}/link", response=LinkOut, auth=api_perm("accounts.manage", obj=StaffProfile),
             summary="A one-time sign-in link (returned once)")
def link(request, pk: int, body: LinkIn):
    profile = get_in_scope(StaffProfile.objects.select_related("user"), request.user, "accounts.manage", pk=pk)
    token = actions.issue_signin_link(acting_user=request.user, user=profile.user, send=body.send)
    return {"url": settings.PUBLIC_URL + reverse("signin_link", kwargs={"token": token}), "hours": settings.SIGNIN_LINK_HOURS}


class OpenItem(Schema):
    key: str
    label: str
    count: int
    url: str


@router.post("/staff/people/{pk}/deactivate", response=list[OpenItem], auth=api_perm("accounts.manage", obj=StaffProfile),
             summary="Deactivate; returns the open items listed for reassignment")
def deactivate(request, pk: int):
    profile = get_in_scope(StaffProfile.objects.select_related("user"), request.user, "accounts.manage", pk=pk)
    return actions.deactivate(acting_user=request.user, user=profile.user)


class HolderOut(Schema):
    user_id: int
    name: str
    role: str
    place_id: int | None
    organization_id: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None


@router.get("/staff/holders", response=list[HolderOut], auth=api_perm("accounts.view"),
            summary="Who holds what under a place (by its code)")
def holders(request, place: str):
    where = get_in_scope(Place, request.user, "accounts.view", code=place)
    return [{"user_id": g.user_id, "name": g.user.first_name, "role": g.role, "place_id": g.place_id,
             "organization_id": g.organization_id, "starts_on": g.starts_on, "ends_on": g.ends_on}
            for g in queries.holdings(request.user, where)[:1000]]
