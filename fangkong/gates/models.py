"""Gate duty (M6).

A checkpoint is a Place of kind compound or checkpoint. Every person or vehicle checked at
one is a GateEntry, made by the guard's device (online or queued offline) under a client_id
the device chose, so a resend is recognised and stored once. A fever at the gate opens a
visit of the clinic triage (fangkong.clinic, M18); the gates' own triage table, migrated
into it by clinic/0002, was dropped by gates/0004.

On PostgreSQL gates_gateentry is partitioned by month on occurred_at (migration 0005,
fangkong.lib.db.partitions; the worker's daily task gates.tasks.ensure_entry_partitions);
on SQLite it is one table.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.places.models import Place

CHECKPOINT_KINDS = ("compound", "checkpoint")


class GateEntry(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("In")
        OUT = "out", _("Out")

    class Subject(models.TextChoices):
        PERSON = "person", _("Person")
        VEHICLE = "vehicle", _("Vehicle")

    class Decision(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        REFUSED = "refused", _("Refused")

    # Made by the device. Unique with occurred_at (gate_entry_client_time), not alone: on
    # PostgreSQL the table is partitioned by month on occurred_at (migration 0005), and a
    # partitioned table's unique keys must hold the partition key. A resend carries the same
    # device time, so the constraint still catches it; an entry whose clock is suspect
    # (occurred_at = the time it was received) is looked up by client_id first (actions.py):
    # the constraint's index, client_id first, serves that lookup (no index of its own).
    client_id = models.UUIDField()
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="gate_entries")
    place_path = models.CharField(max_length=255, editable=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    subject = models.CharField(max_length=7, choices=Subject.choices, default=Subject.PERSON)
    # What the pass said, as seen at the gate (never a name in clear, never an ID or phone).
    pass_id = models.BigIntegerField(null=True, blank=True)
    pass_kind = models.CharField(max_length=8, blank=True)  # resident / visitor / vehicle
    colour = models.CharField(max_length=6, blank=True)  # green / yellow / red
    masked = models.CharField(max_length=50, blank=True)  # a masked name keeps its length (names: 50)
    plate = models.CharField(max_length=16, blank=True)  # normalized, vehicles only
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    decision = models.CharField(max_length=7, choices=Decision.choices)
    reason_code = models.CharField(max_length=24, blank=True)
    reason_text = models.CharField(max_length=200, blank=True)
    # The server's own check of the pass when the entry arrived ("" = valid); an entry let in
    # offline whose pass the server refuses is flagged for review.
    server_check = models.CharField(max_length=24, blank=True)
    flagged = models.BooleanField(default=False)
    occurred_at = models.DateTimeField()  # device time, sanity-checked
    device_time = models.DateTimeField()  # as sent
    clock_suspect = models.BooleanField(default=False)  # device time was implausible; occurred_at = received_at
    received_at = models.DateTimeField()
    guard = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    offline = models.BooleanField(default=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["place", "occurred_at"], name="gates_entry_place_time"),
            # A subtree and a time range, and a time range. With place, decision and
            # temperature in them, the daily figures (signals.py) are read from an index
            # alone: SQLite takes the first, PostgreSQL the second (bench W7).
            models.Index(fields=["place_path", "occurred_at", "decision", "temperature"], name="gates_entry_path_day"),
            models.Index(fields=["occurred_at", "place_path", "decision", "temperature"], name="gates_entry_time_day"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["client_id", "occurred_at"], name="gate_entry_client_time"),
        ]
        verbose_name = _("gate entry")

    def __str__(self):
        return f"{self.place_id} {self.direction} {self.masked or self.plate} {self.decision}"


class SuspectClock(models.Model):
    """The client id of every entry stored at its receipt time because its device clock was
    implausible (GateEntry.clock_suspect), with the time it was stored under. The gate log's
    unique key (client_id, occurred_at) cannot meet such an entry when the device sends it
    again with the same device time once that time has become plausible; a check-in with a
    plausible time is refused here instead (actions.record_entry: in its one statement on
    PostgreSQL), so that it is stored once. A plain table, not partitioned, keyed by the
    client id alone: a partitioned table's unique keys must hold its partition key. Rows
    leave with their entries' month (the gates' retention rule)."""

    client_id = models.UUIDField(primary_key=True)
    occurred_at = models.DateTimeField()  # the entry's, to find it in its partition

    class Meta:
        verbose_name = _("gate entry with a suspect clock")
