"""JSON API of notifications: the signed-in user's own inbox, and the channels of those
holding notify.manage. Same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema
from ninja.security import django_auth

from fangkong.lib.apitypes import DbId, Offset
from fangkong.places.access import api_perm, scope

from . import actions
from .models import Channel, Delivery
from .views import inbox_queryset

router = Router(tags=["notify"])


class InboxItem(Schema):
    id: int
    message_id: int
    kind: str = Field(..., alias="message.kind")
    title: str = Field(..., alias="message.title")
    body: str = Field(..., alias="message.body")
    link: str = Field(..., alias="message.link")
    created_at: dt.datetime = Field(..., alias="message.created_at")
    read_at: dt.datetime | None


class InboxOut(Schema):
    unread: int
    items: list[InboxItem]


class ReadIn(Schema):
    ids: list[DbId] = []
    all: bool = False


class ReadOut(Schema):
    marked: int
    unread: int


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    place_id: int
    target: str = Field(..., alias="target_display")
    signed: bool
    kinds: list[str] = Field(..., alias="kind_list")
    roles: list[str] = Field(..., alias="role_list")
    active: bool
    pending: int
    dead: int

    @staticmethod
    def resolve_signed(obj):
        return bool(obj.secret)


@router.get("/inbox", response=InboxOut, summary="My inbox, unread first", auth=django_auth)
def my_inbox(request, unread_only: bool = False, limit: int = 50, offset: Offset = 0):
    qs = inbox_queryset(request.user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    limit, offset = min(max(limit, 1), 200), max(offset, 0)
    return {"unread": actions.unread_count(request.user), "items": list(qs[offset: offset + limit])}


@router.post("/inbox/read", response=ReadOut, summary="Mark my messages read (ids, or all)", auth=django_auth)
def mark_read(request, payload: ReadIn):
    if payload.all:
        n = actions.mark_all_read(acting_user=request.user)
    elif payload.ids:
        n = actions.mark_read(acting_user=request.user, recipient_ids=payload.ids)  # another's id -> 404
    else:
        n = 0
    return {"marked": n, "unread": actions.unread_count(request.user)}


@router.get("/notify/channels", response=list[ChannelOut], summary="Notification channels in scope",
            auth=api_perm("notify.manage"))
def list_channels(request):
    from django.db.models import Count, Q

    D = Delivery.State
    qs = scope(Channel.objects.all(), request.user, "notify.manage").annotate(
        pending=Count("deliveries", filter=Q(deliveries__state__in=[D.PENDING, D.FAILED])),
        dead=Count("deliveries", filter=Q(deliveries__state=D.DEAD)),
    )
    return list(qs)
