"""Command (M17): headquarters and working groups, meetings whose decisions are followed up,
numbered notices (通告/通知) with two-step receipts, inspections (督导) whose findings are
fixed on the spot or by a deadline, and the state of every entrance (open and guarded /
sealed / emergency only).

Everything of a headquarters carries the HQ's place path (a street or district): its own
staff (commander, coordinator, inspector with a street grant) see it. A receipt carries the
receiving community's path or unit; a finding and an entrance the path of their place, so a
committee sees and answers only its own.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place

USER = settings.AUTH_USER_MODEL


class Headquarters(models.Model):
    """A leading group or an emergency HQ at a street or district (the street's mirrors the district's)."""

    place = models.OneToOneField(Place, on_delete=models.PROTECT, related_name="headquarters")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=120)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    commanders = models.CharField(_("commanders-in-chief"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path"]
        verbose_name = _("headquarters")

    def __str__(self):
        return self.name


class WorkingGroup(models.Model):
    hq = models.ForeignKey(Headquarters, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=80)
    remit = models.CharField(_("remit"), max_length=300, blank=True)
    leader = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    members = models.ManyToManyField(USER, blank=True, related_name="command_groups")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["hq", "id"]
        constraints = [models.UniqueConstraint(fields=["hq", "name"], name="command_group_unique_name")]
        verbose_name = _("working group")

    def __str__(self):
        return self.name


class Meeting(models.Model):
    hq = models.ForeignKey(Headquarters, on_delete=models.PROTECT, related_name="meetings")
    date = models.DateField(_("date"))
    agenda = models.TextField(_("agenda"), blank=True)
    attendees = models.CharField(_("attendees"), max_length=500, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [models.UniqueConstraint(fields=["hq", "date"], name="command_meeting_one_per_day")]
        verbose_name = _("meeting")

    def __str__(self):
        return f"{self.hq} {self.date}"


class Decision(models.Model):
    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("decision", "Open")
        DONE = "done", pgettext_lazy("decision", "Done")
        VERIFIED = "verified", pgettext_lazy("decision", "Verified")

    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="decisions")
    text = models.CharField(_("decision"), max_length=500)
    owner_group = models.ForeignKey(WorkingGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    owner_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    deadline = models.DateField(_("deadline"))
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    version = models.PositiveIntegerField(default=1)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    done_note = models.CharField(max_length=300, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["deadline", "id"]
        verbose_name = _("decision")

    def __str__(self):
        return self.text[:40]

    def owner_label(self) -> str:
        if self.owner_group_id:
            return self.owner_group.name
        return self.owner_user.get_username() if self.owner_user_id else ""


class Notice(models.Model):
    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("Public notice (通告)")
        CIRCULAR = "circular", _("Circular (通知)")

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("notice", "Draft")
        SUBMITTED = "submitted", pgettext_lazy("notice", "Awaiting approval")
        PUBLISHED = "published", pgettext_lazy("notice", "In force")
        SUPERSEDED = "superseded", pgettext_lazy("notice", "Superseded")
        WITHDRAWN = "withdrawn", pgettext_lazy("notice", "Withdrawn")

    hq = models.ForeignKey(Headquarters, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ANNOUNCEMENT)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"))
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    # The serial, given at publication: 〔year〕number号, gapless per issuer (HQ) and year.
    serial_year = models.PositiveSmallIntegerField(null=True, blank=True)
    serial_no = models.PositiveIntegerField(null=True, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    # Scope: the communities (places) and units (organizations) it is sent to; a receipt each.
    places = models.ManyToManyField(Place, blank=True, related_name="+")
    orgs = models.ManyToManyField(Organization, blank=True, related_name="+")
    # Entrances it orders sealed (the sealing is done per entrance, naming this notice).
    entrances = models.ManyToManyField(Place, blank=True, related_name="+", verbose_name=_("entrances to seal"))
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    drafted_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    document_id = models.PositiveBigIntegerField(null=True, blank=True)  # documents.Document (the PDF)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["hq", "serial_year", "serial_no"], name="command_notice_serial_unique"),
            models.CheckConstraint(name="command_notice_serial_when_published",
                                   condition=Q(state__in=["draft", "submitted"]) | Q(serial_no__isnull=False)),
        ]
        verbose_name = _("notice")

    def __str__(self):
        return f"{self.serial} {self.title}" if self.serial_no else self.title

    @property
    def serial(self) -> str:
        return f"〔{self.serial_year}〕{self.serial_no}号" if self.serial_no else ""

    @property
    def editable(self) -> bool:
        return self.state in (self.State.DRAFT, self.State.SUBMITTED)


class SerialCounter(models.Model):
    """The last serial number given per issuer and year: locked while a notice is published,
    so two notices published at once get n and n+1, never the same, never a gap."""

    hq = models.ForeignKey(Headquarters, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hq", "year"], name="command_serial_counter_unique")]


class Receipt(models.Model):
    """One receiving committee (community) or unit of a published notice: read, then carried out."""

    class State(models.TextChoices):
        SENT = "sent", pgettext_lazy("receipt", "Not yet read")
        READ = "read", pgettext_lazy("receipt", "Read")
        DONE = "done", pgettext_lazy("receipt", "Carried out")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="receipts")
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    state = models.CharField(max_length=6, choices=State.choices, default=State.SENT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    done_note = models.CharField(max_length=300, blank=True)
    reminders = models.PositiveSmallIntegerField(default=0)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "org_id"

    class Meta:
        ordering = ["notice", "place_path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "place"], condition=Q(place__isnull=False), name="command_receipt_place"),
            models.UniqueConstraint(fields=["notice", "org"], condition=Q(org__isnull=False), name="command_receipt_org"),
            models.CheckConstraint(name="command_receipt_one_recipient",
                                   condition=Q(place__isnull=False, org__isnull=True) | Q(place__isnull=True, org__isnull=False)),
        ]
        verbose_name = _("receipt")

    def recipient(self) -> str:
        return self.place.name if self.place_id else self.org.name


class InspectionTeam(models.Model):
    hq = models.ForeignKey(Headquarters, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=80)
    members = models.ManyToManyField(USER, blank=True, related_name="inspection_teams")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["hq", "id"]
        constraints = [models.UniqueConstraint(fields=["hq", "name"], name="command_team_unique_name")]
        verbose_name = _("inspection team")

    def __str__(self):
        return self.name


class InspectionPlan(models.Model):
    team = models.ForeignKey(InspectionTeam, on_delete=models.PROTECT, related_name="plans")
    day = models.DateField(_("day"))
    announced = models.BooleanField(_("announced in advance"), default=False)
    focus = models.CharField(_("focus"), max_length=300, blank=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the HQ's
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-day", "team", "id"]
        verbose_name = _("inspection plan")

    def __str__(self):
        return f"{self.team} {self.day}"


class Finding(models.Model):
    """What an inspection found at a place: fixed on the spot (立说立改) or by a deadline, then verified by the team."""

    class Category(models.TextChoices):
        GATE = "gate", _("Entrance not guarded or open")
        CHECK = "check", _("No temperature or pass check")
        REGISTER = "register", _("Register not kept")
        CROWD = "crowd", _("Gathering or crowding")
        MASK = "mask", _("No masks")
        DISINFECT = "disinfect", _("Disinfection not done")
        SUPPLIES = "supplies", _("Supplies missing")
        OTHER = "other", _("Other")

    class Target(models.TextChoices):
        COMPOUND = "compound", _("Compound")
        CLINIC = "clinic", _("Clinic")
        MARKET = "market", _("Market")
        ENTERPRISE = "enterprise", _("Enterprise")
        ROAD = "road", _("Road")

    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("finding", "To be rectified")
        FIXED = "fixed", pgettext_lazy("finding", "Fixed, to verify")
        VERIFIED = "verified", pgettext_lazy("finding", "Verified")

    plan = models.ForeignKey(InspectionPlan, on_delete=models.PROTECT, related_name="findings")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target = models.CharField(_("visited"), max_length=12, choices=Target.choices)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    text = models.CharField(_("what was found"), max_length=500)
    responsible = models.CharField(_("responsible party"), max_length=120)
    fixed_on_spot = models.BooleanField(_("fixed on the spot"), default=False)
    deadline = models.DateField(_("rectify by"), null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, db_index=True)
    version = models.PositiveIntegerField(default=1)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the visited place's
    org_id_scope = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    found_at = models.DateTimeField()
    found_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    fixed_at = models.DateTimeField(null=True, blank=True)
    fixed_note = models.CharField(max_length=300, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)  # offline resend

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "org_id_scope"

    class Meta:
        ordering = ["-found_at", "-id"]
        constraints = [models.CheckConstraint(name="command_finding_deadline_or_fixed",
                                              condition=Q(fixed_on_spot=True) | Q(deadline__isnull=False))]
        verbose_name = _("inspection finding")

    def __str__(self):
        return self.text[:40]


class AccessPoint(models.Model):
    """The state of an entrance (a checkpoint place or a compound's gate) and who set it, when, why."""

    class State(models.TextChoices):
        OPEN = "open", _("Open and guarded")
        SEALED = "sealed", _("Sealed")
        EMERGENCY = "emergency", _("Emergency passage only")

    place = models.OneToOneField(Place, on_delete=models.PROTECT, related_name="access_point")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    version = models.PositiveIntegerField(default=1)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="points")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="points")
    note = models.CharField(max_length=300, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place_path"]
        verbose_name = _("entrance")

    def __str__(self):
        return self.place.name

    def basis(self) -> str:
        if self.notice_id:
            return self.notice.serial or self.notice.title
        if self.decision_id:
            return str(_("decision of %(date)s") % {"date": self.decision.meeting.date})
        return self.note


class PointChange(models.Model):
    """History of an entrance: each sealing, reopening, switch to emergency passage."""

    point = models.ForeignKey(AccessPoint, on_delete=models.CASCADE, related_name="changes")
    from_state = models.CharField(max_length=10)
    to_state = models.CharField(max_length=10)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
