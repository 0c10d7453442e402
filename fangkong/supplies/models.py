"""Supplies (M11): a catalogue of items, the holders that keep stock, and ONE append-only
ledger in each item's base unit.

* Item — a mask, a litre of alcohol, a jin of disinfectant: its base unit; Package — how
  many base units a package holds (a box of 50 masks); quantities are converted on entry.
* Holder — the street's warehouse, a station, a site, a compound, an enterprise, a team.
* Entry — one posted movement of one item at one holder, signed in base units (+ in,
  − out). On hand = the sum of a holder's entries for an item; never edited, never
  deleted: corrections are new entries (a stock count posts the difference). Stock is the
  lock row of a (holder, item) pair, so that two issues of the last box are serialized.
* Transfer — sent → received (with the receiver's count and any shortfall); while sent it
  is in transit, in neither holder's stock.
* Donation — a donor's gift received at a holder, with its thank-you PDF (documents app).
* Request — a holder asks for items; the street approves fully or partly, and the
  transfers follow.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place


class Item(models.Model):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=60)
    unit = models.CharField(_("base unit"), max_length=10)  # 个, 升, 斤, 套...
    category = models.CharField(_("category"), max_length=30, blank=True)
    order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("item")

    def __str__(self):
        return self.name


class Package(models.Model):
    """A package of an item: `size` base units (a box of 50 masks)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="packages")
    name = models.CharField(_("package"), max_length=10)  # 盒, 箱, 桶...
    size = models.PositiveIntegerField(_("base units per package"))

    class Meta:
        ordering = ["item", "size"]
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="supplies_package_unique")]

    def __str__(self):
        return f"{self.name} ({self.size}{self.item.unit})"


class Holder(models.Model):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", _("Warehouse")
        STATION = "station", _("Station")
        SITE = "site", _("Site")
        COMPOUND = "compound", _("Compound")
        ENTERPRISE = "enterprise", _("Enterprise")
        TEAM = "team", pgettext_lazy("supplies holder", "Team")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=120)
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Where it is (its place's or organization's path): what the street's and the committee's grants see.
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    # A place holder's own place path (what a storekeeper's place grant names); "" for an organization's.
    keeper_path = models.CharField(max_length=255, db_index=True, editable=False, blank=True)
    # Where requests go (the street's warehouse by default).
    supplier = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"
    SCOPE_EXACT = {"storekeeper": "keeper_path"}

    class Meta:
        ordering = ["place_path", "kind", "name"]
        verbose_name = _("holder")
        constraints = [
            models.CheckConstraint(name="supplies_holder_one_target",
                                   condition=models.Q(place__isnull=False, organization__isnull=True)
                                   | models.Q(place__isnull=True, organization__isnull=False)),
            models.UniqueConstraint(fields=["organization"], name="supplies_holder_one_per_org"),
            models.UniqueConstraint(fields=["place", "kind", "name"], name="supplies_holder_unique_at_place"),
        ]

    def __str__(self):
        return self.name


class Threshold(models.Model):
    """The level under which an item at a holder is short (in base units)."""

    holder = models.ForeignKey(Holder, on_delete=models.CASCADE, related_name="thresholds")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    minimum = models.PositiveIntegerField(_("minimum"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "item"], name="supplies_threshold_unique")]


class Stock(models.Model):
    """The lock row of one item at one holder: posting to the ledger locks it first, so the
    check "never below zero" and the entry happen one at a time. It holds no figure."""

    holder = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "item"], name="supplies_stock_unique")]


class Donation(models.Model):
    class DonorKind(models.TextChoices):
        BUSINESS = "business", _("Business")
        DEPUTY = "deputy", _("Deputy")
        RESIDENT = "resident", _("Resident")
        OTHER = "other", _("Other")

    holder = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="donations")
    donor = models.CharField(_("donor"), max_length=120)
    donor_kind = models.CharField(_("donor kind"), max_length=10, choices=DonorKind.choices, default=DonorKind.OTHER)
    note = models.CharField(_("note"), max_length=200, blank=True)
    received_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    keeper_path = models.CharField(max_length=255, editable=False, blank=True)
    organization_id_copy = models.IntegerField(null=True, editable=False)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id_copy"
    SCOPE_EXACT = {"storekeeper": "keeper_path"}

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("donation")

    def __str__(self):
        return self.donor


class Request(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Waiting")
        APPROVED = "approved", _("Approved")
        PARTLY = "partly", _("Partly approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    holder = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="requests")
    supplier = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    version = models.PositiveIntegerField(default=1)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decision_note = models.CharField(max_length=200, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    keeper_path = models.CharField(max_length=255, editable=False, blank=True)
    organization_id_copy = models.IntegerField(null=True, editable=False)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id_copy"
    SCOPE_EXACT = {"storekeeper": "keeper_path"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("supplies request")


class RequestLine(models.Model):
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()  # base units asked for
    approved = models.PositiveIntegerField(null=True, blank=True)  # base units granted

    class Meta:
        ordering = ["id"]


class Transfer(models.Model):
    class State(models.TextChoices):
        SENT = "sent", _("In transit")
        RECEIVED = "received", _("Received")

    source = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="sent")
    target = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="incoming")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()  # base units sent
    received_quantity = models.PositiveIntegerField(null=True, blank=True)
    shortfall = models.PositiveIntegerField(default=0)
    shortfall_note = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SENT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    request = models.ForeignKey(Request, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Scoped by its receiver: the receiver's keeper confirms it (the sender's sees it on its ledger).
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    keeper_path = models.CharField(max_length=255, editable=False, blank=True)
    organization_id_copy = models.IntegerField(null=True, editable=False)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id_copy"
    SCOPE_EXACT = {"storekeeper": "keeper_path"}

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("transfer")


class Entry(models.Model):
    """One posted line of the ledger. Append-only: save() refuses an update, delete() refuses."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        TRANSFER_OUT = "transfer_out", _("Sent")
        TRANSFER_IN = "transfer_in", _("Received from a transfer")
        ISSUE = "issue", _("Issued")
        CONSUME = "consume", _("Consumed")
        WRITE_OFF = "write_off", _("Written off")
        COUNT = "count", _("Stock count difference")

    class Source(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        ALLOCATION = "allocation", _("Allocation from above")
        DONATION = "donation", _("Donation")

    holder = models.ForeignKey(Holder, on_delete=models.PROTECT, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    source = models.CharField(max_length=12, choices=Source.choices, blank=True)
    quantity = models.IntegerField()  # base units, + in / − out
    balance = models.IntegerField()  # on hand after this entry (the running sum)
    at = models.DateTimeField(db_index=True)
    day = models.DateField(db_index=True)  # local day of `at`
    counterpart = models.CharField(max_length=120, blank=True)  # a donor, a supplier, a person, a team
    reason = models.CharField(max_length=200, blank=True)
    task = models.CharField(max_length=40, blank=True)  # "sanitation.round", "duty.shift", "delivery"...
    task_id = models.BigIntegerField(null=True, blank=True)
    transfer = models.ForeignKey(Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    donation = models.ForeignKey(Donation, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    # No database constraint: deleting a user must not rewrite a posted entry (migration 0003
    # makes the table append-only in the database itself).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                   related_name="+")
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    keeper_path = models.CharField(max_length=255, editable=False, blank=True)
    organization_id_copy = models.IntegerField(null=True, editable=False)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id_copy"
    SCOPE_EXACT = {"storekeeper": "keeper_path"}

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("ledger entry")
        indexes = [models.Index(fields=["holder", "item", "at"], name="supplies_entry_stock")]

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise ValueError("ledger entries are append-only: post a correcting entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("ledger entries are never deleted")
