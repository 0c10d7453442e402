"""Registry pages. Every view declares its permission through places.access."""
from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.audit.actions import record
from fangkong.lib import registry
from fangkong.lib.exports import csv_response, xlsx_response
from fangkong.lib.workflow import Invalid
from fangkong.web.forms import attempt, submitted, transition_pages
from fangkong.places.access import get_in_scope, has_perm, places_in_scope, require, requires, scope
from fangkong.lib.db.replica import reads_from_replica

from . import actions, importing, queries
from .forms import HouseholdForm, ImportUploadForm, PersonForm
from .models import TAGS, Household, ImportJob, OutgoingTransfer, Person, Transfer


def _filters(request):
    """Search filters. The search text (a name, ID or phone) comes only in a POST body,
    never in a URL, so it stays out of access logs and browser history."""
    user = request.user
    data = request.POST if request.method == "POST" else request.GET
    place = None
    place_id = data.get("place", "")
    if place_id.isdigit():
        place = places_in_scope(user, "residents.view").filter(pk=int(place_id)).first()
    tag = data.get("tag", "")
    if tag not in dict(TAGS):
        tag = ""
    q = request.POST.get("q", "")[:60] if request.method == "POST" else ""
    return {"q": q, "place": place, "tag": tag, "page": data.get("page", "1")}


def _filter_places(user):
    return places_in_scope(user, "residents.view").filter(kind__in=["community", "grid", "compound"])


@requires("residents.view")
@require_http_methods(["GET", "POST"])
def person_list(request):
    f = _filters(request)
    qs = queries.search_persons(request.user, q=f["q"], place=f["place"], tag=f["tag"])
    page = Paginator(qs, queries.PAGE_SIZE).get_page(f["page"])
    record(request.user, "person.list", detail={"q": f["q"], "place": f["place"].pk if f["place"] else None, "tag": f["tag"], "page": page.number})
    ctx = {"page": page, "f": f, "tags": TAGS, "places": _filter_places(request.user),
           "can_unmask_export": has_perm(request.user, "residents.unmask")}
    template = "residents/_person_rows.html" if request.htmx and request.htmx.target == "results" else "residents/person_list.html"
    return render(request, template, ctx)


@requires("residents.view", obj=Person)
@require_GET
def person_detail(request, pk: int):
    person = get_in_scope(queries.persons(request.user), request.user, "residents.view", pk=pk)
    record(request.user, "person.view", obj=person)
    sections = registry.person_sections(request.user, person)
    return render(request, "residents/person_detail.html", {
        "person": person,
        "sections": sections,
        "person_actions": [a for s in sections for a in s.actions],
        "history": _history(person),
        "can_unmask": has_perm(request.user, "residents.unmask") and scope(Person.objects.filter(pk=pk), request.user, "residents.unmask").exists(),
        "can_edit": scope(Person.objects.filter(pk=pk), request.user, "residents.edit").exists(),
    })


_HISTORY = {
    "person.create": gettext_lazy("Registered"),
    "person.update": gettext_lazy("Details changed"),
    "person.unmask": gettext_lazy("Full numbers shown"),
    "accounts.resident_link.issue": gettext_lazy("Personal link issued"),
    "accounts.resident_link.revoke": gettext_lazy("Personal link revoked"),
}


def _history(person) -> list[dict]:
    """What was done to the person's record (not who looked at it), newest first: from the
    audit trail, by kind of event and who did it; the details (reasons, fields) stay there."""
    from fangkong.audit.models import AuditEvent, actor_names

    events = list(AuditEvent.objects.filter(object_type=type(person).__name__, object_id=str(person.pk),
                                            action__in=list(_HISTORY), outcome="ok").order_by("-at", "-id")[:20])
    names = actor_names(events)
    return [{"at": e.at, "label": _HISTORY[e.action], "by": names.get(e.user_id, "") if e.user_id else e.username}
            for e in events]


@requires("residents.unmask", obj=Person)
@require_POST
def person_unmask(request, pk: int):
    person = get_in_scope(Person.objects.all(), request.user, "residents.unmask", pk=pk)
    plain = actions.unmask_person(acting_user=request.user, person=person, reason=request.POST.get("reason", ""))
    return render(request, "residents/_unmasked.html", {"person": person, "plain": plain})


def _duplicate(form, dup) -> None:
    """The ID number is registered already: whom to (masked) when the user sees them."""
    form.add_error("id_number", _("This ID number is already registered: %(name)s (%(id)s)") % {
        "name": dup.existing.name, "id": dup.existing.id_masked} if dup.existing else
        _("This ID number is already registered outside your jurisdiction"))


def attempt_register(user, form):
    from . import transfers

    return transfers.register_or_request(acting_user=user, clean=form.person_fields,
                                         household=form.cleaned_data["household"])


def _person_form_response(request, form, person=None, status=200):
    return render(request, "residents/person_form.html", {"form": form, "person": person}, status=status)


@requires("residents.edit")
@require_http_methods(["GET", "POST"])
def person_create(request):
    households = queries.households(request.user, "residents.edit")
    initial = {}
    hh = request.GET.get("household", "")
    if hh.isdigit():
        initial["household"] = households.filter(pk=int(hh)).first()
    form = PersonForm(request.POST or None, households=households, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                person, transfer = attempt_register(request.user, form)
            except actions.DuplicatePerson as dup:
                _duplicate(form, dup)
                if dup.existing is not None:
                    return render(request, "residents/person_form.html", {"form": form, "duplicate": dup.existing}, status=409)
                return _person_form_response(request, form, status=409)
            except Invalid as exc:
                for field, message in exc.errors.items():
                    form.add_error(None, message)
                return _person_form_response(request, form, status=400)
            if transfer is not None:
                messages.info(request, _("This ID number is registered in another community: a transfer request has "
                                         "been sent to its committee. The person appears here when they accept."))
                return redirect("transfer_list")
            messages.success(request, _("Saved."))
            return redirect("person_detail", pk=person.pk)
        return _person_form_response(request, form, status=400)
    return _person_form_response(request, form)


@requires("residents.edit", obj=Person)
@require_http_methods(["GET", "POST"])
def person_edit(request, pk: int):
    person = get_in_scope(queries.persons(request.user, "residents.edit"), request.user, "residents.edit", pk=pk)
    households = queries.households(request.user, "residents.edit")
    initial = {
        "name": person.name, "sex": person.sex, "birth_date": person.birth_date.isoformat(),
        "household": person.household, "tags": person.tag_list, "note": person.note,
    }
    form = PersonForm(request.POST or None, households=households, initial=initial, current_id=person.id_number())
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.update_person(acting_user=request.user, person=person, clean=form.person_fields,
                                      household=form.cleaned_data["household"] or person.household)
            except actions.DuplicatePerson as dup:
                _duplicate(form, dup)
                return _person_form_response(request, form, person, status=409)
            messages.success(request, _("Saved."))
            return redirect("person_detail", pk=person.pk)
        return _person_form_response(request, form, person, status=400)
    return _person_form_response(request, form, person)


@requires("residents.view", obj=Household)
@require_GET
def household_detail(request, pk: int):
    household = get_in_scope(queries.households(request.user), request.user, "residents.view", pk=pk)
    members = scope(household.members.all(), request.user, "residents.view")
    record(request.user, "household.view", obj=household)
    return render(request, "residents/household_detail.html", {
        "household": household, "members": members,
        "can_edit": scope(Household.objects.filter(pk=pk), request.user, "residents.edit").exists(),
    })


def _household_places(user):
    return places_in_scope(user, "residents.edit").exclude(kind__in=["district", "street", "checkpoint"])


def _household_form(request, form, household=None, status=200):
    return render(request, "residents/household_form.html", {"form": form, "household": household}, status=status)


@requires("residents.edit")
@require_http_methods(["GET", "POST"])
def household_create(request):
    form = HouseholdForm(request.POST or None, places=_household_places(request.user))
    hh, status = submitted(request, form, lambda d: actions.create_household(
        acting_user=request.user, place=d["place"], address=d["address"], tenure=d["tenure"]))
    return redirect("household_detail", pk=hh.pk) if status is None else _household_form(request, form, status=status)


@requires("residents.edit", obj=Household)
@require_http_methods(["GET", "POST"])
def household_edit(request, pk: int):
    household = get_in_scope(Household.objects.all(), request.user, "residents.edit", pk=pk)
    form = HouseholdForm(request.POST or None, instance=Household.objects.get(pk=pk), places=_household_places(request.user))
    _done, status = submitted(request, form, lambda d: actions.update_household(
        acting_user=request.user, household=household, place=d["place"], address=d["address"], tenure=d["tenure"]))
    if status is not None:
        return _household_form(request, form, household, status=status)
    messages.success(request, _("Saved."))
    return redirect("household_detail", pk=pk)


@requires("residents.export")
@require_POST
@reads_from_replica
def person_export(request):
    fmt = request.POST.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        return HttpResponseBadRequest(_("format must be xlsx or csv"))
    unmasked = request.POST.get("unmasked") == "1"
    f = _filters(request)
    qs = queries.search_persons(request.user, q=f["q"], place=f["place"], tag=f["tag"], perm="residents.export")
    if unmasked:
        # Full numbers need the unmask permission over every exported person.
        require(request.user, "residents.unmask")
        qs = scope(qs, request.user, "residents.unmask")
    record(request.user, "person.export", detail={"format": fmt, "unmasked": unmasked, "rows": qs.count(), "q": f["q"], "tag": f["tag"]})
    rows = queries.export_rows(qs, unmasked=unmasked)
    name = f"residents.{fmt}"
    return xlsx_response(rows, name, _("Residents")) if fmt == "xlsx" else csv_response(rows, name)


# --- Import ---------------------------------------------------------------------------

def _import_places(user):
    return places_in_scope(user, "residents.import").exclude(kind__in=["district", "checkpoint"])


@requires("residents.import")
@require_http_methods(["GET", "POST"])
def import_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None, places=_import_places(request.user))
    jobs = scope(ImportJob.objects.all(), request.user, "residents.import")[:10]
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.IMPORT_MAX_BYTES:
                form.add_error("file", _("The file is larger than %(n)d MB") % {"n": settings.IMPORT_MAX_BYTES // 2**20})
            else:
                settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
                suffix = Path(upload.name).suffix.lower()[:8]
                stored = settings.IMPORT_DIR / f"{uuid.uuid4().hex}{suffix}"
                with open(stored, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                try:
                    job = importing.create_job(acting_user=request.user, place=form.cleaned_data["place"], stored_path=stored, file_name=upload.name)
                except importing.ImportFileError as exc:
                    stored.unlink(missing_ok=True)
                    form.add_error("file", str(exc))
                else:
                    return redirect("import_job", pk=job.pk)
        return render(request, "residents/import_upload.html", {"form": form, "jobs": jobs}, status=400)
    return render(request, "residents/import_upload.html", {"form": form, "jobs": jobs})


def _job(request, pk):
    return get_in_scope(ImportJob.objects.select_related("place"), request.user, "residents.import", pk=pk)


def _job_page(request, job, mapping=None, problems=None, status=200):
    mapping = job.mapping if mapping is None else mapping
    columns = [(str(i), h, mapping.get(str(i), "")) for i, h in enumerate(job.headers)]
    return render(request, "residents/import_job.html", {
        "job": job, "columns": columns, "fields": importing.FIELDS, "errors": job.errors.all()[:50],
        "problems": importing.check_mapping(mapping, job.headers) if problems is None else problems,
        "can_resume": importing.can_resume(job),
    }, status=status)


@requires("residents.import", obj=ImportJob)
@require_GET
def import_job(request, pk: int):
    return _job_page(request, _job(request, pk))


@requires("residents.import", obj=ImportJob)
@require_POST
def import_start(request, pk: int):
    job = _job(request, pk)
    mapping = {str(i): request.POST.get(f"col_{i}", "") for i in range(len(job.headers))}
    _done, refused = attempt(lambda: importing.start_import(acting_user=request.user, job=job, mapping=mapping))
    if refused and refused.reason:
        return HttpResponse(refused.reason, status=409)
    if refused:
        shown = {k: v for k, v in mapping.items() if v in importing.FIELDS}
        return _job_page(request, job, mapping=shown, problems=refused.errors["mapping"], status=400)
    return redirect("import_job", pk=job.pk)


@requires("residents.import", obj=ImportJob)
@require_POST
def import_resume(request, pk: int):
    job = _job(request, pk)
    _done, refused = attempt(lambda: importing.resume_import(acting_user=request.user, job=job))
    return HttpResponse(refused.reason, status=409) if refused else redirect("import_job", pk=job.pk)


@requires("residents.import", obj=ImportJob)
@require_GET
def import_progress(request, pk: int):
    job = _job(request, pk)
    return render(request, "residents/_import_progress.html", {"job": job})


@requires("residents.import", obj=ImportJob)
@require_GET
def import_errors(request, pk: int):
    job = _job(request, pk)
    record(request.user, "residents.import.errors", obj=job)
    return csv_response(importing.error_report_rows(job), f"import-{job.pk}-errors.csv")


# --- Transfer requests ------------------------------------------------------------------------

@requires("residents.transfer_request")
@require_GET
def transfer_list(request):
    """The requests for persons of the user's area (to decide) and those the user's side
    sent (their state and the reason of the decision)."""
    user = request.user
    incoming = []
    if has_perm(user, "residents.transfer"):
        incoming = list(scope(Transfer.objects.select_related("to_place", "person"), user, "residents.transfer")
                        .filter(state=Transfer.State.REQUESTED)[:100])
        for t in incoming:
            t.person_here = _still_theirs(t, user)
    outgoing = list(scope(OutgoingTransfer.objects.select_related("to_place"), user, "residents.transfer_request")[:100])
    for t in outgoing:  # a request another module waits for: only who made it withdraws it
        t.can_withdraw = t.state == Transfer.State.REQUESTED and (not t.purpose or t.requested_by_id == user.pk)
    return render(request, "residents/transfer_list.html", {"incoming": incoming, "outgoing": outgoing,
                                                            "can_decide": has_perm(user, "residents.transfer")})


def _still_theirs(t, user) -> bool:
    from fangkong.places.access import may

    return (t.state == Transfer.State.REQUESTED and t.person is not None
            and t.person.place_path.startswith(t.from_path) and may(user, "residents.view", t.person))


@requires("residents.transfer", obj=Transfer)
@require_GET
def transfer_detail(request, pk: int):
    from fangkong.places.access import possible_transitions

    from . import transfers

    t = get_in_scope(Transfer.objects.select_related("to_place", "person", "person__household", "employer"),
                     request.user, "residents.transfer", pk=pk)
    record(request.user, "residents.transfer.view", obj=t)
    # The person's record only while the request waits and the person is still where it
    # was made (the owners' own): after they moved, their new place is not the owners' to see.
    t.person_here = _still_theirs(t, request.user)
    return render(request, "residents/transfer_detail.html", {
        "t": t, "possible": dict(possible_transitions(transfers.TRANSITIONS, t, request.user))})


def _transfer_done(request, t, action, transition):
    messages.success(request, _("Transfer request: %(state)s") % {"state": t.get_state_display()})
    return redirect("transfer_list")


def _transfer_refused(request, t, refusal):
    return redirect("transfer_detail", pk=t.pk)


def _decide(request, t, action):
    from . import transfers

    return transfers.decide(acting_user=request.user, transfer=t, action=action, reason=request.POST.get("reason", ""))


def _transfer_views():
    from . import transfers

    return transition_pages(transfers.TRANSITIONS, Transfer.objects.all(), "transfer", take=_decide,
                            done=_transfer_done, refused=_transfer_refused)


transfer_views = _transfer_views()


@requires("residents.transfer_request", obj=OutgoingTransfer)
@require_POST
def transfer_withdraw(request, pk: int):
    from . import transfers

    t = get_in_scope(OutgoingTransfer.objects.all(), request.user, "residents.transfer_request", pk=pk)
    _result, refusal = attempt(lambda: transfers.withdraw(acting_user=request.user, transfer=t), request=request)
    if refusal is None:
        messages.success(request, _("The request was withdrawn"))
    return redirect("transfer_list")
