"""`{% load uploads %}{% attachments record %}` (or `kind="document"`): the attachments
panel of a record on its page."""
from django import template

register = template.Library()


@register.inclusion_tag("uploads/_panel.html", takes_context=True)
def attachments(context, owner, kind="photo"):
    from ..views import panel

    return panel(context["request"], owner, kind)
