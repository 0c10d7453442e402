"""Disinfection (M12): the targets that must be disinfected (a stairwell, a garbage station,
a bin, a public toilet, a gatehouse, a room...), and the rounds due on them.

* Target — belongs to a building or a compound (the tree has no stairwell level): its kind,
  a label (3号楼2单元楼道), a frequency (every N days, N times a day), a key-area flag and
  the unguessable code its printed QR sheet carries. Special targets: the whole building
  (or compound) and its surroundings, sprayed after a case (no schedule, every_days = 0),
  and an isolated household's waste (collected daily while the household is under home
  observation).
* Round — one time a target must be disinfected: scheduled from the frequency (one per
  slot of a due day), triggered by a case (due within hours), or a waste collection. Due →
  done, once: who, when, the agent and amount used (posted to the supplies ledger).
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Place


def new_code() -> str:
    return secrets.token_urlsafe(9)


class Target(models.Model):
    class Kind(models.TextChoices):
        STAIRWELL = "stairwell", _("Stairwell")
        GARBAGE_STATION = "garbage_station", _("Garbage station")
        BIN = "bin", _("Garbage bin")
        TOILET = "toilet", _("Public toilet")
        GATEHOUSE = "gatehouse", _("Gatehouse")
        DUTY_ROOM = "duty_room", _("Duty room")
        OFFICE = "office", _("Office")
        MEETING_ROOM = "meeting_room", _("Meeting room")
        CASE_AREA = "case_area", _("Building and surroundings")
        ISOLATION_WASTE = "isolation_waste", _("Isolated household's waste")
        OTHER = "other", _("Other")

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    compound = models.ForeignKey(Place, null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    label = models.CharField(_("label"), max_length=120)
    every_days = models.PositiveSmallIntegerField(_("every N days"), default=1)  # 0: on demand only
    times_a_day = models.PositiveSmallIntegerField(_("times a day"), default=1)
    key_area = models.BooleanField(_("key area"), default=False)
    household_id = models.IntegerField(null=True, blank=True, editable=False)  # isolation waste: the household
    code = models.CharField(max_length=20, unique=True, default=new_code, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path", "kind", "label", "id"]
        verbose_name = _("disinfection target")
        constraints = [
            models.CheckConstraint(name="disinfection_target_times", condition=models.Q(times_a_day__gte=1, times_a_day__lte=12)),
            models.CheckConstraint(name="disinfection_target_every", condition=models.Q(every_days__lte=30)),
            models.UniqueConstraint(fields=["place", "kind", "label"], name="disinfection_target_unique"),
        ]

    def __str__(self):
        return self.label


class Round(models.Model):
    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CASE = "case", _("After a case")
        WASTE = "waste", _("Isolation waste")

    class State(models.TextChoices):
        DUE = "due", pgettext_lazy("a round", "Due")
        DONE = "done", pgettext_lazy("a round", "Done")

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="rounds")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SCHEDULED)
    day = models.DateField(db_index=True)
    slot = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.DUE, db_index=True)
    version = models.PositiveIntegerField(default=1)
    reason = models.CharField(max_length=200, blank=True)
    # A case round: what triggered it ("gate.fever:clinic.visit:12:<place id>"): one round per case and place.
    source_key = models.CharField(max_length=120, unique=True, null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    device_at = models.DateTimeField(null=True, blank=True)
    offline = models.BooleanField(default=False)
    client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    agent = models.ForeignKey("supplies.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveIntegerField(null=True, blank=True)  # base units of the agent
    entry_id = models.BigIntegerField(null=True, blank=True)  # the supplies ledger's entry
    note = models.CharField(max_length=200, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    compound_id_copy = models.IntegerField(null=True, editable=False)
    key_area = models.BooleanField(default=False, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("disinfection round")
        constraints = [
            models.UniqueConstraint(fields=["target", "day", "slot"], condition=models.Q(source_key__isnull=True),
                                    name="disinfection_round_slot"),
            models.CheckConstraint(name="disinfection_round_done",
                                   condition=models.Q(state="due") | models.Q(done_at__isnull=False)),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="disinfection_round_due")]

    def __str__(self):
        return f"{self.target.label} {self.day}"
