"""Forms of the resumption pages: they only parse; the actions decide (and name the field)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.inflow.models import Origin

from .models import Enterprise, Priority, StaffRecord


class DateInput(forms.DateInput):
    input_type = "date"


class ApplyForm(forms.Form):
    planned_date = forms.DateField(label=_("Planned restart date"), widget=DateInput)
    headcount = forms.IntegerField(label=_("Staff returning"), min_value=0, max_value=1_000_000, initial=0)
    measures = forms.CharField(label=_("Prevention measures"), widget=forms.Textarea(attrs={"rows": 4}), required=False,
                               max_length=2000)


class RegisterForm(forms.Form):
    name = forms.CharField(label=_("Enterprise name"), max_length=120)
    code = forms.CharField(label=_("Code (e.g. credit code)"), max_length=40)
    place = forms.ModelChoiceField(label=_("Grid or compound"), queryset=None)
    sector = forms.ChoiceField(label=_("Sector"), choices=Enterprise.Sector.choices)
    size = forms.IntegerField(label=_("Employees"), min_value=0, max_value=1_000_000, initial=0)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.ORDINARY)
    pilot = forms.BooleanField(label=_("Pilot"), required=False)
    officer_name = forms.CharField(label=_("Safety officer"), max_length=50, required=False)
    address = forms.CharField(label=pgettext_lazy("enterprise", "Address"), max_length=200, required=False)

    def __init__(self, *args, places, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places
        self.fields["place"].label_from_instance = lambda p: p.label() or p.name


class StaffForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=18)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    origin = forms.ModelChoiceField(label=_("Returned from"), queryset=Origin.objects.all(), required=False)
    return_date = forms.DateField(label=_("Return date"), widget=DateInput, required=False)
    address = forms.CharField(label=_("Home address"), max_length=200, required=False)


class TemperatureForm(forms.Form):
    temperature = forms.CharField(label=_("Temperature (°C)"), max_length=5)


class HealthForm(forms.Form):
    health = forms.ChoiceField(label=_("Health state"), choices=StaffRecord.Health.choices)


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Answer or measure"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
