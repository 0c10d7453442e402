"""Enterprise work resumption (复工复产, M9): enterprises in the grid apply online and are
checked on site (线上申请、线下核验); decisions the same day (日结日清); every open problem
answered at the morning meeting; employee health records; supervision once resumed.

    Enterprise        an organization placed in a grid or compound, with its priority class
    Checklist         a version of the on-site checklist (an admin's edit makes a new one)
    Application       the state machine (actions.TRANSITIONS), deadlines per link
    SiteCheck         an on-site check of an application, or a supervision inspection
    CheckAnswer       one item of a check: pass / fail / not applicable, note, photos
    Problem           a returned application's or a failed item's problem: owner, answer, due
    StaffRecord       an employee health record: a person of the registry, origin, return
                      date, health state; the measure is an observation.Observation
    Event             who did what to an application, when (turnaround is measured from these)

Scoping: everything carries the enterprise's place path (the grid's workers, the
community's committee, the street) and its organization (the liaison).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place

# The seed's standard checklist (seed 004): key, label, whether a quantity is asked.
STANDARD_ITEMS = [
    ("masks", "口罩储备（数量）", True),
    ("disinfectant", "消毒液储备（数量）", True),
    ("thermometers", "体温计/测温枪（数量）", True),
    ("entrance_temperature", "入口处测温", False),
    ("health_records", "建立员工健康档案", False),
    ("entry_register", "人员、车辆进出登记", False),
    ("disinfection_schedule", "定时消毒安排", False),
    ("canteen", "食堂分餐或错峰就餐", False),
    ("commuter_bus", "通勤班车安排", False),
    ("safety_officer", "明确并培训防疫专员", False),
    ("papers", "复工复产材料齐全", False),
]


class Priority(models.TextChoices):
    ESSENTIAL = "essential", _("Essential supply")
    KEY = "key", pgettext_lazy("enterprise priority", "Key")
    ORDINARY = "ordinary", pgettext_lazy("enterprise priority", "Ordinary")


class Enterprise(models.Model):
    """An enterprise, shop, hotel or firm in the grid (企业纳入网格化管理): its organization
    (the liaison's grant is on it; an inflow employer may be the same one) placed in a grid
    or compound."""

    class Sector(models.TextChoices):
        FIRM = "firm", _("Firm")
        SHOP = "shop", _("Shop")
        HOTEL = "hotel", _("Hotel")
        FACTORY = "factory", _("Factory")
        BUILDING = "building", _("Office building")

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="enterprise")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    sector = models.CharField(_("sector"), max_length=10, choices=Sector.choices, default=Sector.FIRM)
    size = models.PositiveIntegerField(_("employees"), default=0)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.ORDINARY)
    pilot = models.BooleanField(_("pilot"), default=False)
    officer_name = models.CharField(_("safety officer"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # The last supervision inspection (passed or failed) and when the next one is due.
    last_inspected = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Meta:
        verbose_name = _("enterprise")
        ordering = ["place_path", "id"]

    def __str__(self):
        return self.organization.name

    @property
    def name(self) -> str:
        return self.organization.name


class Checklist(models.Model):
    """One version of the checklist. The newest is used for new checks; a check keeps the
    version it was made with."""

    number = models.PositiveIntegerField(unique=True)
    items = models.JSONField()  # [{"key", "label", "quantity"}]
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("resumption checklist")
        ordering = ["-number"]

    def __str__(self):
        return f"v{self.number}"


class Application(models.Model):
    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("resumption", "Draft")
        SUBMITTED = "submitted", pgettext_lazy("resumption", "Submitted")
        REVIEW = "review", _("Material review")
        ONSITE = "onsite", _("On-site check")
        RETURNED = "returned", _("Returned with problems")
        APPROVED = "approved", pgettext_lazy("resumption", "Approved")
        RESUMED = "resumed", _("Resumed")
        SUSPENDED = "suspended", _("Suspended")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    serial = models.CharField(max_length=24, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="applications")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    planned_date = models.DateField(_("planned restart date"))
    headcount = models.PositiveIntegerField(_("staff returning"), default=0)
    measures = models.TextField(_("prevention measures"), max_length=2000, blank=True)
    checklist = models.ForeignKey(Checklist, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)  # first submission (end-to-end turnaround)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)  # the decision's deadline
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    resumed_on = models.DateField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspend_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("resumption application")
        ordering = ["-created_at"]
        constraints = [
            # One application in progress or in force per enterprise.
            models.UniqueConstraint(fields=["enterprise"], name="resumption_one_live_per_enterprise",
                                    condition=~models.Q(state="withdrawn")),
        ]

    def __str__(self):
        return self.serial


class Event(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    state = models.CharField(max_length=10)
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(db_index=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("resumption history entry")
        ordering = ["at", "id"]


class SiteCheck(models.Model):
    """An on-site check of an application (assigned by the committee to grid workers) or a
    periodic supervision inspection of a resumed enterprise."""

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Kind(models.TextChoices):
        ONSITE = "onsite", _("On-site check")
        SUPERVISION = "supervision", _("Supervision inspection")

    class State(models.TextChoices):
        ASSIGNED = "assigned", _("To be checked")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="checks")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="checks")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ASSIGNED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    due_date = models.DateField(_("check date"))
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="resumption_checks", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    # The phone's id of the answers that finished the check: a resend of the same queued
    # answers (offline page, API retry) finds them here and stores nothing twice.
    client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    finished_offline = models.BooleanField(default=False)  # answered without network, sent later

    class Meta:
        verbose_name = _("on-site check or inspection")
        ordering = ["due_date", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.enterprise_id} {self.due_date}"


class CheckAnswer(models.Model):
    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Result(models.TextChoices):
        PASS = "pass", pgettext_lazy("check result", "Pass")
        FAIL = "fail", pgettext_lazy("check result", "Fail")
        NA = "na", _("Not applicable")

    check_run = models.ForeignKey(SiteCheck, on_delete=models.CASCADE, related_name="answers")
    place_path = models.CharField(max_length=255, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=120)
    result = models.CharField(max_length=4, choices=Result.choices)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("checklist answer")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["check_run", "key"], name="resumption_answer_once")]


class Problem(models.Model):
    """A problem to be answered (件件有答复、事事有措施): from a returned application or a
    failed item. It closes only with an answer."""

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("problem", "Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", pgettext_lazy("problem", "Closed")

    class Owner(models.TextChoices):
        ENTERPRISE = "enterprise", _("The enterprise")
        COMMUNITY = "community", _("The community")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="problems")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.CASCADE, related_name="problems")
    check_run = models.ForeignKey(SiteCheck, null=True, blank=True, on_delete=models.CASCADE, related_name="problems")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(_("problem"), max_length=300)
    owner = models.CharField(_("owner"), max_length=12, choices=Owner.choices, default=Owner.ENTERPRISE)
    due_date = models.DateField(_("due date"))
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    answer = models.CharField(_("answer or measure"), max_length=500, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Opened by another module (e.g. "command.finding:42": an inspection's finding at the
    # enterprise, through lib.registry's finding hook); once per source.
    source = models.CharField(max_length=60, unique=True, null=True, blank=True)

    class Meta:
        verbose_name = _("resumption problem")
        ordering = ["due_date", "id"]

    def __str__(self):
        return self.text


class StaffRecord(models.Model):
    """An employee health record (员工健康档案). The person is the registry's (encrypted as
    everywhere); the name and masked ID as given are kept here, so a person registered in
    another community is never shown. The measure is the observation module's record."""

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Health(models.TextChoices):
        HEALTHY = "healthy", _("Healthy")
        ISOLATED = "isolated", _("In isolation")
        SUSPECTED = "suspected", _("Suspected case")
        CONFIRMED = "confirmed", _("Confirmed case")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="staff")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the enterprise's
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    # None once retention has cut the link (retention.py); the name and masked ID then erased.
    person = models.ForeignKey("residents.Person", null=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=50)
    id_masked = models.CharField(max_length=18)
    origin = models.ForeignKey("inflow.Origin", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    return_date = models.DateField(_("return date"), null=True, blank=True)
    health = models.CharField(_("health state"), max_length=10, choices=Health.choices, default=Health.HEALTHY)
    observation = models.ForeignKey("observation.Observation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("employee health record")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "person"], name="resumption_staff_once")]

    def __str__(self):
        return f"{self.name} ({self.id_masked})"
