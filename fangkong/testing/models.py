"""Mass testing rounds (M16, seed 002): a round over a part of the tree with who must be
tested and its pooling size; sites with hours, lanes and staff posts; registrations of
persons into pooled tubes (made online or queued offline on the registrar's phone, each
under a client id the device chose, so a resend is stored once); tubes filled up to the
pooling size then sealed, packed into boxes handed site → courier → lab; a result per tube;
a positive tube recalls its persons for single tests; households not tested get a
door-knock with a reason.

A person is registered once per round: a partial unique index on (round, person) among the
registrations that are not flagged as conflicts (with round_created, a copy of the round's
creation time: on PostgreSQL registrations are partitioned by month on it). Two devices that registered one person
offline: the second is stored flagged (`conflict`), never counted twice, for the site lead.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place
from fangkong.residents.models import Household, Person

POOLING_SIZES = (1, 5, 10, 20)


class Round(models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        RUNNING = "running", pgettext_lazy("testing round", "Running")
        CLOSED = "closed", pgettext_lazy("testing round", "Closed")

    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    pooling = models.PositiveSmallIntegerField(_("pooling size"), default=10)
    # Who must be tested: everyone registered under the place, or narrowed by these filters.
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    tags = models.CharField(_("tags"), max_length=200, blank=True)  # comma-separated: any of them
    compounds = models.ManyToManyField(Place, blank=True, related_name="+", verbose_name=_("compounds"))
    state = models.CharField(max_length=8, choices=State.choices, default=State.PLANNED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-start_date", "-id"]
        verbose_name = _("testing round")

    def __str__(self):
        return self.name


class Site(models.Model):
    """A testing site of a round: where it stands (its area: whom the registrar may look up
    by name or ID number), its hours, and the site organization registrars are granted on."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     verbose_name=_("site organization"))
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("testing site")

    def __str__(self):
        return self.name


class Lane(models.Model):
    class Kind(models.TextChoices):
        ORDINARY = "ordinary", _("Ordinary")
        ELDERLY = "elderly", _("Elderly / no phone")
        CHILDREN = "children", _("Children by ID card")
        STAFF = "staff", _("Staff")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="lanes")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    number = models.PositiveSmallIntegerField(_("number"), default=1)

    class Meta:
        ordering = ["number", "id"]
        verbose_name = _("lane")
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="testing_lane_number")]

    def __str__(self):
        return f"{self.number} {self.get_kind_display()}"


class Post(models.Model):
    """A staff post at a site, filled by an account (the people-on-duty schedule fills
    these when it exists)."""

    class Kind(models.TextChoices):
        ORDER = "order", _("Order keeper")
        REGISTRAR = "registrar", _("Registrar")
        SAMPLER = "sampler", _("Sampler")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="posts")
    kind = models.CharField(_("post"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("staff post")
        constraints = [models.UniqueConstraint(fields=["site", "kind", "user"], name="testing_post_once")]


class Box(models.Model):
    """Sealed tubes of a site carried together: packed at the site, handed to the courier,
    received by the lab (each with its time)."""

    class State(models.TextChoices):
        PACKED = "packed", _("Packed")
        COURIER = "courier", _("With the courier")
        RECEIVED = "received", _("Received by the lab")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="boxes")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    lab = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("laboratory"))
    state = models.CharField(max_length=8, choices=State.choices, default=State.PACKED)
    version = models.PositiveIntegerField(default=1)
    packed_at = models.DateTimeField()
    courier_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "lab_id"

    class Meta:
        ordering = ["-packed_at", "-id"]
        verbose_name = _("box of tubes")


class Tube(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Filling")
        SEALED = "sealed", pgettext_lazy("tube", "Sealed")
        RESULTED = "resulted", _("Resulted")

    class Result(models.TextChoices):
        NONE = "", _("No result yet")
        NEGATIVE = "negative", _("Negative")
        POSITIVE = "positive", _("Positive")
        INVALID = "invalid", _("Invalid sample")

    code = models.CharField(_("tube barcode"), max_length=40, unique=True)
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="tubes")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="tubes")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the site's
    capacity = models.PositiveSmallIntegerField()
    filled = models.PositiveSmallIntegerField(default=0)
    single = models.BooleanField(default=False)  # a recall's single test
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN, db_index=True)
    result = models.CharField(max_length=8, choices=Result.choices, blank=True, default="")
    box = models.ForeignKey(Box, null=True, blank=True, on_delete=models.SET_NULL, related_name="tubes")
    lab = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    sealed_at = models.DateTimeField(null=True, blank=True)
    resulted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "lab_id"

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("tube")
        constraints = [models.CheckConstraint(condition=Q(filled__lte=models.F("capacity")), name="testing_tube_capacity")]

    def __str__(self):
        return self.code


class Registration(models.Model):
    class Via(models.TextChoices):
        PASS = "pass", _("Pass code")
        LINK = "link", _("Personal-link code")
        ID = "id", _("ID number")
        NAME = "name", _("Name search")
        NEW = "new", _("Registered on the spot")

    client_id = models.UUIDField()  # made by the device; unique with round_created (Meta)
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="registrations")
    # The round's created_at (which never changes), copied: on PostgreSQL the table is
    # partitioned by month on it (migration 0003), and a partitioned table's unique keys
    # must hold it. A function of `round`, so (round, person, round_created) is unique
    # exactly when (round, person) is; (client_id, round_created) stands for client_id (a
    # device resends an entry to its site, so to the same round).
    round_created = models.DateTimeField(editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="registrations")
    lane = models.ForeignKey(Lane, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="registrations")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_path = models.CharField(max_length=255, editable=False)  # where the person lives
    masked = models.CharField(max_length=50)  # masked name, for lists outside the person's area
    via = models.CharField(max_length=4, choices=Via.choices)
    recall = models.ForeignKey("Recall", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")  # a single test
    conflict = models.BooleanField(default=False)  # a second registration made offline elsewhere
    offline = models.BooleanField(default=False)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    registrar = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "person_path"

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("registration")
        constraints = [models.UniqueConstraint(fields=["round", "person", "round_created"],
                                               condition=Q(conflict=False, recall__isnull=True), name="testing_once_per_round"),
                       models.UniqueConstraint(fields=["client_id", "round_created"], name="testing_reg_client_once")]
        indexes = [models.Index(fields=["round", "person_path"], name="testing_reg_round_path"),
                   models.Index(fields=["site", "occurred_at"], name="testing_reg_site_time")]


class Recall(models.Model):
    """A person of a positive pool, recalled for a single test."""

    class State(models.TextChoices):
        RECALLED = "recalled", _("Recalled")
        NEGATIVE = "negative", _("Single test negative")
        POSITIVE = "positive", _("Single test positive")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="recalls")
    tube = models.ForeignKey(Tube, on_delete=models.CASCADE, related_name="recalls")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_path = models.CharField(max_length=255, db_index=True, editable=False)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RECALLED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "person_path"

    class Meta:
        ordering = ["state", "-created_at", "-id"]
        verbose_name = _("recall")
        constraints = [models.UniqueConstraint(fields=["tube", "person"], name="testing_recall_once")]


class Knock(models.Model):
    """Why a household was not tested, recorded by the grid worker who knocked."""

    class Reason(models.TextChoices):
        AWAY = "away", _("Away")
        HOSPITAL = "hospital", _("In hospital")
        REFUSED = "refused", _("Refused")
        ELSEWHERE = "elsewhere", _("Tested elsewhere")
        OTHER = "other", _("Other")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="knocks")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("door-knock")


class Policy(models.Model):
    """The admin's policy: the pass colour of a positive pool's persons while their single
    results are pending (one row; yellow by default)."""

    pending_colour = models.CharField(_("pass colour while single results are pending"), max_length=6,
                                      choices=[("yellow", _("Yellow")), ("red", _("Red"))], default="yellow")

    class Meta:
        verbose_name = _("testing colour policy")
