from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.access import places_in_scope

from .models import Questionnaire


class CampaignForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("of a thing", "Name"), max_length=100)
    place = forms.ModelChoiceField(label=_("Area"), queryset=None)
    questionnaire = forms.ModelChoiceField(label=_("Questionnaire"), queryset=Questionnaire.objects.all())
    start_date = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places_in_scope(user, "census.manage").filter(
            kind__in=["district", "street", "community", "grid", "compound"])
        self.fields["questionnaire"].initial = Questionnaire.objects.filter(key="standard").values_list("pk", flat=True).first()
        today = timezone.localdate()
        self.fields["start_date"].initial = today
        self.fields["end_date"].initial = today + dt.timedelta(days=2)
