from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.places.models import Place

from fangkong.residents.validation import validate_person

from .models import Measure, Origin, Risk


class _ReturnForm(forms.Form):
    """Where and how a person returns: what the staff's form and the person's own share."""

    origin = forms.ModelChoiceField(label=_("Coming from"), queryset=Origin.objects.all())
    place = forms.ModelChoiceField(label=_("Destination grid or compound"), queryset=Place.objects.none())
    address = forms.CharField(label=_("Household address"), max_length=200)
    purpose = forms.CharField(label=_("Purpose"), max_length=200, required=False)
    transport = forms.CharField(label=_("Transport"), max_length=100, required=False)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places if places is not None else Place.objects.none()
        self.fields["place"].label_from_instance = lambda p: p.label
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)


class ApplyForm(_ReturnForm):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=30)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    field_order = ["name", "id_number", "phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update(autocomplete="off", inputmode="text")
        self.fields["phone"].widget.attrs.update(autocomplete="off", inputmode="tel")

    def clean(self):
        # The registry's own validation, so every field's error shows at once (the action
        # validates again and stays the authority).
        data = super().clean()
        _clean, errors = validate_person({k: self.data.get(k, "") for k in ("name", "id_number", "phone")})
        for field, message in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return data


class DecisionForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class TravelForm(forms.Form):
    planned_arrival = forms.DateField(label=_("Planned arrival"), widget=forms.DateInput(attrs={"type": "date"}))


class ArrivalForm(forms.Form):
    temperature = forms.DecimalField(label=_("Temperature (°C)"), max_digits=3, decimal_places=1,
                                     widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}))
    healthy = forms.TypedChoiceField(label=_("Health check"), coerce=lambda v: v == "1",
                                     choices=[("1", _("Normal")), ("0", _("Abnormal"))], widget=forms.RadioSelect)


class StatsForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        a, b = data.get("date_from"), data.get("date_to")
        if a and b and a > b:
            self.add_error("date_to", _("The end date is before the start date"))
        elif a and b and (b - a).days > 366:
            self.add_error("date_to", _("Choose at most one year"))
        return data


class OriginForm(forms.Form):
    name = forms.CharField(label=_("Origin"), max_length=60)
    risk = forms.ChoiceField(label=_("Risk level"), choices=Risk.choices)


class OriginRiskForm(forms.Form):
    risk = forms.ChoiceField(label=_("Risk level"), choices=Risk.choices)


class MeasurePolicyForm(forms.Form):
    measure = forms.ChoiceField(label=_("Control measure"), choices=Measure.choices)
    days = forms.IntegerField(label=_("Days"), min_value=0, max_value=60,
                              widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class ResidentApplyForm(_ReturnForm):
    """The person's own application (personal link): nothing of the person is re-entered;
    the destination is the registered household unless they choose another."""

    planned_arrival = forms.DateField(label=_("Planned arrival"), widget=forms.DateInput(attrs={"type": "date"}))
    field_order = ["origin", "place", "address", "planned_arrival"]

    def clean_planned_arrival(self):
        # The action checks it again and stays the authority; here so it shows with the rest.
        from django.utils import timezone

        day = self.cleaned_data["planned_arrival"]
        if day < timezone.localdate():
            raise forms.ValidationError(_("The planned arrival date is in the past"))
        return day
