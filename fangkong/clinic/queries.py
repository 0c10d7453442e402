"""Reads of the clinic triage, always through the access module: the visits of a day, the
figures per post and day, and the rows of the CDC's daily report."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.places.access import scope

from .models import Post, Visit


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def posts(user, perm: str = "clinic.view"):
    return scope(Post.objects.select_related("clinic"), user, perm)


def visits(user, perm: str = "clinic.view"):
    return scope(Visit.objects.select_related("post", "clinic", "place"), user, perm)


def of_day(qs, day: dt.date):
    start, end = day_bounds(day)
    return qs.filter(occurred_at__gte=start, occurred_at__lt=end)


def queue(user):
    """What the medics must act on: fevers from the gates waiting to be routed, then the
    routed fever patients whose outcome is pending."""
    qs = visits(user, "clinic.triage")
    return qs.filter(state=Visit.State.WAITING).order_by("occurred_at"), qs.filter(
        state__in=[Visit.State.TRACKING, Visit.State.TESTED]).order_by("occurred_at")


def post_figures(user, day: dt.date) -> list[dict]:
    """Visitors per post on `day`: screened, fevers, high risk, per route."""
    rows = of_day(scope(Visit.objects.filter(origin=Visit.Origin.POST), user, "clinic.view"), day).values(
        "post_id").annotate(n=Count("id"), fevers=Count("id", filter=Q(fever=True)),
                            risky=Count("id", filter=Q(high_risk=True)),
                            tracked=Count("id", filter=Q(route__in=["fever_clinic", "isolation_ward"]))).order_by()
    by_post = {r["post_id"]: r for r in rows}
    out = []
    for post in posts(user):
        r = by_post.get(post.pk, {})
        out.append({"post": post, "n": r.get("n", 0), "fevers": r.get("fevers", 0), "risky": r.get("risky", 0),
                    "tracked": r.get("tracked", 0)})
    return out


def report_visits(qs, day: dt.date):
    """The CDC's daily report: fever patients and high-risk visitors of the day."""
    return of_day(qs, day).filter(Q(fever=True) | Q(high_risk=True)).order_by("occurred_at", "id")


REPORT_COLUMNS = ["序号", "姓名", "性别", "年龄", "身份证号", "联系电话", "现住址", "就诊时间", "体温", "症状",
                  "流行病学史", "分诊去向", "处置结果"]


def _outcome(v: Visit) -> str:
    if v.state in (Visit.State.ADMITTED, Visit.State.RELEASED):
        text = str(v.get_state_display())
        return f"{text}（{_('test')}: {v.test_result}）" if v.test_result else text
    if v.state == Visit.State.TESTED:
        return f"{v.get_state_display()}（{v.test_result}）"
    if v.state == Visit.State.DONE and v.observation_id:
        return _("Home observation started")
    return str(v.get_state_display())


def report_rows(qs, *, unmasked: bool):
    """The rows of the report (the header first); ID numbers and phones masked unless
    `unmasked` (the caller checked the right and audits the export)."""
    yield list(REPORT_COLUMNS)
    sexes = {"M": "男", "F": "女"}
    for i, v in enumerate(qs.iterator(chunk_size=1000), start=1):
        history = "；".join(v.history_labels() + ([v.history_note] if v.history_note else []))
        yield [
            i, v.name or v.masked, sexes.get(v.sex, ""), v.age if v.age is not None else "",
            (v.id_number() if unmasked else v.id_masked), (v.phone() if unmasked else v.phone_masked),
            v.address, timezone.localtime(v.occurred_at).strftime("%Y-%m-%d %H:%M"),
            str(v.temperature) if v.temperature is not None else "", "、".join(v.symptom_labels()), history,
            str(v.get_route_display()), _outcome(v),
        ]
