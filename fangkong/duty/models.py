"""People on duty (M1 grid rosters and teams, M10 deployed cadres and volunteers).

* GridPosition — a grid's roster: its responsible leader (责任领导), head (负责人) and grid
  workers, with dates. A record of its own, distinct from grants: the roster page offers to
  grant what a position needs, it never grants silently.
* TeamKind / Team / TeamMember — party pioneer teams, emergency squads, volunteer teams...
  attached to a grid, compound or site, with responsibility zones and model posts.
* Deployment — a cadre or volunteer sent by an organization to a site for a period, under
  the site's working group and its one responsible person (a `site_lead` grant on the site).
* Shift / Assignment — a site's schedule: posts, groups, start and end, slots; an
  assignment is one person on one shift, with its check-in and check-out (device time and
  server time) and the hours computed from them.
* StreetSetting — what a street allows its people on duty: whether its police may issue
  temporary passes (临时通行证) and for how many hours at most.
* HealthCheck — the daily health check-in of a person on duty; a fever or symptom takes the
  person off their remaining shifts until a medic clears it.

Sites are Organizations of kind "site" (places app). Every row keeps the site's place path
(SCOPE_PATH) and the site (SCOPE_ORG), so the access module scopes it.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place

User = settings.AUTH_USER_MODEL

SYMPTOMS = [
    ("cough", _("Cough")),
    ("sore_throat", _("Sore throat")),
    ("fatigue", _("Fatigue")),
    ("short_breath", _("Shortness of breath")),
    ("diarrhoea", _("Diarrhoea")),
    ("taste_smell", _("Loss of taste or smell")),
]
SYMPTOM_KEYS = [k for k, _l in SYMPTOMS]


class GridPosition(models.Model):
    class Role(models.TextChoices):
        LEADER = "leader", _("Responsible leader")
        HEAD = "head", _("Grid head")
        WORKER = "worker", pgettext_lazy("roster position", "Grid worker")

    grid = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="positions", limit_choices_to={"kind": "grid"})
    role = models.CharField(_("position"), max_length=10, choices=Role.choices)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="grid_positions")
    name = models.CharField(pgettext_lazy("of a person", "name"), max_length=60)
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path", "role", "name"]
        verbose_name = _("grid roster position")

    def __str__(self):
        return f"{self.grid.name} {self.get_role_display()} {self.name}"


class TeamKind(models.Model):
    """Configurable: party pioneer team, emergency squad, youth shock team..."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=60)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team kind")

    def __str__(self):
        return self.name


class Team(models.Model):
    kind = models.ForeignKey(TeamKind, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="teams")  # grid or compound
    site = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="teams")
    leader = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    leader_name = models.CharField(pgettext_lazy("team", "leader"), max_length=60, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path", "name"]
        verbose_name = _("team")

    def __str__(self):
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(pgettext_lazy("of a person", "name"), max_length=60)
    zone = models.CharField(_("responsibility zone"), max_length=120, blank=True)  # buildings / entrances
    model_post = models.CharField(_("model post"), max_length=120, blank=True)

    class Meta:
        ordering = ["team", "name"]
        verbose_name = _("team member")


class Deployment(models.Model):
    class Kind(models.TextChoices):
        CADRE = "cadre", _("Deployed cadre")
        VOLUNTEER = "volunteer", pgettext_lazy("deployment kind", "Volunteer")
        POLICE = "police", pgettext_lazy("deployment kind", "Police")

    class State(models.TextChoices):
        ACTIVE = "active", _("On deployment")
        ENDED = "ended", _("Deployment ended")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deployments")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.VOLUNTEER)
    sender = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="sent",
                               verbose_name=_("sending organization"))
    site = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="deployed")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE, db_index=True)
    # Declared constraints the schedule honours.
    family_care = models.BooleanField(_("cares for family (day shifts only)"), default=False)
    health_limited = models.BooleanField(_("health limits (shifts of 4 hours at most)"), default=False)
    weekly_limit = models.PositiveSmallIntegerField(_("weekly limit (hours)"), default=48)
    needs = models.CharField(_("needs raised"), max_length=200, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the site's place
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"

    class Meta:
        ordering = ["site", "user"]
        verbose_name = _("deployment")

    def __str__(self):
        return f"{self.user} @ {self.site}"


class SentDeployment(Deployment):
    """The same deployments as their sending organization sees them: scoped by the sender
    (its unit liaison's grant is on the sender, not on the site)."""

    SCOPE_PATH = None
    SCOPE_ORG = "sender_id"

    class Meta:
        proxy = True


class Shift(models.Model):
    class Post(models.TextChoices):
        GATE = "gate", _("Gate")
        DISTRIBUTION = "distribution", _("Distribution point")
        TESTING = "testing", _("Testing site order")
        PATROL = "patrol", _("Patrol")
        HOTLINE = "hotline", _("Hotline")  # the street's 24-hour hotline (services)
        OTHER = "other", _("Other post")

    site = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="shifts")
    post = models.CharField(_("post"), max_length=14, choices=Post.choices)
    post_name = models.CharField(_("post name"), max_length=80, blank=True)  # "north gate"
    group = models.CharField(_("group"), max_length=30, blank=True)
    starts_at = models.DateTimeField(_("start"))
    ends_at = models.DateTimeField(_("end"))
    slots = models.PositiveSmallIntegerField(_("people needed"), default=1)
    open = models.BooleanField(_("open for volunteers to take"), default=False)
    post_code = models.CharField(max_length=16, db_index=True, editable=False)  # the post's QR code
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("shift")
        constraints = [models.CheckConstraint(name="shift_ends_after_start", condition=Q(ends_at__gt=models.F("starts_at")))]

    def __str__(self):
        return f"{self.post_label} {self.starts_at:%m-%d %H:%M}"

    @property
    def post_label(self) -> str:
        return self.post_name or str(self.get_post_display())

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


class Assignment(models.Model):
    class State(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        CHECKED_IN = "checked_in", _("On duty")
        CHECKED_OUT = "checked_out", _("Done")
        MISSED = "missed", _("Missed")
        REMOVED = "removed", _("Taken off")

    class How(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned by the site")
        TAKEN = "taken", _("Taken by the volunteer")
        REPLACEMENT = "replacement", _("Replacement")

    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="assignments")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="duty_assignments")
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments")
    site = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ASSIGNED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    how = models.CharField(max_length=12, choices=How.choices, default=How.ASSIGNED)
    # Check-in and check-out: when they happened on the device, when they reached the
    # server, and the one that counts (the device's for entries queued offline).
    checkin_at = models.DateTimeField(null=True, blank=True)
    checkin_device_at = models.DateTimeField(null=True, blank=True)
    checkin_server_at = models.DateTimeField(null=True, blank=True)
    checkin_client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    checkout_at = models.DateTimeField(null=True, blank=True)
    checkout_device_at = models.DateTimeField(null=True, blank=True)
    checkout_server_at = models.DateTimeField(null=True, blank=True)
    checkout_client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    late = models.BooleanField(default=False)
    clock_skew = models.BooleanField(default=False)  # the device's clock >10 min off the server's
    auto_closed = models.BooleanField(default=False)  # no check-out: closed 2 h after the end
    removed_reason = models.CharField(max_length=20, blank=True)
    minutes = models.PositiveIntegerField(default=0)  # on duty, from check-in to check-out
    note = models.TextField(_("work log"), blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"

    class Meta:
        ordering = ["shift__starts_at", "id"]
        verbose_name = _("shift assignment")
        constraints = [
            # One person once on a shift (taken off: may be put back).
            models.UniqueConstraint(fields=["shift", "user"], condition=~Q(state="removed"), name="assignment_once_per_shift"),
        ]
        indexes = [models.Index(fields=["user", "state"], name="duty_assignment_user")]

    def __str__(self):
        return f"{self.user} {self.shift}"


class HealthCheck(models.Model):
    class State(models.TextChoices):
        OK = "ok", _("Well")
        UNWELL = "unwell", _("Unwell: off duty")
        CLEARED = "cleared", _("Cleared by a medic")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="duty_health")
    day = models.DateField()
    temperature = models.DecimalField(max_digits=3, decimal_places=1)
    symptoms = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, db_index=True)
    version = models.PositiveIntegerField(default=1)
    site = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    reported_at = models.DateTimeField()
    client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    cleared_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cleared_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"

    class Meta:
        ordering = ["-reported_at"]
        verbose_name = _("health check-in")
        indexes = [models.Index(fields=["user", "day"], name="duty_health_user_day")]

    def __str__(self):
        return f"{self.user} {self.day} {self.temperature}"


class StreetSetting(models.Model):
    """A street's settings for people on duty, set by its coordinator: whether the police in
    its communities and compounds may issue temporary passes (a visitor's pass of the passes
    module), and for how many hours at most. No row: not allowed."""

    street = models.OneToOneField(Place, on_delete=models.PROTECT, related_name="+", limit_choices_to={"kind": "street"})
    police_passes = models.BooleanField(_("the police may issue temporary passes"), default=False)
    police_pass_hours = models.PositiveSmallIntegerField(_("longest temporary pass issued by the police (hours)"), default=24)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path"]
        verbose_name = _("street setting of people on duty")

    def __str__(self):
        return self.street.name
