"""Door-to-door census (M3, 入户摸排): campaigns over a part of the tree, a configurable
questionnaire, visits of households by grid workers with the answers of each member
present, and follow-ups for answers that signal risk.

Counting follows the seeds: household-visits (户次) are Visit rows (a household visited
twice counts twice); person-visits (人次) are the members who answered in those visits
(`Visit.persons`). Coverage counts households reached at least once.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Place
from fangkong.residents.models import Household, Person


class Questionnaire(models.Model):
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    # The standard questionnaire of seed 003 ships with the data migration (key "standard").
    key = models.CharField(max_length=40, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Question(models.Model):
    class Kind(models.TextChoices):
        YESNO = "yesno", _("Yes / no")
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        TEMPERATURE = "temperature", _("Temperature")

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=40)
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    required = models.BooleanField(_("required"), default=True)
    choices = models.JSONField(default=list, blank=True)  # single/multiple: the allowed values
    # The rule that makes an answer a risk: for yes/no and choices, the values that signal
    # risk ("yes", or choice values); for number and temperature, a threshold (>=).
    risk_values = models.JSONField(default=list, blank=True)
    risk_at_least = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)

    class Meta:
        ordering = ["questionnaire", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["questionnaire", "key"], name="census_question_unique_key")]

    def __str__(self):
        return self.text


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", pgettext_lazy("census", "Running")
        CLOSED = "closed", pgettext_lazy("census", "Closed")

    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="campaigns")
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    state = models.CharField(max_length=8, choices=State.choices, default=State.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-start_date", "-id"]

    def __str__(self):
        return self.name


class Visit(models.Model):
    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached")
        NOBODY = "nobody_home", _("Nobody home")
        REFUSED = "refused", pgettext_lazy("census", "Refused")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="visits")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="census_visits")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the household's place
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    visited_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    persons = models.PositiveSmallIntegerField(default=0)  # members who answered: the visit's 人次
    note = models.CharField(_("note"), max_length=300, blank=True)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-visited_at", "-id"]
        indexes = [models.Index(fields=["campaign", "household"], name="census_visit_camp_hh")]


class Answer(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="answers")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=300, blank=True)  # normalized; multiple choice: values joined by ","
    risk = models.BooleanField(default=False)

    class Meta:
        ordering = ["visit", "person", "question__order"]
        constraints = [models.UniqueConstraint(fields=["visit", "person", "question"], name="census_answer_once")]


class FollowUp(models.Model):
    """A person whose answers signal risk, for the grid to follow up (one per visit and person)."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="followups")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="followups")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the household's grid place
    reason = models.CharField(_("reason"), max_length=500)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN, db_index=True)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    done_note = models.CharField(_("note"), max_length=300, blank=True)
    # The proposal taken: the control measure started for the person from this follow-up.
    observation = models.ForeignKey("observation.Observation", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["state", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["visit", "person"], name="census_followup_once")]
