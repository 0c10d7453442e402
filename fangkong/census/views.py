"""Census pages: campaigns (list, create, progress with coverage per community and grid),
the households not yet reached, the grid worker's phone visit form, and follow-ups."""
from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.places.access import get_in_scope, has_perm, possible_transitions, requires
from fangkong.web.lists import chosen, page_of

from . import actions, queries
from .forms import CampaignForm
from .models import Campaign, FollowUp, Question, Visit


@requires("census.view")
@require_GET
def campaign_list(request):
    qs = queries.campaigns(request.user).select_related("place").order_by("-start_date", "-id")
    page = page_of(request, qs)
    return render(request, "census/list.html", {
        "page": page, "can_manage": has_perm(request.user, "census.manage"),
        "can_visit": has_perm(request.user, "census.visit"),
        "open_followups": queries.followups(request.user).count(),
    })


@requires("census.manage")
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    form = CampaignForm(request.POST if request.method == "POST" else None, user=request.user)
    campaign, status = submitted(request, form, lambda d: actions.create_campaign(
        acting_user=request.user, name=d["name"], place=d["place"], start_date=d["start_date"], end_date=d["end_date"],
        questionnaire=d["questionnaire"]))
    if campaign:
        messages.success(request, _("Census created. Start it when the grid workers are ready."))
        return redirect("census_detail", pk=campaign.pk)
    return render(request, "census/create.html", {"form": form}, status=status)


def _detail(request, campaign, status=200):
    user = request.user
    return render(request, "census/detail.html", {
        "campaign": campaign, "progress": queries.progress(user, campaign),
        "possible": possible_transitions(actions.TRANSITIONS, campaign, user),
        "can_visit": has_perm(user, "census.visit") and campaign.state == Campaign.State.RUNNING,
        "questions": campaign.questionnaire.questions.all(),
    }, status=status)


@requires("census.view", obj=Campaign)
@require_GET
def campaign_detail(request, pk: int):
    return _detail(request, queries.get_campaign(request.user, "census.view", pk))


def _taken(request, campaign, action: str, t):
    messages.success(request, _("%(name)s: %(state)s") % {"name": campaign.name, "state": campaign.get_state_display()})
    return redirect("census_detail", pk=campaign.pk)


# Only those whose grant contains the whole area start or close it.
transition_views = transition_pages(
    actions.TRANSITIONS, Campaign.objects.select_related("place", "questionnaire"), "census", done=_taken,
    take=lambda request, campaign, action: actions.transition(acting_user=request.user, campaign=campaign, action=action),
    refused=lambda request, campaign, refused: _detail(request, campaign, refused.status))


@requires("census.view", obj=Campaign)
@require_GET
def pending(request, pk: int):
    campaign = queries.get_campaign(request.user, "census.view", pk)
    page = page_of(request, queries.pending(request.user, "census.view", campaign), 100)
    return render(request, "census/pending.html", {"campaign": campaign, "page": page,
                                                    "can_visit": has_perm(request.user, "census.visit")})


# --- The grid worker's visit form (phone) -----------------------------------------------

def _members_from_post(post, questions, present_ids) -> dict:
    out = {}
    for pid in present_ids:
        row = {}
        for q in questions:
            name = f"q_{pid}_{q.key}"
            row[q.key] = post.getlist(name) if q.kind == Question.Kind.MULTIPLE else post.get(name, "")
        out[pid] = row
    return out


def _visit_page(request, campaign, household=None, status=200, errors=None, post=None):
    questions = list(campaign.questionnaire.questions.all())
    ctx = {"campaign": campaign, "household": household, "questions": questions, "errors": errors or {},
           "outcomes": Visit.Outcome.choices, "post": post}
    if household is None:
        ctx["households"] = queries.pending(request.user, "census.visit", campaign)[:200]
    else:
        members = list(household.members.order_by("name", "id"))
        present = set(post.getlist("present")) if post is not None else {str(m.pk) for m in members}
        ctx["members"] = [{
            "person": m, "present": str(m.pk) in present,
            "error": (errors or {}).get(f"members.{m.pk}"),
            "fields": [{"q": q, "name": f"q_{m.pk}_{q.key}",
                        "value": (post.getlist(f"q_{m.pk}_{q.key}") if post is not None else []),
                        "error": (errors or {}).get(f"members.{m.pk}.{q.key}")} for q in questions],
        } for m in members]
        ctx["previous"] = Visit.objects.filter(campaign=campaign, household=household).order_by("-visited_at")[:5]
        ctx["client_key"] = (post.get("client_key") if post is not None else "") or uuid.uuid4().hex
    return render(request, "census/visit.html", ctx, status=status)


def _household(request, campaign, raw):
    from fangkong.residents.models import Household

    return get_in_scope(Household.objects.filter(place_path__under=campaign.place_path), request.user, "census.visit",
                        pk=raw)


@requires("census.visit", obj=Campaign)
@require_http_methods(["GET", "POST"])
@never_cache
def visit(request, pk: int):
    campaign = queries.get_campaign(request.user, "census.visit", pk)
    raw = request.POST.get("household") if request.method == "POST" else request.GET.get("household")
    if not raw:
        if request.method == "POST":
            return _visit_page(request, campaign, status=400, errors={"household": _("Choose a household")})
        return _visit_page(request, campaign)
    household = _household(request, campaign, raw)
    if request.method == "GET":
        return _visit_page(request, campaign, household)
    post = request.POST
    outcome = post.get("outcome", "")
    questions = list(campaign.questionnaire.questions.all())
    present = [p for p in post.getlist("present") if p]
    members = _members_from_post(post, questions, present) if outcome == Visit.Outcome.REACHED else {}
    result, refused = attempt(lambda: actions.record_visit(
        acting_user=request.user, campaign=campaign, household=household, outcome=outcome, members=members,
        note=post.get("note", ""), client_key=post.get("client_key", "")), request=request, keep_errors=True)
    if refused:
        return _visit_page(request, campaign, household, status=refused.status, errors=refused.errors, post=post)
    text = _("Visit recorded: %(address)s, %(outcome)s, %(n)d person(s).") % {
        "address": household.address, "outcome": result.get_outcome_display(), "n": result.persons}
    if result.followups.exists():
        text += " " + _("Answers signal risk: a follow-up was opened.")
    messages.success(request, text)
    return redirect("census_visit", pk=campaign.pk)


# --- Follow-ups -------------------------------------------------------------------------

@requires("census.view")
@require_GET
@never_cache
def followups(request):
    state = chosen(request, "state", FollowUp.State.values, "open")
    page = page_of(request, queries.followups(request.user, state))
    record(request.user, "census.followups.list", detail={"state": state, "page": page.number})
    return render(request, "census/followups.html", _followups_context(request, page, state))


def _followups_context(request, page, state) -> dict:
    from fangkong.observation.actions import MAX_DAYS
    from fangkong.observation.models import Observation

    return {"page": page, "state": state, "states": FollowUp.State.choices,
            "can_close": has_perm(request.user, "census.visit"),
            "can_observe": has_perm(request.user, "observation.start"),
            "kinds": Observation.Kind.choices, "proposed": Observation.Kind.HOME, "proposed_label": Observation.Kind.HOME.label,
            "proposed_days": actions.PROPOSED_DAYS, "max_days": MAX_DAYS}


@requires("census.visit", obj=FollowUp)
@require_POST
def followup_done(request, pk: int):
    fu = get_in_scope(FollowUp.objects.all(), request.user, "census.visit", pk=pk)
    _result, failed = _followup_write(request, lambda: actions.close_followup(
        acting_user=request.user, followup=fu, note=request.POST.get("note", "")))
    if failed:
        return failed
    messages.success(request, _("Follow-up done."))
    return redirect("census_followups")


def _followup_write(request, fn):
    """(fn(), None), or (None, the follow-up list again with the action's errors shown and
    the status kept: 400 for bad input, 409 for a conflict; no redirect)."""
    result, refused = attempt(fn, request=request)
    if not refused:
        return result, None
    page = Paginator(queries.followups(request.user, "open"), 50).get_page("1")
    return None, render(request, "census/followups.html", _followups_context(request, page, "open"), status=refused.status)


@requires("observation.start", obj=FollowUp)
@require_POST
def followup_observe(request, pk: int):
    """Take the follow-up's proposal: start a control measure for its person."""
    fu = get_in_scope(FollowUp.objects.select_related("person"), request.user, "observation.start", pk=pk)
    obs, failed = _followup_write(request, lambda: actions.observe_followup(
        acting_user=request.user, followup=fu, kind=request.POST.get("kind", ""), days=request.POST.get("days", "")))
    if failed:
        return failed
    messages.success(request, _("%(name)s: %(state)s") % {"name": fu.person.name, "state": obs.get_kind_display()})
    return redirect("observation_detail", pk=obs.pk)


# --- Questionnaires (configured by staff) ------------------------------------------------

QUESTION_ROWS = 10


def _question_rows(post=None, errors=None):
    errors = errors or {}
    rows = []
    for i in range(QUESTION_ROWS):
        get = (lambda f: post.get(f"q-{i}-{f}", "")) if post is not None else (lambda f: "")
        rows.append({"i": i, "text": get("text"), "kind": get("kind") or "yesno", "required": bool(get("required")) if post is not None else True,
                     "choices": get("choices"), "risk": get("risk"),
                     "errors": [str(m) for k, m in errors.items() if k.startswith(f"questions.{i}.")]})
    return rows


@requires("census.manage")
@require_http_methods(["GET", "POST"])
def questionnaires(request):
    from .models import Questionnaire

    status, errors, post = 200, {}, None
    if request.method == "POST":
        post = request.POST
        given = []
        for i in range(QUESTION_ROWS):
            text = post.get(f"q-{i}-text", "").strip()
            kind, risk = post.get(f"q-{i}-kind", ""), post.get(f"q-{i}-risk", "").strip()
            if not (text or risk or post.get(f"q-{i}-choices", "").strip()):
                continue  # an unused row of the form (a row with choices but no text is an error)
            numeric = kind in (Question.Kind.NUMBER, Question.Kind.TEMPERATURE)
            given.append((i, {"text": text, "kind": kind, "required": bool(post.get(f"q-{i}-required")),
                              "choices": post.get(f"q-{i}-choices", ""),
                              "risk_values": "" if numeric else risk, "risk_at_least": risk if numeric else None}))
        _q, refused = attempt(lambda: actions.create_questionnaire(acting_user=request.user, name=post.get("name", ""),
                                                                   questions=[q for _i, q in given]))
        if not refused:
            messages.success(request, _("Questionnaire saved."))
            return redirect("census_questionnaires")
        status = refused.status
        # Map the action's positions (non-empty rows) back to the rows of the form.
        rows = [i for i, _q in given]
        for key, message in refused.errors.items():
            parts = key.split(".")
            if parts[0] == "questions" and len(parts) == 3:
                errors[f"questions.{rows[int(parts[1])]}.{parts[2]}"] = message
            else:
                errors[key] = message
    return render(request, "census/questionnaires.html", {
        "questionnaires": Questionnaire.objects.prefetch_related("questions"), "rows": _question_rows(post, errors),
        "errors": errors, "name": post.get("name", "") if post is not None else "", "kinds": Question.Kind.choices,
    }, status=status)
