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


# --- The hotline's rota: the people-on-duty module's shifts of the post "hotline" -------------

HOTLINE_POST = "hotline"


def officers_on_duty(place_path: str, at=None, *, planned: bool = True):
    """The hotline's people on duty at `at` (default now) under the street at `place_path`:
    checked in on a shift of the post "hotline" at a site there, and (planned=True) those
    assigned to such a shift running then. Read from the duty module (its on_duty)."""
    from django.contrib.auth import get_user_model

    from fangkong.duty.queries import on_duty

    if not place_path:
        return get_user_model().objects.none()
    return on_duty(place_path=place_path, post=HOTLINE_POST, at=at, planned=planned)


def officers_next(place_path: str, at=None):
    """(start, users) of the hotline's next shift under the street (None, none) when none is planned."""
    from django.contrib.auth import get_user_model

    from fangkong.duty.queries import next_on_duty

    if not place_path:
        return None, get_user_model().objects.none()
    return next_on_duty(place_path=place_path, post=HOTLINE_POST, at=at)


def hotline_shifts(user, perm: str, *, start, end):
    """The hotline shifts the user may see for `perm` overlapping [start, end), their sites
    and people."""
    from fangkong.duty.models import Shift

    return scope(Shift.objects.filter(post=HOTLINE_POST, ends_at__gt=start, starts_at__lt=end), user, perm).select_related(
        "site").prefetch_related("assignments__user").order_by("starts_at", "pk")


def hotline_sites(user, perm: str):
    """The duty sites with hotline shifts the user may see for `perm`."""
    from fangkong.duty.models import Shift
    from fangkong.places.models import Organization

    sites = Shift.objects.filter(post=HOTLINE_POST).values("site_id")
    return scope(Organization.objects.filter(kind="site", pk__in=sites), user, perm).order_by("place_path", "name")

