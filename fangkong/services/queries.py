"""Reads shared by pages, API and figures: what a user may see of services, hardship and the hotline."""
from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from fangkong.places.access import get_in_scope, has_perm, scope, scope_q

from .models import Call, HardshipCase, ServiceRequest

S = ServiceRequest.State


def board(user, which: str = "open"):
    qs = scope(ServiceRequest.objects.select_related("person", "assignee"), user, "services.view")
    now = timezone.now()
    if which == "overdue":
        return qs.filter(state__in=ServiceRequest.OPEN, due_at__lt=now).order_by("due_at", "pk")
    if which == "done":
        return qs.filter(state__in=[S.DELIVERED, S.SETTLED, S.CANCELLED]).order_by("-created_at", "-pk")
    return qs.filter(state__in=ServiceRequest.OPEN).order_by("-priority", "due_at", "pk")


def my_tasks(user):
    """The user's own tasks (open first)."""
    return ServiceRequest.objects.filter(assignee=user, state__in=[S.ACCEPTED, S.BOUGHT, S.DELIVERED]).order_by(
        "state", "due_at", "pk")


def pool(user):
    """Open requests nobody took yet, in the user's area for services.deliver."""
    return scope(ServiceRequest.objects.filter(state=S.REQUESTED), user, "services.deliver").order_by(
        "-priority", "due_at", "pk")


def task_for(user, pk, perm: str = "services.deliver") -> ServiceRequest:
    """A request by pk for the deliverer: in the user's area for services.deliver, or assigned
    to the user (a volunteer granted over a site); else 404."""
    if not has_perm(user, perm):
        raise Http404
    q = scope_q(ServiceRequest, user, perm)
    qs = ServiceRequest.objects.select_related("person")
    if q is not None:
        qs = qs.filter(q | Q(assignee=user))
    return get_in_scope(qs, user, perm, pk=pk) if q is None else _get(qs, pk)


def _get(qs, pk):
    try:
        return qs.get(pk=pk)
    except (ServiceRequest.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def is_own_task(user, req: ServiceRequest) -> bool:
    return req.assignee_id == user.pk


def hardship_register(user, which: str = "active"):
    qs = scope(HardshipCase.objects.select_related("person", "partner"), user, "services.hardship")
    today = timezone.localdate()
    if which == "overdue":
        return qs.filter(state=HardshipCase.State.ACTIVE, next_due__lt=today)
    if which == "closed":
        return qs.filter(state=HardshipCase.State.CLOSED)
    return qs.filter(state=HardshipCase.State.ACTIVE)


def my_pairings(user):
    return HardshipCase.objects.filter(partner=user, state=HardshipCase.State.ACTIVE).select_related("person")


def my_calls(user):
    return Call.objects.filter(Q(owner=user) | Q(handover_to=user)).exclude(state=Call.State.CLOSED).order_by(
        "follow_up_due", "-received_at")
