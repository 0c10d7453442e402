from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .actions import VISITOR_MAX_HOURS
from .models import Override


def _clean_id(value: str) -> str:
    from fangkong.lib.identity import IdentityError, normalize_id

    try:
        return normalize_id(value)
    except IdentityError as exc:
        raise forms.ValidationError(str(exc)) from None


class ResidentPassForm(forms.Form):
    """A resident's pass: the person is found by ID number among the registered persons in scope."""

    id_number = forms.CharField(label=_("ID number"), max_length=30, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=366, initial=30)

    def clean_id_number(self):
        return _clean_id(self.cleaned_data["id_number"])


class PersonPassForm(forms.Form):
    """A resident's pass issued from the person's page: the person is known, no ID is typed."""

    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=366, initial=30)


class VisitorPassForm(forms.Form):
    name = forms.CharField(label=_("Visitor's name"), max_length=50)
    phone = forms.CharField(label=_("Visitor's phone"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    reason = forms.CharField(label=_("Reason of the visit"), max_length=200)
    place = forms.TypedChoiceField(label=_("Valid at"), coerce=int)
    host_address = forms.CharField(label=_("Host household (address)"), max_length=200, required=False)
    hours = forms.IntegerField(label=_("Valid for (hours)"), min_value=1, max_value=VISITOR_MAX_HOURS, initial=4)

    def __init__(self, *args, places=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = [(p.pk, p.label or p.name) for p in places]


class VehiclePassForm(forms.Form):
    plate = forms.CharField(label=_("Plate number"), max_length=20, widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "鲁E12345"}))
    place = forms.TypedChoiceField(label=_("Valid at"), coerce=int)
    owner_id_number = forms.CharField(label=_("Owner's ID number (if registered)"), max_length=30, required=False,
                                      widget=forms.TextInput(attrs={"autocomplete": "off"}))
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=366, initial=30)

    def __init__(self, *args, places=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = [(p.pk, p.label or p.name) for p in places]

    def clean_owner_id_number(self):
        value = self.cleaned_data.get("owner_id_number", "").strip()
        return _clean_id(value) if value else ""


class OverrideForm(forms.Form):
    colour = forms.ChoiceField(label=_("Colour"), choices=Override.Colour.choices)
    hours = forms.IntegerField(label=_("For (hours)"), min_value=1, initial=24)
    reason = forms.CharField(label=_("Reason"), max_length=200)
