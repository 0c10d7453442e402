"""Work resumption's writes as named actions (keyword-only, acting_user, one transaction,
an audit event). Views, API, tasks, the demo and tests call only these.

TRANSITIONS is the application's state machine:

    draft ─submit→ submitted ─review→ review ─assign→ onsite ─(check passed)→ approved
      ▲                               │  ▲              └─(check failed)→ returned
      └───────────── (returned: resubmit → review) ──────┘  │
    approved ─resume→ resumed ─suspend→ suspended ─reinstate (after a passed re-inspection)→ resumed
    draft / submitted / review / onsite / returned ─withdraw→ withdrawn

A transition not allowed from the current state is a Conflict (409) naming the state; each
is one conditional UPDATE under a row lock (lib.workflow.apply_transition), so of two
concurrent calls exactly one wins. The on-site check decides the application: of two
checkers finishing one check at once, one wins.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition

from .models import STANDARD_ITEMS, Application, CheckAnswer, Checklist, Enterprise, Event, Priority, Problem, SiteCheck, StaffRecord

S = Application.State
REFUSED = gettext_lazy("Cannot %(action)s: the application is %(state)s")
CHANGED = gettext_lazy("The application was changed by someone else; reload and try again")

TRANSITIONS: dict[str, Transition] = {
    "submit": Transition("resumption.apply", (S.DRAFT,), S.SUBMITTED, gettext_lazy("Submit")),
    "review": Transition("resumption.review", (S.SUBMITTED,), S.REVIEW, gettext_lazy("Start material review")),
    "assign": Transition("resumption.review", (S.REVIEW,), S.ONSITE, gettext_lazy("Assign the on-site check")),
    "return": Transition("resumption.review", (S.SUBMITTED, S.REVIEW), S.RETURNED, gettext_lazy("Return with problems")),
    "resubmit": Transition("resumption.apply", (S.RETURNED,), S.REVIEW, gettext_lazy("Resubmit")),
    "resume": Transition("resumption.apply", (S.APPROVED,), S.RESUMED, gettext_lazy("Confirm the restart")),
    "suspend": Transition("resumption.review", (S.APPROVED, S.RESUMED), S.SUSPENDED, gettext_lazy("Suspend")),
    "reinstate": Transition("resumption.review", (S.SUSPENDED,), S.RESUMED, gettext_lazy("Allow to resume again")),
    "withdraw": Transition("resumption.apply", (S.DRAFT, S.SUBMITTED, S.REVIEW, S.ONSITE, S.RETURNED), S.WITHDRAWN,
                           gettext_lazy("Withdraw")),
}
# Taken by the check's outcome (actions.finish_check), not by a button of their own.
CHECK_TRANSITIONS = {
    "approve": Transition("resumption.check", (S.ONSITE,), S.APPROVED, gettext_lazy("Approve")),
    "fail": Transition("resumption.check", (S.ONSITE,), S.RETURNED, gettext_lazy("Return after the on-site check")),
}
ACTION_LABELS = {"create": gettext_lazy("Application drafted"), "escalate": gettext_lazy("Overdue, escalated"),
                 **{k: t.label for k, t in TRANSITIONS.items()}, **{k: t.label for k, t in CHECK_TRANSITIONS.items()}}
OPEN_STATES = (S.SUBMITTED, S.REVIEW, S.ONSITE)  # a decision is due
LIVE_STATES = [s for s in S.values if s != S.WITHDRAWN]

CUTOFF = dt.time(16, 0)  # submitted before 16:00 → decided by 18:00 the same day
SAME_DAY_DUE = dt.time(18, 0)
NEXT_DAY_DUE = dt.time(12, 0)  # later → by noon the next day
INSPECTION_DAYS = {Priority.ESSENTIAL: 7, Priority.KEY: 7, Priority.ORDINARY: 14}
RECTIFY_DAYS = 3  # a failed supervision item: fixed within
FAILS_TO_SUSPEND = 2  # failed inspections within SUSPEND_WINDOW_DAYS suspend the enterprise
SUSPEND_WINDOW_DAYS = 30
PLACE_KINDS = ("grid", "compound", "building")


def _name(user) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _event(app: Application, action: str, user, at, note: str = "") -> None:
    Event.objects.create(application=app, action=action, state=app.state, actor_name=_name(user), at=at, note=str(note)[:300])


def decision_due(at: dt.datetime) -> dt.datetime:
    """日结日清: submitted before 16:00 local → due 18:00 that day; later → noon the next day."""
    local = timezone.localtime(at)
    if local.time() < CUTOFF:
        return timezone.make_aware(dt.datetime.combine(local.date(), SAME_DAY_DUE))
    return timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=1), NEXT_DAY_DUE))


# --- Checklist ------------------------------------------------------------------------------

def current_checklist() -> Checklist:
    """The newest version; the seed's standard one is version 1 when none exists yet."""
    found = Checklist.objects.order_by("-number").first()
    if found is not None:
        return found
    items = [{"key": k, "label": label, "quantity": q} for k, label, q in STANDARD_ITEMS]
    try:
        with transaction.atomic():
            return Checklist.objects.create(number=1, items=items)
    except IntegrityError:
        return Checklist.objects.get(number=1)


@transaction.atomic
def edit_checklist(*, acting_user, items: list[dict]) -> Checklist:
    """An admin's edit: a new version (checks made before keep theirs)."""
    clean, seen = [], set()
    for i, item in enumerate(items or []):
        key = str(item.get("key", "")).strip()
        label = str(item.get("label", "")).strip()
        if not key or not key.replace("_", "").isalnum() or len(key) > 40:
            raise Invalid({f"items.{i}.key": _("A key of letters, digits and underscores is required")})
        if key in seen:
            raise Invalid({f"items.{i}.key": _("Each key only once")})
        if not label or len(label) > 120:
            raise Invalid({f"items.{i}.label": _("A label of at most 120 characters is required")})
        seen.add(key)
        clean.append({"key": key, "label": label, "quantity": bool(item.get("quantity"))})
    if not clean:
        raise Invalid({"items": _("The checklist needs at least one item")})
    last = Checklist.objects.select_for_update().order_by("-number").first()
    version = Checklist.objects.create(number=(last.number if last else 0) + 1, items=clean, created_by=_user(acting_user))
    record(acting_user, "resumption.checklist", obj=version, detail={"number": version.number, "items": len(clean)})
    return version


# --- Enterprises ----------------------------------------------------------------------------

def register_enterprise(*, acting_user, name: str, code: str, place, sector: str = Enterprise.Sector.FIRM, size: int = 0,
                        priority: str = Priority.ORDINARY, pilot: bool = False, officer_name: str = "", address: str = "",
                        organization=None, audit: bool = True) -> Enterprise:
    """An enterprise placed in a grid or compound; its organization is made now (kind
    enterprise) unless an existing one (an inflow employer unit) is given."""
    from fangkong.places.actions import create_organization
    from fangkong.places.models import Organization

    errors = {}
    name, code = str(name or "").strip(), str(code or "").strip()
    if organization is None and not name:
        errors["name"] = _("Give the enterprise's name")
    if organization is None and not code:
        errors["code"] = _("Give the enterprise's code (e.g. its credit code)")
    elif organization is None and Organization.objects.filter(code=code).exists():
        errors["code"] = _("This code is already registered")
    if place is None or place.kind not in PLACE_KINDS:
        errors["place"] = _("Choose a grid or compound")
    if sector not in Enterprise.Sector.values:
        errors["sector"] = _("Choose a sector")
    if priority not in Priority.values:
        errors["priority"] = _("Choose a priority class")
    if not isinstance(size, int) or not 0 <= size <= 1_000_000:
        errors["size"] = _("The number of employees is a whole number")
    if organization is not None and Enterprise.objects.filter(organization=organization).exists():
        errors["organization"] = _("This organization is already registered as an enterprise")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        if organization is None:
            organization = create_organization(acting_user=acting_user, kind="enterprise", name=name[:120], code=code[:40],
                                               place=place, audit=audit)
        ent = Enterprise.objects.create(organization=organization, place=place, place_path=place.path, sector=sector,
                                        size=size, priority=priority, pilot=bool(pilot), officer_name=str(officer_name)[:50],
                                        address=str(address)[:200])
        if audit:
            record(acting_user, "resumption.register", obj=ent, detail={"priority": priority, "sector": sector})
    return ent


# --- Applications -------------------------------------------------------------------------------

def _serial(at, pk: int) -> str:
    return f"FG{timezone.localdate(at):%Y%m%d}-{pk:06d}"


@transaction.atomic
def create_application(*, acting_user, enterprise: Enterprise, planned_date, headcount: int = 0, measures: str = "",
                       submit: bool = False) -> Application:
    """A draft (submitted at once with `submit`). One live application per enterprise."""
    errors = {}
    today = timezone.localdate()
    if not isinstance(planned_date, dt.date):
        errors["planned_date"] = _("Give the planned restart date")
    elif planned_date < today:
        errors["planned_date"] = _("The planned restart date is in the past")
    if not isinstance(headcount, int) or not 0 <= headcount <= 1_000_000:
        errors["headcount"] = _("The number of staff returning is a whole number")
    if len(str(measures or "")) > 2000:
        errors["measures"] = _("At most 2000 characters")
    if errors:
        raise Invalid(errors)
    if Application.objects.filter(enterprise=enterprise, state__in=LIVE_STATES).exists():
        raise Conflict(_("This enterprise already has an application in progress or in force"))
    now = timezone.now()
    try:
        with transaction.atomic():
            app = Application.objects.create(
                serial=f"tmp-{now.timestamp()}-{enterprise.pk}", enterprise=enterprise, place_path=enterprise.place_path,
                organization_id=enterprise.organization_id, planned_date=planned_date, headcount=headcount,
                measures=str(measures or ""), created_by=_user(acting_user))
    except IntegrityError:
        raise Conflict(_("This enterprise already has an application in progress or in force")) from None
    app.serial = _serial(now, app.pk)
    Application.objects.filter(pk=app.pk).update(serial=app.serial)
    _event(app, "create", acting_user, now)
    record(acting_user, "resumption.create", obj=app, detail={"enterprise": enterprise.pk})
    if submit:
        app = transition(acting_user=acting_user, app=app, action="submit")
    return app


def _problems(texts) -> list[str]:
    out = [str(t).strip() for t in (texts or []) if str(t or "").strip()]
    if not out:
        raise Invalid({"problems": _("Name at least one problem to return the application with")})
    if any(len(t) > 300 for t in out):
        raise Invalid({"problems": _("Each problem at most 300 characters")})
    return out


def _add_problems(acting_user, app_or_check, enterprise, texts, due, *, application=None, check_run=None) -> list[Problem]:
    return [Problem.objects.create(enterprise=enterprise, application=application, check_run=check_run,
                                   place_path=enterprise.place_path, organization_id=enterprise.organization_id, text=t,
                                   due_date=due, created_by=_user(acting_user)) for t in texts]


@transaction.atomic
def transition(*, acting_user, app: Application, action: str, problems=None, checkers=None, check_date=None,
               restart_date=None, reason: str = "", now: dt.datetime | None = None) -> Application:
    """Take transition `action` of TRANSITIONS (the caller checked the permission and the
    scope). return: `problems` (texts, at least one); assign: `checkers` (grid workers of
    the enterprise's grid) and `check_date`; resume: `restart_date` (default today);
    suspend: `reason`; reinstate: only after a passed inspection since the suspension."""
    if action not in TRANSITIONS:
        raise Invalid({"action": _("Unknown action")})
    t = TRANSITIONS[action]
    now = now or timezone.now()
    today = timezone.localdate(now)
    changes: dict = {}
    extra = None
    if action == "return":
        problems = _problems(problems)
    elif action == "assign":
        from fangkong.places.access import holders

        checkers = list(checkers or [])
        errors = {}
        allowed = set(holders("resumption.check", place_path=app.place_path).values_list("pk", flat=True))
        if not checkers:
            errors["checkers"] = _("Choose at least one grid worker")
        elif any(u.pk not in allowed for u in checkers):
            errors["checkers"] = _("Choose grid workers of the enterprise's grid")
        if not isinstance(check_date, dt.date):
            errors["check_date"] = _("Give the date of the on-site check")
        elif check_date < today:
            errors["check_date"] = _("The check date is in the past")
        if errors:
            raise Invalid(errors)
    elif action == "resume":
        restart_date = restart_date or today
        if not isinstance(restart_date, dt.date) or restart_date > today:
            raise Invalid({"restart_date": _("The restart date cannot be in the future")})
        changes["resumed_on"] = restart_date
    elif action == "suspend":
        reason = str(reason or "").strip()
        if not reason:
            raise Invalid({"reason": _("Give the reason")})
        changes.update(suspended_at=now, suspend_reason=reason[:300])
    elif action == "reinstate":
        def extra(current):
            if not SiteCheck.objects.filter(application=current, kind=SiteCheck.Kind.SUPERVISION, state=SiteCheck.State.PASSED,
                                            done_at__gt=current.suspended_at).exists():
                raise Conflict(_("Resumes again only after a passed re-inspection"))
            return {}
    elif action == "resubmit":
        def extra(current):
            if Problem.objects.filter(application=current, state=Problem.State.OPEN).exists():
                raise Conflict(_("Answer every problem before resubmitting"))
            return {"due_at": decision_due(now), "escalated_at": None}
    if action == "submit":
        changes.update(submitted_at=now, due_at=decision_due(now), escalated_at=None, checklist=current_checklist())
    if action == "withdraw":
        changes.update(due_at=None)
    app = apply_transition(Application.objects.all(), app, t, refused=REFUSED, changed=CHANGED, lower=True, check=extra,
                           changes=changes)
    note = ""
    if action == "return":
        _add_problems(acting_user, app, app.enterprise, problems, today + dt.timedelta(days=1), application=app)
        note = "；".join(problems)[:300]
    elif action == "assign":
        check = SiteCheck.objects.create(kind=SiteCheck.Kind.ONSITE, enterprise=app.enterprise, application=app,
                                         place_path=app.place_path, organization_id=app.organization_id,
                                         checklist=app.checklist or current_checklist(), due_date=check_date)
        check.assignees.set(checkers)
        note = f"{check_date:%m-%d} " + "、".join(u.get_username() for u in checkers)
    elif action == "suspend":
        from . import notices

        note = reason
        notices.issue_suspension(acting_user=acting_user, app=app)
    elif action == "reinstate":
        from fangkong.documents import actions as documents
        from fangkong.documents.models import Document

        doc = documents.valid_document(Document.Kind.RESUMPTION_SUSPENSION, app)
        if doc is not None:
            documents.revoke(acting_user=acting_user, document=doc, reason=_("Passed the re-inspection"))
    _event(app, action, acting_user, now, note)
    record(acting_user, f"resumption.{action}", obj=app, detail={"state": app.state})
    _tell(app, action)
    return app


def _tell(app: Application, action: str) -> None:
    """The other party hears of the step (the liaison of a decision, the committee of a submission)."""
    from fangkong.notify.actions import notify

    titles = {
        "submit": (("resumption.review",), "place", _("Resumption application %(serial)s submitted")),
        "resubmit": (("resumption.review",), "place", _("Resumption application %(serial)s resubmitted")),
        "return": (("resumption.apply",), "org", _("Resumption application %(serial)s returned with problems")),
        "approve": (("resumption.apply",), "org", _("Resumption application %(serial)s approved")),
        "fail": (("resumption.apply",), "org", _("Resumption application %(serial)s returned after the on-site check")),
        "suspend": (("resumption.apply",), "org", _("Enterprise suspended (%(serial)s)")),
        "assign": (("resumption.check",), "place", _("On-site check assigned (%(serial)s)")),
    }
    if action not in titles:
        return
    perms, where, title = titles[action]
    from django.urls import reverse

    kwargs = {"place_path": app.place_path, **({"org_id": app.organization_id} if where == "org" else {})}
    transaction.on_commit(lambda: notify(kind=f"resumption.{action}", perms=perms, obj=app, acting_user=None,
                                         link=reverse("resumption_detail", args=[app.pk]),
                                         dedupe_key=f"resumption.{action}:{app.pk}:{app.version}",
                                         title=title % {"serial": app.serial}, body=app.enterprise.name, **kwargs))


# --- On-site checks and supervision ---------------------------------------------------------------

CHECK_PASS = Transition("resumption.check", (SiteCheck.State.ASSIGNED,), SiteCheck.State.PASSED, gettext_lazy("Passed"))
CHECK_FAIL = Transition("resumption.check", (SiteCheck.State.ASSIGNED,), SiteCheck.State.FAILED, gettext_lazy("Failed"))
CHECK_REFUSED = gettext_lazy("This check is already %(state)s")


def _clean_answers(check: SiteCheck, answers: dict) -> list[dict]:
    """{key: {"result", "note", "quantity"}} for every item of the check's version."""
    errors, out = {}, []
    answers = answers or {}
    for item in check.checklist.items:
        key = item["key"]
        raw = answers.get(key) or {}
        result = str(raw.get("result", "") or "")
        note = str(raw.get("note", "") or "").strip()
        quantity = raw.get("quantity")
        if result not in CheckAnswer.Result.values:
            errors[f"item_{key}"] = _("%(item)s: choose pass, fail or not applicable") % {"item": item["label"]}
            continue
        if result == CheckAnswer.Result.FAIL and not note:
            errors[f"item_{key}"] = _("%(item)s: say what is wrong") % {"item": item["label"]}
        if len(note) > 300:
            errors[f"item_{key}"] = _("%(item)s: at most 300 characters") % {"item": item["label"]}
        qty = None
        if quantity not in (None, ""):
            text = str(quantity).strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 9:
                errors[f"item_{key}"] = _("%(item)s: the quantity is a whole number") % {"item": item["label"]}
            else:
                qty = int(text)
        elif item.get("quantity") and result == CheckAnswer.Result.PASS:
            errors[f"item_{key}"] = _("%(item)s: give the quantity on hand") % {"item": item["label"]}
        out.append({"key": key, "label": item["label"], "result": result, "note": note, "quantity": qty})
    unknown = set(answers) - {i["key"] for i in check.checklist.items}
    if unknown:
        errors["answers"] = _("Unknown items: %(keys)s") % {"keys": ", ".join(sorted(unknown))}
    if errors:
        raise Invalid(errors)
    return out


MAX_PHOTOS_PER_ITEM = 5


def _finished_by(check: SiteCheck, client_id: str | None, user) -> SiteCheck | None:
    """The check when these very answers (same client id, same checker) already finished it, else None."""
    if not client_id or _user(user) is None:
        return None
    return SiteCheck.objects.filter(pk=check.pk, client_id=client_id, done_by=user).exclude(
        state=SiteCheck.State.ASSIGNED).first()


def finish_check(*, acting_user, check: SiteCheck, answers: dict, photos: dict | None = None, note: str = "",
                 now: dt.datetime | None = None, client_id: str = "", offline: bool = False) -> SiteCheck:
    """The checker's answers to every item (pass / fail / not applicable, a note for a
    failure, quantities), photos per item ({key: [files]}: type and size checked, stored
    privately). Only an assigned checker; of two finishing at once, one wins. An on-site
    check decides its application: all passed → approved (decided now); a failure →
    returned with one problem per failed item. A supervision failure opens problems with a
    rectification deadline; the second failure within 30 days suspends the enterprise.

    `client_id` is the phone's id of these answers (the offline page queues them under it):
    the same answers sent again (a resend after a lost answer, a second sync) find the
    check finished with that id and store nothing twice; other answers to a finished
    check are a Conflict as before. `offline`: answered without network, sent later."""
    from fangkong.uploads import actions as uploads

    now = now or timezone.now()
    today = timezone.localdate(now)
    client_id = str(client_id or "").strip()[:64] or None
    done = _finished_by(check, client_id, acting_user)
    if done is not None:
        return done
    clean = _clean_answers(check, answers)
    for key, files in (photos or {}).items():
        if len(files) > MAX_PHOTOS_PER_ITEM:
            raise Invalid({f"photo_{key}": _("At most %(n)d photos per item") % {"n": MAX_PHOTOS_PER_ITEM}})
    if client_id and SiteCheck.objects.filter(client_id=client_id).exclude(pk=check.pk).exists():
        raise Invalid({"client_id": _("This entry id is already used")})
    try:
        return _finish(acting_user, check, clean, photos, note, now, today, client_id, offline, uploads)
    except (Conflict, IntegrityError):
        # Two sends of the same answers at once: the first stored them, the second is that one.
        done = _finished_by(check, client_id, acting_user)
        if done is not None:
            return done
        raise


def _finish(acting_user, check, clean, photos, note, now, today, client_id, offline, uploads):
    with transaction.atomic():
        if not check.assignees.filter(pk=getattr(acting_user, "pk", None)).exists():
            raise Conflict(_("This check is assigned to other grid workers"))
        failed = [a for a in clean if a["result"] == CheckAnswer.Result.FAIL]
        check = apply_transition(SiteCheck.objects.all(), check, CHECK_FAIL if failed else CHECK_PASS, refused=CHECK_REFUSED,
                                 changes={"done_at": now, "done_by": _user(acting_user), "note": str(note or "")[:300],
                                          "client_id": client_id, "finished_offline": bool(offline)})
        stored = {}
        for a in clean:
            stored[a["key"]] = CheckAnswer.objects.create(check_run=check, place_path=check.place_path,
                                                          organization_id=check.organization_id, **a)
        for key, files in (photos or {}).items():
            if key not in stored:
                raise Invalid({f"photo_{key}": _("Unknown item")})
            for f in files:
                try:
                    uploads.attach(acting_user=acting_user, owner=stored[key], file=f)
                except Invalid as exc:
                    raise Invalid({f"photo_{key}": exc.errors.get("file", next(iter(exc.errors.values()))) }) from None
        ent = check.enterprise
        Enterprise.objects.filter(pk=ent.pk).update(last_inspected=today)
        texts = [f"{a['label']}：{a['note']}" for a in failed]
        record(acting_user, "resumption.check", obj=check, detail={"kind": check.kind, "state": check.state,
                                                                  "failed": [a["key"] for a in failed],
                                                                  "offline": bool(offline)})
        if check.kind == SiteCheck.Kind.ONSITE and check.application_id:
            app = check.application
            name = "fail" if failed else "approve"
            changes = {"decided_at": now, "due_at": None} if not failed else {"due_at": None}
            app = apply_transition(Application.objects.all(), app, CHECK_TRANSITIONS[name], refused=REFUSED, changed=CHANGED,
                                   lower=True, changes=changes)
            if failed:
                _add_problems(acting_user, app, ent, texts, today + dt.timedelta(days=1), application=app, check_run=check)
            _event(app, name, acting_user, now, "；".join(texts)[:300])
            record(acting_user, f"resumption.{name}", obj=app, detail={"check": check.pk})
            if not failed:
                from . import notices

                notices.issue_approval(acting_user=acting_user, app=app)
            _tell(app, name)
        elif failed:
            _add_problems(acting_user, check, ent, texts, today + dt.timedelta(days=RECTIFY_DAYS), application=check.application,
                          check_run=check)
            since = now - dt.timedelta(days=SUSPEND_WINDOW_DAYS)
            fails = SiteCheck.objects.filter(enterprise=ent, kind=SiteCheck.Kind.SUPERVISION, state=SiteCheck.State.FAILED,
                                             done_at__gte=since).count()
            app = check.application
            if fails >= FAILS_TO_SUSPEND and app is not None and app.state in (S.APPROVED, S.RESUMED):
                transition(acting_user=acting_user, app=app, action="suspend", now=now,
                           reason=_("%(n)d failed inspections within %(days)d days") % {"n": fails, "days": SUSPEND_WINDOW_DAYS})
    return check


@transaction.atomic
def start_inspection(*, acting_user, enterprise: Enterprise, due_date: dt.date | None = None, assignees=None) -> SiteCheck:
    """A supervision inspection of a resumed (or suspended: the re-inspection) enterprise,
    assigned to `assignees` (default: the acting grid worker)."""
    app = Application.objects.filter(enterprise=enterprise, state__in=[S.APPROVED, S.RESUMED, S.SUSPENDED]).first()
    if app is None:
        raise Conflict(_("Only enterprises that have resumed work are inspected"))
    if SiteCheck.objects.filter(enterprise=enterprise, kind=SiteCheck.Kind.SUPERVISION, state=SiteCheck.State.ASSIGNED).exists():
        raise Conflict(_("An inspection of this enterprise is already waiting"))
    check = SiteCheck.objects.create(kind=SiteCheck.Kind.SUPERVISION, enterprise=enterprise, application=app,
                                     place_path=enterprise.place_path, organization_id=enterprise.organization_id,
                                     checklist=current_checklist(), due_date=due_date or timezone.localdate())
    check.assignees.set(list(assignees) if assignees else [acting_user])
    record(acting_user, "resumption.inspect", obj=check, detail={"enterprise": enterprise.pk})
    return check


def inspection_interval(enterprise: Enterprise) -> int:
    return INSPECTION_DAYS.get(enterprise.priority, 14)


def schedule_inspections(today: dt.date | None = None) -> int:
    """The periodic task: each resumed enterprise whose inspection is due (7 days for
    essential supply and key, 14 for ordinary, from the restart or the last inspection)
    gets one, assigned to the grid workers of its grid."""
    from fangkong.places.access import holders

    today = today or timezone.localdate()
    made = 0
    for app in Application.objects.filter(state=S.RESUMED).select_related("enterprise"):
        ent = app.enterprise
        last = ent.last_inspected or app.resumed_on or today
        if last + dt.timedelta(days=inspection_interval(ent)) > today:
            continue
        workers = list(holders("resumption.check", place_path=ent.place_path))
        if not workers:
            continue
        try:
            start_inspection(acting_user=None, enterprise=ent, due_date=today, assignees=workers)
            made += 1
        except Conflict:
            continue
    return made


def auto_resume(today: dt.date | None = None) -> int:
    """Approved applications whose planned date has come resume by themselves."""
    today = today or timezone.localdate()
    n = 0
    for app in Application.objects.filter(state=S.APPROVED, planned_date__lte=today):
        try:
            transition(acting_user=None, app=app, action="resume", restart_date=app.planned_date)
            n += 1
        except (Conflict, Invalid):
            continue
    return n


def escalate_overdue(now: dt.datetime | None = None) -> int:
    """Decisions past their deadline: the committee, the coordinator and the commander hear once."""
    now = now or timezone.now()
    n = 0
    for app in Application.objects.filter(state__in=OPEN_STATES, due_at__lt=now, escalated_at__isnull=True):
        with transaction.atomic():
            if not Application.objects.filter(pk=app.pk, escalated_at__isnull=True).update(escalated_at=now):
                continue
            _event(app, "escalate", None, now)
            record(None, "resumption.escalate", obj=app, detail={"due_at": app.due_at.isoformat()})
            text = _("Resumption application %(serial)s (%(name)s) is overdue for a decision") % {
                "serial": app.serial, "name": app.enterprise.name}
            transaction.on_commit(lambda app=app, text=text: registry.raise_alert(registry.Alert(
                kind="resumption.overdue", place_path=app.place_path, text=text,
                perms=("resumption.review", "resumption.escalated"), obj_type="resumption.application", obj_id=app.pk)))
        n += 1
    return n


# --- Problems --------------------------------------------------------------------------------

@transaction.atomic
def answer_problem(*, acting_user, problem: Problem, answer: str) -> Problem:
    answer = str(answer or "").strip()
    if not answer:
        raise Invalid({"answer": _("Give the answer or the measure taken")})
    if len(answer) > 500:
        raise Invalid({"answer": _("At most 500 characters")})
    now = timezone.now()
    if not Problem.objects.filter(pk=problem.pk, state__in=[Problem.State.OPEN, Problem.State.ANSWERED]).update(
            state=Problem.State.ANSWERED, answer=answer, answered_at=now, answered_by=_user(acting_user)):
        raise Conflict(_("This problem is closed"))
    problem.refresh_from_db()
    record(acting_user, "resumption.answer", obj=problem)
    return problem


@transaction.atomic
def close_problem(*, acting_user, problem: Problem) -> Problem:
    """A problem closes only with an answer."""
    current = Problem.objects.select_for_update().get(pk=problem.pk)
    if current.state == Problem.State.CLOSED:
        raise Conflict(_("This problem is closed"))
    if not current.answer:
        raise Conflict(_("A problem closes only with an answer"))
    Problem.objects.filter(pk=current.pk).update(state=Problem.State.CLOSED, closed_at=timezone.now())
    current.refresh_from_db()
    record(acting_user, "resumption.close_problem", obj=current)
    return current


# --- Findings of the street's inspections (command) --------------------------------------------

def on_unit_finding(finding: registry.UnitFinding) -> Problem | None:
    """lib.registry finding sink: an inspection's finding at an enterprise that has an
    application opens a problem of its problems log (the enterprise owns it, due by the
    finding's deadline; a finding fixed on the spot opens none); the finding reported
    rectified answers it, verified closes it, reopened opens it again with the new deadline.
    Runs in the inspecting module's transaction; once per finding (Problem.source)."""
    if finding.event == "found":
        if finding.due is None:
            return None
        ent = Enterprise.objects.filter(organization_id=finding.org_id).first()
        app = Application.objects.filter(enterprise=ent, state__in=LIVE_STATES).first() if ent else None
        if app is None:
            return None
        existing = Problem.objects.filter(source=finding.source).first()
        if existing is not None:
            return existing
        text = _("Inspection finding: %(category)s — %(text)s") % {"category": finding.category, "text": finding.text}
        problem = Problem.objects.create(enterprise=ent, application=app, place_path=ent.place_path,
                                         organization_id=ent.organization_id, text=text[:300], due_date=finding.due,
                                         source=finding.source, created_by=_user(finding.acting_user))
        record(finding.acting_user, "resumption.finding_problem", obj=problem,
               detail={"source": finding.source, "application": app.pk})
        return problem
    problem = Problem.objects.select_for_update().filter(source=finding.source).first()
    if problem is None:
        return None
    if finding.event == "rectified" and problem.state != Problem.State.CLOSED:
        changes = {"state": Problem.State.ANSWERED, "answer": str(finding.note)[:500], "answered_at": timezone.now(),
                   "answered_by": _user(finding.acting_user)}
    elif finding.event == "verified" and problem.state == Problem.State.ANSWERED:
        changes = {"state": Problem.State.CLOSED, "closed_at": timezone.now()}
    elif finding.event == "reopened":
        changes = {"state": Problem.State.OPEN, "closed_at": None, "due_date": finding.due or problem.due_date}
    else:
        return problem
    Problem.objects.filter(pk=problem.pk).update(**changes)
    problem.refresh_from_db()
    record(finding.acting_user, "resumption.finding_problem", obj=problem,
           detail={"source": finding.source, "event": finding.event, "state": problem.state})
    return problem


# --- Employee health records -------------------------------------------------------------------

def _measure_for(origin, return_date: dt.date, today: dt.date):
    """(kind, days left from the return date) by the inflow policy table, or None."""
    from fangkong.inflow.models import Measure, MeasurePolicy

    if origin is None or return_date is None:
        return None
    policy = MeasurePolicy.objects.filter(risk=origin.risk).first()
    if policy is None or policy.measure not in (Measure.HOME, Measure.CENTRAL):
        return None
    if (today - return_date).days >= policy.days:
        return None
    return policy.measure, policy.days


def add_staff(*, acting_user, enterprise: Enterprise, name: str, id_number: str, phone: str = "", origin=None,
              return_date: dt.date | None = None, address: str = "", today: dt.date | None = None) -> StaffRecord:
    """One employee health record. The person is looked up by ID number (blind index) and
    registered at the enterprise's place when new; a person registered elsewhere is linked
    without anything about them being shown. Returned from a place whose risk the inflow
    policy puts under observation, within its days: the observation module starts the
    measure (from the return date) — unless the person already has one running (e.g. from
    the inflow loop's arrival step), which the record then shows."""
    from fangkong.lib import crypto
    from fangkong.lib.identity import mask_id
    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation
    from fangkong.residents import actions as residents
    from fangkong.residents.models import Household, Person
    from fangkong.residents.validation import validate_person
    from fangkong.places.access import scope

    today = today or timezone.localdate()
    clean, errors = validate_person({"name": name, "id_number": id_number, "phone": phone})
    errors = dict(errors or {})
    if return_date is not None and return_date > today:
        errors["return_date"] = _("The return date is in the future")
    if origin is None and return_date is not None:
        errors["origin"] = _("Choose where the worker returned from")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        person = Person.objects.filter(id_bidx__in=crypto.blind_indexes("id", clean["id_number"])).first()
        if person is None:
            address = str(address or "").strip() or enterprise.address or enterprise.name
            household = Household.objects.filter(place=enterprise.place, address=address[:200]).first()
            if household is None:
                household = residents.create_household(acting_user=acting_user, place=enterprise.place, address=address[:200])
            person = residents.create_person(acting_user=acting_user, clean=clean, household=household,
                                             employer=enterprise.organization)
        ours = acting_user is None or scope(Person.objects.filter(pk=person.pk), acting_user, "resumption.staff").exists()
        if ours and person.name != clean["name"]:
            raise Invalid({"id_number": _("This ID number does not match the name; check both")})
        if StaffRecord.objects.filter(enterprise=enterprise, person=person).exists():
            raise Conflict(_("This worker is already on the staff list"))
        rec = StaffRecord.objects.create(enterprise=enterprise, place_path=enterprise.place_path,
                                         organization_id=enterprise.organization_id, person=person, name=clean["name"],
                                         id_masked=mask_id(clean["id_number"]), origin=origin, return_date=return_date)
        running = Observation.objects.filter(person=person, state__in=[Observation.State.ACTIVE, Observation.State.HOSPITAL]).first()
        measure = _measure_for(origin, return_date, today)
        if not ours:
            # Registered in another community: nothing about them is shown here, and the
            # measure is not started from a typed number; that community's committee is
            # asked to start it (the residents' own holders decide).
            if measure is not None and running is None:
                _ask_to_start(acting_user, rec, person, origin, measure)
        elif running is not None:
            rec.observation = running
        elif measure is not None:
            kind, days = measure
            rec.observation = observation.start(acting_user=acting_user, person=person, kind=kind, days=days,
                                                start_date=return_date,
                                                reason=_("Returned from %(origin)s (work resumption)") % {"origin": origin.name})
        if rec.observation is not None and rec.observation.state == Observation.State.ACTIVE:
            rec.health = StaffRecord.Health.ISOLATED
        rec.save(update_fields=["observation", "health"])
        record(acting_user, "resumption.staff", obj=rec, detail={"enterprise": enterprise.pk,
                                                                 "measure": rec.observation.kind if rec.observation else ""})
    return rec


def _ask_to_start(acting_user, rec: StaffRecord, person, origin, measure) -> None:
    from fangkong.notify.actions import notify
    from fangkong.observation.models import Observation

    kind, days = measure
    label = dict(Observation.Kind.choices).get(kind, kind)
    transaction.on_commit(lambda: notify(
        kind="resumption.measure_needed", perms=("observation.start",), place_path=person.place_path, obj=rec,
        acting_user=None, dedupe_key=f"resumption.measure_needed:{rec.pk}",
        title=_("A returning worker registered here needs %(measure)s") % {"measure": label},
        body=_("%(name)s %(id)s returned from %(origin)s on %(date)s (%(enterprise)s); start the measure (%(days)d days).") % {
            "name": person.name[:1] + "**", "id": person.id_masked, "origin": origin.name, "date": rec.return_date,
            "enterprise": rec.enterprise.name, "days": days}))


def report_temperature(*, acting_user, staff: StaffRecord, temperature, symptoms=(), at=None, client_key: str = ""):
    """The liaison's twice-daily report of an isolated worker: the observation module's
    report (its windows, fever and missed-report alerts)."""
    from fangkong.observation import actions as observation

    if staff.observation is None:
        raise Conflict(_("This worker is not under observation"))
    return observation.report(acting_user=acting_user, observation=staff.observation, temperature=temperature,
                              symptoms=symptoms, source="staff", at=at, client_key=client_key)


@transaction.atomic
def set_health(*, acting_user, staff: StaffRecord, health: str, note: str = "") -> StaffRecord:
    """A medic sets a worker's health state; a confirmed case suspends the enterprise."""
    if health not in StaffRecord.Health.values:
        raise Invalid({"health": _("Choose a health state")})
    StaffRecord.objects.filter(pk=staff.pk).update(health=health)
    staff.refresh_from_db()
    record(acting_user, "resumption.health", obj=staff, detail={"health": health})
    if health == StaffRecord.Health.CONFIRMED:
        app = Application.objects.filter(enterprise=staff.enterprise, state__in=[S.APPROVED, S.RESUMED]).first()
        if app is not None:
            transition(acting_user=acting_user, app=app, action="suspend", reason=_("A confirmed case among the staff"))
    return staff
