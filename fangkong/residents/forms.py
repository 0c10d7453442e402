from django import forms
from django.utils.translation import gettext_lazy as _

from .models import TAGS, Household
from .validation import validate_person


class PersonForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=30, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", _("From the ID number")), ("M", _("Male")), ("F", _("Female"))])
    birth_date = forms.CharField(label=_("Birth date"), required=False, help_text=_("Taken from the ID number when empty"))
    household = forms.ModelChoiceField(label=_("Household"), queryset=Household.objects.none(), required=False)
    tags = forms.MultipleChoiceField(label=_("Tags"), choices=TAGS, required=False, widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=500)

    def __init__(self, *args, households=None, current_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        # When editing, the stored ID stands in for an empty ID field, so sex and birth
        # date are still checked against it.
        self.current_id = current_id
        editing = self.editing = current_id is not None
        if households is not None:
            self.fields["household"].queryset = households
        if editing:
            self.fields["id_number"].help_text = _("Leave empty to keep the current number")
            self.fields["phone"].help_text = _("Leave empty to keep the current number")
        else:
            self.fields["id_number"].required = True
            self.fields["household"].required = True

    def clean(self):
        data = super().clean()
        raw = {k: data.get(k) for k in ("name", "sex", "birth_date", "tags", "note")}
        raw["id_number"] = data.get("id_number") or (self.current_id if self.editing else "")
        if data.get("phone") or not self.editing:
            raw["phone"] = data.get("phone", "")
        clean, errors = validate_person(raw, partial=self.editing)
        for field, message in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        self.person_fields = clean
        return data


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["place", "address", "tenure"]

    def __init__(self, *args, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        if places is not None:
            self.fields["place"].queryset = places
        self.fields["place"].label_from_instance = lambda p: f"{p.get_kind_display()} · {p.name}"

    def clean_address(self):
        address = self.cleaned_data["address"].strip()
        if not address:
            raise forms.ValidationError(_("Address is required"))
        return address

    def clean(self):
        data = super().clean()
        place, address = data.get("place"), data.get("address")
        if place and address:
            clash = Household.objects.filter(place=place, address=address)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("address", _("A household with this address already exists here"))
        return data

    def validate_unique(self):
        pass  # checked in clean() with a clear message on the address field


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("File (CSV or XLSX)"))
    place = forms.ModelChoiceField(label=_("Default place for rows without a grid"), queryset=None)

    def __init__(self, *args, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places
        self.fields["place"].label_from_instance = lambda p: f"{p.get_kind_display()} · {p.name}"
