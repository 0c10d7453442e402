from django import forms
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.access import role_choices

from .models import Channel

def staff_role_choices():
    """The roles declared by the apps (with their names), admins and residents aside."""
    return [(r, label) for r, label in role_choices() if r not in ("admin", "resident")]


class ChannelForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("of a thing", "Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Channel type"), choices=Channel.Kind.choices)
    place = forms.ModelChoiceField(label=_("Place"), queryset=None, help_text=_("The channel gets the messages of this place and everything under it"))
    target = forms.CharField(label=_("Webhook URL or e-mail address"), max_length=500)
    secret = forms.CharField(label=_("DingTalk signing secret (optional)"), max_length=200, required=False,
                             widget=forms.PasswordInput(render_value=False))
    kinds = forms.CharField(label=_("Message kinds"), max_length=300, required=False)
    roles = forms.MultipleChoiceField(label=_("Only messages for these roles"), choices=staff_role_choices, required=False,
                                      widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, places, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places
        # The codes are what is typed here, so the example shows them as codes.
        self.fields["kinds"].help_text = format_html(
            _("Codes separated by commas, e.g. {example}; empty: all kinds"),
            example=mark_safe("<code>gate.fever</code>, <code>observation.*</code>"))  # a constant
