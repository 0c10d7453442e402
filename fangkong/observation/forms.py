from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SYMPTOMS, Observation


class PersonStartForm(forms.Form):
    """Start a measure from the person's page: the person is known, no ID is typed."""

    kind = forms.ChoiceField(label=_("Control measure"), choices=Observation.Kind.choices)
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=60, initial=14)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class StartForm(forms.Form):
    """Start a measure for a registered person, found by ID number (validated here)."""

    id_number = forms.CharField(label=_("ID number"), max_length=30)
    kind = forms.ChoiceField(label=_("Control measure"), choices=Observation.Kind.choices)
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=60, initial=14)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update(autocomplete="off")

    def clean_id_number(self):
        from fangkong.lib.identity import IdentityError, normalize_id

        try:
            return normalize_id(self.cleaned_data["id_number"])
        except IdentityError as exc:
            raise forms.ValidationError(str(exc)) from None


class ReportForm(forms.Form):
    temperature = forms.CharField(label=_("Temperature (°C)"), max_length=8,
                                  widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                                                "placeholder": "36.5"}))
    symptoms = forms.MultipleChoiceField(label=_("Symptoms"), choices=SYMPTOMS, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)


class StaffReportForm(ReportForm):
    source = forms.ChoiceField(label=_("How"), choices=[("staff", _("Measured by staff")), ("video", _("After a video check"))])


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("supplies", _("Supplies")), ("medicine", _("Medicine"))])
    text = forms.CharField(label=_("What is needed"), max_length=300)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)
