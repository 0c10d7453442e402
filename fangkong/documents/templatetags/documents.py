from django import template

from fangkong.places.access import in_scope

from ..actions import valid_document

register = template.Library()


@register.simple_tag(takes_context=True)
def valid_notice(context, kind, subject):
    """The valid document of `kind` about `subject` if the page's user may see it, else None:
    {% valid_notice "inflow_approval" app as notice %}."""
    request = context.get("request")
    doc = valid_document(kind, subject)
    if doc is None or request is None or not in_scope(doc, request.user, "documents.view"):
        return None
    return doc
