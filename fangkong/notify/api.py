"""JSON API of notifications: the signed-in user's own inbox, and the channels of those
holding notify.manage. Same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema
from ninja.security import django_auth

from fangkong.places.access import api_perm, scope

from . import actions
from .models import Channel, Delivery
from .views import inbox_queryset

router = Router(tags=["notify"])


class InboxItem(Schema):
    id: int
    message_id: int
    kind: str
    title: str
    body: str
    link: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @staticmethod
    def resolve_kind(obj):
        return obj.message.kind

    @staticmethod
    def resolve_title(obj):
        return obj.message.title

    @staticmethod
    def resolve_body(obj):
        return obj.message.body

    @staticmethod
    def resolve_link(obj):
        return obj.message.link

    @staticmethod
    def resolve_created_at(obj):
        return obj.message.created_at


class InboxOut(Schema):
    unread: int
    items: list[InboxItem]


class ReadIn(Schema):
    ids: list[int] = []
    all: bool = False


class ReadOut(Schema):
    marked: int
    unread: int


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    place_id: int
    target: str
    signed: bool
    kinds: list[str]
    roles: list[str]
    active: bool
    pending: int
    dead: int

    @staticmethod
    def resolve_target(obj):
        return obj.target_display

    @staticmethod
    def resolve_signed(obj):
        return bool(obj.secret)

    @staticmethod
    def resolve_kinds(obj):
        return obj.kind_list

    @staticmethod
    def resolve_roles(obj):
        return obj.role_list


@router.get("/inbox", response=InboxOut, summary="My inbox, unread first", auth=django_auth)
def my_inbox(request, unread_only: bool = False, limit: int = 50, offset: int = 0):
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
