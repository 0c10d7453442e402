"""What command tells the rest of the platform (fangkong.lib.registry): the daily figures,
the to-dos of HQ staff, committees and inspectors, the closed entrances the gates refuse,
and the records that carry attachments (a finding's photos, a notice's annexes)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import declare_auth_tables, has_perm, scope
from fangkong.uploads import register_owner

from . import actions
from .models import AccessPoint, Decision, Finding, Notice, PointChange, Receipt

SECTION = _("Command")


def _end(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def _start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _by_path(qs):
    return qs.values_list("place_path").annotate(n=Count("id")).order_by()


def _decisions_open(day):
    end = _end(day)
    return _by_path(Decision.objects.filter(created_at__lt=end).filter(Q(done_at__isnull=True) | Q(done_at__gte=end)))


def _decisions_overdue(day):
    end = _end(day)
    return _by_path(Decision.objects.filter(created_at__lt=end, deadline__lt=day)
                    .filter(Q(done_at__isnull=True) | Q(done_at__gte=end)))


def _unread(day):
    """Receipts of notices in force not read by the end of the day (by the receiving community)."""
    end = _end(day)
    return _by_path(Receipt.objects.filter(created_at__lt=end, notice__state=Notice.State.PUBLISHED)
                    .filter(Q(read_at__isnull=True) | Q(read_at__gte=end)))


def _undone(day):
    end = _end(day)
    return _by_path(Receipt.objects.filter(created_at__lt=end, notice__state=Notice.State.PUBLISHED)
                    .filter(Q(done_at__isnull=True) | Q(done_at__gte=end)))


def _findings_new(day):
    return _by_path(Finding.objects.filter(found_at__gte=_start(day), found_at__lt=_end(day)))


def _findings_spot(day):
    return _by_path(Finding.objects.filter(found_at__gte=_start(day), found_at__lt=_end(day), fixed_on_spot=True))


def _findings_open(day):
    end = _end(day)
    return _by_path(Finding.objects.filter(found_at__lt=end, fixed_on_spot=False)
                    .filter(Q(fixed_at__isnull=True) | Q(fixed_at__gte=end)))


def _findings_overdue(day):
    end = _end(day)
    return _by_path(Finding.objects.filter(found_at__lt=end, fixed_on_spot=False, deadline__lt=day)
                    .filter(Q(fixed_at__isnull=True) | Q(fixed_at__gte=end)))


def _points(state: str):
    """Entrances in `state` at the end of the day: the last change before the end says it (an
    entrance never changed is open)."""
    def counts(day):
        end = _end(day)
        last: dict[int, tuple[str, str]] = {}
        rows = PointChange.objects.filter(at__lt=end).order_by("point_id", "at", "id").values_list(
            "point_id", "to_state", "point__place_path")
        for pid, to_state, path in rows:
            last[pid] = (to_state, path)
        out: dict[str, int] = {}
        if state == AccessPoint.State.OPEN:
            for pid, path in AccessPoint.objects.exclude(pk__in=[p for p, (s, _p) in last.items() if s != "open"]) \
                    .values_list("pk", "place_path"):
                out[path] = out.get(path, 0) + 1
        else:
            for to_state, path in last.values():
                if to_state == state:
                    out[path] = out.get(path, 0) + 1
        return out.items()

    return counts


for key, label, fn, order, kind in (
    ("command.decisions_open", _("Decisions open"), _decisions_open, 80, "state"),
    ("command.decisions_overdue", _("Decisions overdue"), _decisions_overdue, 81, "state"),
    ("command.notices_unread", _("Notice receipts not yet read"), _unread, 82, "state"),
    ("command.notices_undone", _("Notice receipts not yet carried out"), _undone, 83, "state"),
    ("command.findings", _("Inspection findings"), _findings_new, 84, "day"),
    ("command.findings_spot", _("Findings fixed on the spot"), _findings_spot, 85, "day"),
    ("command.findings_open", _("Findings open"), _findings_open, 86, "state"),
    ("command.findings_overdue", _("Findings overdue"), _findings_overdue, 87, "state"),
    ("command.points_sealed", _("Entrances sealed"), _points(AccessPoint.State.SEALED), 88, "state"),
    ("command.points_emergency", _("Entrances for emergencies only"), _points(AccessPoint.State.EMERGENCY), 89, "state"),
    ("command.points_open", _("Entrances open and guarded"), _points(AccessPoint.State.OPEN), 90, "state"),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind=kind))


# --- To-dos -----------------------------------------------------------------------------

def todos(user):
    out = []
    today = timezone.localdate()
    if has_perm(user, "command.receipt"):
        receipts = scope(Receipt.objects.filter(notice__state=Notice.State.PUBLISHED), user, "command.receipt")
        out += registry.count_todo(receipts.filter(state=Receipt.State.SENT), key="command.receipt_read",
                                   label=_("Notices to confirm as read"), url=reverse("command_receipts"),
                                   rank=registry.RANK_DEADLINE)
        out += registry.count_todo(receipts.filter(state=Receipt.State.READ), key="command.receipt_done",
                                   label=_("Notices to confirm as carried out"), url=reverse("command_receipts"),
                                   rank=registry.RANK_QUEUE)
    if has_perm(user, "command.decision_done"):
        mine = scope(Decision.objects.filter(state=Decision.State.OPEN), user, "command.decision_done").filter(
            Q(owner_user=user) | Q(owner_group__members=user) | Q(owner_group__leader=user)).distinct()
        out += _decision_todo(mine, today)
    if has_perm(user, "command.verify"):
        out += registry.count_todo(scope(Decision.objects.filter(state=Decision.State.DONE), user, "command.verify"),
                                   key="command.decisions_verify", label=_("Decisions to verify"),
                                   url=reverse("command_board"))
    if has_perm(user, "command.publish"):
        out += registry.count_todo(scope(Notice.objects.filter(state=Notice.State.SUBMITTED), user, "command.publish"),
                                   key="command.notices_approve", label=_("Notices awaiting approval"),
                                   url=reverse("command_notices"))
    if has_perm(user, "command.rectify"):
        out += registry.count_todo(scope(Finding.objects.filter(state=Finding.State.OPEN), user, "command.rectify"),
                                   key="command.findings_rectify", label=_("Inspection findings to rectify"),
                                   url=reverse("command_findings"), rank=registry.RANK_DEADLINE)
    if has_perm(user, "command.inspect"):
        out += registry.count_todo(scope(Finding.objects.filter(state=Finding.State.FIXED), user, "command.inspect")
                                   .filter(plan__team__members=user), key="command.findings_verify",
                                   label=_("Findings to verify"), url=reverse("command_inspect"))
    return out


def _decision_todo(qs, today):
    from django.db.models import Min

    agg = qs.order_by().aggregate(n=Count("pk", distinct=True), due=Min("deadline"))
    if not agg["n"]:
        return []
    due = timezone.make_aware(dt.datetime.combine(agg["due"], dt.time(23, 59)))
    return [registry.Todo(key="command.decisions", label=_("Decisions to carry out"), count=agg["n"],
                          url=reverse("command_board"), due=due, rank=registry.RANK_DEADLINE, overdue=agg["due"] < today)]


registry.register_todo(todos)
registry.register_closure_provider(actions.closure)
# Whether an entrance is open is kept by the gates under the auth version (registry.closure):
# a change of an entrance's state changes the version, so the next check-in reads it anew.
declare_auth_tables(lambda: [AccessPoint._meta.db_table], only_columns=("state",))
register_owner(Finding, view_perm="command.inspections", attach_perm="command.inspect",
               editable=lambda f: f.state != Finding.State.VERIFIED)
register_owner(Notice, view_perm="command.notices", attach_perm="command.draft", editable=lambda n: n.editable)
