"""Jurisdiction tree (M1) and organizations attached to places.

The tree uses a materialized path: every place stores `path`, the ids of its ancestors and
itself as fixed-width base-36 segments ("0000a/0000z/"). A subtree is one indexed prefix
query (`path__under`, see lookups.py), which both SQLite and PostgreSQL answer from the
index (SQLite's LIKE, behind `__startswith`, cannot use it).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

SEGMENT = 6  # base-36 digits per level: 2 billion ids per level


def segment(pk: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    n = pk
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(SEGMENT, "0") + "/"


class Place(models.Model):
    class Kind(models.TextChoices):
        DISTRICT = "district", _("District")
        STREET = "street", _("Street")
        COMMUNITY = "community", _("Community")
        GRID = "grid", _("Grid")
        COMPOUND = "compound", _("Compound")
        BUILDING = "building", _("Building")
        CHECKPOINT = "checkpoint", _("Checkpoint")

    # A child's kind must come after its parent's kind in this order.
    ORDER = ["district", "street", "community", "grid", "compound", "building", "checkpoint"]

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    code = models.CharField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    SCOPE_PATH = "path"

    class Meta:
        ordering = ["path"]
        verbose_name = _("place")

    def __str__(self):
        return self.name

    def ancestors(self):
        ids = [int(seg, 36) for seg in self.path.strip("/").split("/") if seg]
        by_id = Place.objects.in_bulk(ids)
        return [by_id[i] for i in ids if i in by_id]

    def label(self) -> str:
        """Full name from the community down, e.g. 东城社区 / 第3网格."""
        return " / ".join(p.name for p in self.ancestors() if p.kind not in ("district", "street"))


class Organization(models.Model):
    class Kind(models.TextChoices):
        EMPLOYER = "employer", _("Employer unit")
        ENTERPRISE = "enterprise", _("Enterprise")
        STATION = "station", _("Station")
        SITE = "site", _("Site")
        CLINIC = "clinic", _("Clinic")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=120)
    code = models.CharField(_("code"), max_length=40, unique=True)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="organizations")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "id"

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")

    def __str__(self):
        return self.name


def role_choices():
    from .access import role_choices as choices

    return choices()


class Grant(models.Model):
    """A role over a scope: a place subtree, an organization, or (admin only) everything.

    It lives beside the access module that reads it (access.py), so that access depends on
    no other app. Roles are declared by the apps (access.declare); the field's choices are
    read from that table when asked, so a module adding a role needs no migration."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(_("role"), max_length=20, choices=role_choices)
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Optional dates (accounts.actions.grant_role): outside them the grant is kept inactive
    # by accounts.tasks.apply_grant_dates; revoked_at marks a grant revoked for good.
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_grant"  # the table it has had since it lived in accounts
        constraints = [
            models.CheckConstraint(
                name="grant_scope_shape",
                condition=(
                    Q(role="admin", place__isnull=True, organization__isnull=True)
                    | (~Q(role="admin") & Q(place__isnull=False, organization__isnull=True))
                    | (~Q(role="admin") & Q(place__isnull=True, organization__isnull=False))
                ),
            )
        ]

    def __str__(self):
        target = self.place or self.organization or "*"
        return f"{self.user} {self.role}@{target}"


class AuthVersion(models.Model):
    """One row: a random number that the database itself changes (triggers, installed after
    every migrate by places.access.install_auth_triggers) on every write to what the
    signed-in user is read from (the user, its grants, the places they name, and the tables
    of the roles held by membership). The session is read with it in one statement, so each
    process may keep a user read before as long as the number has not changed
    (places.access.user_with_grants). Random, not a counter: a transaction rolled back
    leaves no number that a later change could give again."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    n = models.BigIntegerField()
