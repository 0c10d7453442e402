"""What resident services, hardship assistance and the hotline tell the rest of the platform
(fangkong.lib.registry): daily figures, to-dos, and the actions on a person's page."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, may, scope
from fangkong.uploads import register_owner

from .models import Call, Handover, HardshipCase, Revisit, ServiceRequest

SECTION = _("Resident services")
S = ServiceRequest.State

# Receipts of purchases: the task's volunteer adds them through services' own route (its task
# only, actions.attach_receipt); the committee sees them on the request's page (and may add or
# remove one there while the request is open).
register_owner(ServiceRequest, view_perm="services.view", attach_perm="services.manage",
               editable=lambda r: r.state in ("accepted", "bought", "delivered"))


def _bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _by_path(qs, path_field: str = "place_path"):
    return list(qs.values_list(path_field).annotate(n=Count("pk")).order_by())


def _requests_new(day):
    start, end = _bounds(day)
    return _by_path(ServiceRequest.objects.filter(created_at__gte=start, created_at__lt=end))


def _requests_delivered(day):
    start, end = _bounds(day)
    return _by_path(ServiceRequest.objects.filter(delivered_at__gte=start, delivered_at__lt=end))


def _requests_overdue(day):
    """Open at the end of the day and past their deadline (a stock)."""
    _start, end = _bounds(day)
    open_then = Q(created_at__lt=end, due_at__lt=end) & (
        Q(delivered_at__isnull=True) | Q(delivered_at__gte=end)) & ~Q(state=S.CANCELLED)
    return _by_path(ServiceRequest.objects.filter(open_then))


def _handovers(day):
    start, end = _bounds(day)
    return _by_path(Handover.objects.filter(at__gte=start, at__lt=end), "round__place_path")


def _revisits(day):
    return _by_path(Revisit.objects.filter(day=day), "case__place_path")


def _hardship_overdue(day):
    return _by_path(HardshipCase.objects.filter(state=HardshipCase.State.ACTIVE, next_due__lt=day,
                                                created_at__lt=_bounds(day)[1]))


def _calls(day):
    start, end = _bounds(day)
    return _by_path(Call.objects.filter(received_at__gte=start, received_at__lt=end))


def _calls_topic(topic):
    def counts(day):
        start, end = _bounds(day)
        return _by_path(Call.objects.filter(topic=topic, received_at__gte=start, received_at__lt=end))
    return counts


def _calls_closed(day):
    start, end = _bounds(day)
    return _by_path(Call.objects.filter(closed_at__gte=start, closed_at__lt=end))


def _calls_closed_same_day(day):
    """Calls closed within 24 hours of their record (the time-to-close figure, additive)."""
    from django.db.models import DurationField, ExpressionWrapper, F

    start, end = _bounds(day)
    took = ExpressionWrapper(F("closed_at") - F("received_at"), output_field=DurationField())
    return _by_path(Call.objects.filter(closed_at__gte=start, closed_at__lt=end).annotate(took=took).filter(
        took__lte=dt.timedelta(hours=24)))


def _calls_open(day):
    _start, end = _bounds(day)
    return _by_path(Call.objects.filter(received_at__lt=end).filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end)))


for key, label, fn, order, kind in (
    ("services.requests", _("Service requests"), _requests_new, 80, "day"),
    ("services.delivered", _("Services delivered"), _requests_delivered, 81, "day"),
    ("services.overdue", _("Service requests overdue"), _requests_overdue, 82, "state"),
    ("services.handovers", _("Hand-overs at distribution points"), _handovers, 83, "day"),
    ("services.revisits", _("Hardship revisits"), _revisits, 84, "day"),
    ("services.hardship_overdue", _("Hardship revisits overdue"), _hardship_overdue, 85, "state"),
    ("services.calls", _("Hotline calls"), _calls, 86, "day"),
    ("services.calls_fever_clinic", _("Hotline calls: fever clinic"), _calls_topic("fever_clinic"), 87, "day"),
    ("services.calls_medicine", _("Hotline calls: medicine"), _calls_topic("medicine"), 88, "day"),
    ("services.calls_supplies", _("Hotline calls: supplies"), _calls_topic("supplies"), 89, "day"),
    ("services.calls_policy", _("Hotline calls: policy"), _calls_topic("policy"), 90, "day"),
    ("services.calls_closed", _("Hotline calls closed"), _calls_closed, 91, "day"),
    ("services.calls_closed_24h", _("Hotline calls closed within 24 hours"), _calls_closed_same_day, 92, "day"),
    ("services.calls_open", _("Hotline calls open"), _calls_open, 93, "state"),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind=kind))


def todos(user):
    from django.urls import reverse

    now = timezone.now()
    if has_perm(user, "services.deliver"):
        yield from registry.count_todo(ServiceRequest.objects.filter(assignee=user, state__in=[S.ACCEPTED, S.BOUGHT]),
                                       key="services.tasks", label=_("Deliveries to make"), url=reverse("services_tasks"),
                                       rank=registry.RANK_DEADLINE, due_field="due_at")
    if has_perm(user, "services.manage"):
        yield from registry.count_todo(
            scope(ServiceRequest.objects.filter(state=S.REQUESTED, due_at__lt=now), user, "services.manage"),
            key="services.overdue", label=_("Service requests nobody took in time"),
            url=reverse("services_board") + "?state=overdue", rank=registry.RANK_DEADLINE, due_field="due_at")
    if has_perm(user, "services.hotline"):
        yield from registry.count_todo(Call.objects.filter(owner=user, state=Call.State.OPEN), key="services.calls",
                                       label=_("My open hotline calls"), url=reverse("services_console"),
                                       due_field="follow_up_due")
        yield from registry.count_todo(Call.objects.filter(handover_to=user, state=Call.State.HANDOVER),
                                       key="services.handover", label=_("Hotline calls offered to me"),
                                       url=reverse("services_console"), rank=registry.RANK_DEADLINE)
    today = timezone.localdate()
    yield from registry.count_todo(HardshipCase.objects.filter(partner=user, state=HardshipCase.State.ACTIVE,
                                                               next_due__lte=today),
                                   key="services.pairing", label=_("Revisits due for my pairing cases"),
                                   url=reverse("services_pairing"))
    if has_perm(user, "services.hardship"):
        yield from registry.count_todo(
            scope(HardshipCase.objects.filter(state=HardshipCase.State.ACTIVE, next_due__lt=today), user, "services.hardship"),
            key="services.hardship", label=_("Hardship revisits overdue"), url=reverse("services_hardship") + "?state=overdue")


registry.register_todo(todos)


@registry.register_person_section
def person_services(user, person):
    from django.urls import reverse

    acts = []
    if may(user, "services.request", person):
        acts.append(registry.PersonAction(label=_("New service request"), url=reverse("services_new", args=[person.pk]),
                                          key="new-service-request"))
    if may(user, "services.hardship", person):
        acts.append(registry.PersonAction(label=_("Register a hardship case"),
                                          url=reverse("services_hardship_new", args=[person.pk]), key="new-hardship-case"))
    items = ()
    if has_perm(user, "services.view"):
        reqs = scope(ServiceRequest.objects.filter(person=person), user, "services.view").order_by("-created_at")[:5]
        items = tuple(registry.PersonItem(text=f"{r.get_kind_display()} · {r.get_state_display()} · {r.created_at:%Y-%m-%d}",
                                          url=reverse("services_detail", args=[r.pk])) for r in reqs)
    if not acts and not items:
        return None
    return registry.PersonSection(key="services", title=_("Resident services"), items=items, actions=tuple(acts), order=60)

