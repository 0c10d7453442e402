"""Resident services (M13), hardship assistance (M14) and the 24-hour hotline (M15).

* ServiceRequest — medicine, groceries, meals, errands bought and brought to a resident:
  requested → accepted (by a volunteer or cadre: an account, until the people-on-duty
  module's volunteers exist) → bought → delivered (the resident's code or link) → settled
  / cancelled.
* GroupOrder + OrderLine — a building's or compound's 接龙: households add quantities until
  the closing time; totals per item and building at closing.
* DistributionPoint + Round + Handover — points serving buildings, a round's hand-overs
  marked once per household.
* HardshipCase + Revisit + AidGrant — the hardship register with one-to-one pairing.
* Ring + Call + Reference — the hotline: the officer who answers a ring owns the call until
  it is closed (首问责任制); one ring answered once. Its 24-hour rota is the people-on-duty
  module's: shifts of the post "hotline" at a site under the street (duty.queries.on_duty).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.lib import crypto
from fangkong.places.models import Place
from fangkong.residents.models import Household, Person

USER = settings.AUTH_USER_MODEL


class ServiceRequest(models.Model):
    class Kind(models.TextChoices):
        MEDICINE = "medicine", _("Medicine")
        GROCERIES = "groceries", _("Groceries")
        MEALS = "meals", _("Meals")
        ERRAND = "errand", _("Errand")
        OTHER = "other", pgettext_lazy("kind of service", "Other")

    class Source(models.TextChoices):
        LINK = "link", _("Resident's link")
        STAFF = "staff", _("Grid worker or committee")
        HOTLINE = "hotline", _("Hotline")

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACCEPTED = "accepted", _("Accepted")
        BOUGHT = "bought", _("Bought")
        DELIVERED = "delivered", _("Delivered")
        SETTLED = "settled", _("Settled")
        CANCELLED = "cancelled", _("Cancelled")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="service_requests")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the person's place
    address = models.CharField(_("address"), max_length=200, blank=True)
    kind = models.CharField(_("service"), max_length=10, choices=Kind.choices)
    text = models.CharField(_("what is needed"), max_length=300)
    source = models.CharField(max_length=8, choices=Source.choices)
    priority = models.BooleanField(default=False)
    priority_reason = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    assignee = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="service_tasks")
    due_at = models.DateTimeField(_("due"))
    code = models.CharField(max_length=6, editable=False)  # the resident gives it to the deliverer
    spent = models.DecimalField(_("amount spent"), max_digits=8, decimal_places=2, null=True, blank=True)
    paid = models.DecimalField(_("amount paid"), max_digits=8, decimal_places=2, null=True, blank=True)
    waived = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    call = models.ForeignKey("Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="service_requests")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    bought_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    SCOPE_PATH = "place_path"
    OPEN = ("requested", "accepted", "bought")

    class Meta:
        ordering = ["-priority", "due_at", "id"]
        verbose_name = _("service request")
        indexes = [models.Index(fields=["place_path", "state", "due_at"], name="service_board")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class GroupOrder(models.Model):
    """接龙: an organiser's order for a compound or buildings, open until closes_at."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("compound or building"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    title = models.CharField(_("title"), max_length=100)
    items = models.JSONField(default=list)  # item names, in the organiser's order
    closes_at = models.DateTimeField(_("closes at"))
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-closes_at", "id"]
        verbose_name = _("group order")

    def __str__(self):
        return self.title

    def is_open(self, now) -> bool:
        return self.state == self.State.OPEN and now < self.closes_at


class OrderLine(models.Model):
    order = models.ForeignKey(GroupOrder, on_delete=models.CASCADE, related_name="lines")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    building_path = models.CharField(max_length=255, editable=False)  # the household's place
    item = models.CharField(max_length=60)
    quantity = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "household", "item"], name="orderline_once")]


class DistributionPoint(models.Model):
    """A point (with its cadres and volunteers) serving buildings of a community."""

    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("community"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    buildings = models.ManyToManyField(Place, related_name="distribution_points", blank=True)
    staff = models.ManyToManyField(USER, related_name="distribution_points", blank=True)
    # The supplies holder whose stock the point hands out (optional: no holder, no ledger entry).
    holder = models.ForeignKey("supplies.Holder", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("supplies holder"))

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path", "name"]
        verbose_name = _("distribution point")

    def __str__(self):
        return self.name


class Round(models.Model):
    """One day's distribution at a point: the households expected, each handed over once."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    point = models.ForeignKey(DistributionPoint, on_delete=models.PROTECT, related_name="rounds")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the point's
    day = models.DateField(_("day"))
    what = models.CharField(_("what is handed out"), max_length=100)
    expected = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    version = models.PositiveIntegerField(default=1)
    closed_at = models.DateTimeField(null=True, blank=True)
    # What each household gets from the point's holder in the supplies ledger (optional).
    item = models.ForeignKey("supplies.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("item from the ledger"))
    quantity_each = models.PositiveIntegerField(_("quantity per household"), default=0)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-day", "id"]
        verbose_name = _("distribution round")


class Handover(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="handovers")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    door = models.BooleanField(default=False)  # brought to the door after the round
    # The device's id of the mark (a phone's offline queue): a resend of it is the same mark.
    client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "household"], name="handover_once")]


class HardshipCase(models.Model):
    class Category(models.TextChoices):
        ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
        SUBSISTENCE = "subsistence", _("Subsistence allowance")
        CHILD = "child", _("Children in hardship")
        ILLNESS = "illness", _("Serious illness")
        DISABLED = "disabled", _("Disabled")
        OTHER = "other", pgettext_lazy("hardship category", "Other")

    class Degree(models.IntegerChoices):
        MILD = 1, _("Mild")
        SERIOUS = 2, _("Serious")
        SEVERE = 3, _("Severe")

    class State(models.TextChoices):
        ACTIVE = "active", _("Being helped")
        CLOSED = "closed", _("Closed")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="hardship_cases")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    cause = models.CharField(_("cause"), max_length=200)
    degree = models.PositiveSmallIntegerField(_("degree"), choices=Degree.choices)
    health = models.CharField(_("health"), max_length=200, blank=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.ACTIVE)
    partner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="hardship_pairings")
    partner_from = models.DateField(null=True, blank=True)
    partner_to = models.DateField(null=True, blank=True)
    revisit_days = models.PositiveSmallIntegerField(default=14)
    next_due = models.DateField(null=True, blank=True)
    # The supplies holder that the revisits' goods are issued from (optional).
    holder = models.ForeignKey("supplies.Holder", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("supplies holder"))
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["next_due", "id"]
        verbose_name = _("hardship case")
        constraints = [models.UniqueConstraint(fields=["person"], condition=models.Q(state="active"),
                                                name="hardship_one_active_per_person")]


class Revisit(models.Model):
    case = models.ForeignKey(HardshipCase, on_delete=models.CASCADE, related_name="revisits")
    day = models.DateField(_("day"))
    given = models.CharField(_("what was brought"), max_length=200, blank=True)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    next_due = models.DateField(_("next revisit"))
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    # Goods issued from the case's holder in the supplies ledger (optional).
    item = models.ForeignKey("supplies.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "-id"]


class AidGrant(models.Model):
    class State(models.TextChoices):
        APPLIED = "applied", _("Applied for")
        APPROVED = "approved", _("Approved")

    case = models.ForeignKey(HardshipCase, on_delete=models.CASCADE, related_name="grants")
    kind = models.CharField(_("aid"), max_length=60)
    amount = models.DecimalField(_("amount"), max_digits=9, decimal_places=2)
    source = models.CharField(_("source"), max_length=60)
    year = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.APPLIED)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)


TOPICS = [
    ("fever_clinic", _("Fever clinic")),
    ("medicine", _("Medicine")),
    ("supplies", _("Supplies and groceries")),
    ("policy", _("Policy question")),
    ("travel", _("Return and travel")),
    ("complaint", _("Complaint")),
    ("other", pgettext_lazy("call topic", "Other")),
]


class Ring(models.Model):
    """A call waiting to be answered (a missed call to return, a call put through by the
    switchboard): the first officer to answer it owns the call that it becomes."""

    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the street
    at = models.DateTimeField()
    phone_enc = models.BinaryField(null=True, editable=False)
    phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    caller_name = models.CharField(max_length=50, blank=True)

    SCOPE_PATH = "place_path"
    ENCRYPTED = (crypto.Encrypted("phone_enc"),)  # key rotation re-encrypts it

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("waiting call")


class Call(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        HANDOVER = "handover", _("Being handed over")
        CLOSED = "closed", _("Closed")

    ring = models.OneToOneField(Ring, null=True, blank=True, on_delete=models.PROTECT, related_name="call")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    received_at = models.DateTimeField(_("received"))
    caller_name = models.CharField(_("caller"), max_length=50, blank=True)
    phone_enc = models.BinaryField(null=True, editable=False)
    phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    topic = models.CharField(_("topic"), max_length=16, choices=TOPICS)
    question = models.CharField(_("question"), max_length=500)
    answer = models.CharField(_("answer or routing"), max_length=500, blank=True)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="calls")  # never empty
    handover_to = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN, db_index=True)
    version = models.PositiveIntegerField(default=1)
    follow_up_due = models.DateTimeField(_("follow up by"), null=True, blank=True)
    ENCRYPTED = (crypto.Encrypted("phone_enc"),)  # key rotation re-encrypts it
    outcome = models.CharField(_("outcome"), max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("hotline call")
        constraints = [models.CheckConstraint(condition=~models.Q(state="closed") | ~models.Q(outcome=""),
                                              name="call_closed_has_outcome")]


class Reference(models.Model):
    """An answer of the reference list: fever clinics with address and hours, policies."""

    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    title = models.CharField(_("title"), max_length=100)
    body = models.CharField(_("answer"), max_length=1000)
    address = models.CharField(_("address"), max_length=200, blank=True)
    hours = models.CharField(_("hours"), max_length=100, blank=True)
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField()

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("reference answer")
