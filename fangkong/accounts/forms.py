"""Forms of the staff pages."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import membership_roles, role_choices


class TargetField(forms.CharField):
    """A place or an organization named by its code."""

    def clean(self, value):
        from fangkong.places.models import Organization, Place

        code = super().clean(value).strip()
        if not code:
            return None
        target = Place.objects.filter(code=code).first() or Organization.objects.filter(code=code).first()
        if target is None:
            raise forms.ValidationError(_("No place or organization has this code"))
        return target


class GrantForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    target = TargetField(label=_("Place or organization code"), max_length=40)
    starts_on = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, roles=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Any declared role is accepted here: one the user may not grant is refused by the
        # action (403, nothing stored); the list offers only those it may grant.
        self.fields["role"].choices = role_choices()
        self.fields["role"].widget.choices = [(r, l) for r, l in role_choices()
                                              if (roles is None or r in roles) and r not in membership_roles()]


class AccountForm(GrantForm):
    name = forms.CharField(label=_("Name"), max_length=150)
    phone = forms.CharField(label=_("Phone"), max_length=30)
    field_order = ["name", "phone", "role", "target", "starts_on", "ends_on"]


class OnboardForm(forms.Form):
    place = forms.ModelChoiceField(label=_("Place"), queryset=None)
    file = forms.FileField(label=_("Staff list (XLSX or CSV)"))

    def __init__(self, *args, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places


class DelegationForm(forms.Form):
    granter_role = forms.ChoiceField(label=_("Role that grants"))
    roles = forms.MultipleChoiceField(label=_("Roles it may grant"), required=False, widget=forms.CheckboxSelectMultiple)
    restore = forms.BooleanField(label=_("Restore the table in code"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(r, l) for r, l in role_choices() if r != "admin" and r not in membership_roles()]
        self.fields["granter_role"].choices = choices
        self.fields["roles"].choices = choices
