"""What pages share when they run a named action: its refusals (`Invalid`, `Conflict`)
become the form's errors or the page's messages, and the status of the re-rendered page
(400 for bad input, 409 for a conflict)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.utils.translation import gettext_noop

from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import get_in_scope, requires

# Django's forms end every label with gettext(":") (Form.label_suffix); its own Chinese
# catalogue leaves it ASCII. Marked here so that makemessages keeps it in the project's
# catalogue, which gives the full-width colon (tests/test_page_words.py).
LABEL_SUFFIX = gettext_noop(":")


@dataclass
class Refused:
    """An action's refusal: the status for the page, Invalid's {field: message} (empty
    for a conflict) and Conflict's reason (empty for bad input)."""

    status: int
    errors: dict = field(default_factory=dict)
    reason: str = ""

    @property
    def messages(self) -> list[str]:
        return [self.reason] if self.reason else [str(m) for m in self.errors.values()]


def attempt(fn, *, form=None, request=None, keep_errors: bool = False):
    """Call the action `fn()`: (its result, None), or (None, Refused) when it refused.

    With a `form`, each of Invalid's messages goes on its field of the form (on the form's
    non-field errors when the form has no such field; a field the form itself found in
    error keeps that message) and a conflict's reason on the non-field errors. Without a
    form, with a `request`, the messages become page messages (Invalid's too, unless
    `keep_errors`: the caller shows them beside its fields)."""
    try:
        return fn(), None
    except Invalid as exc:
        refused = Refused(400, errors=exc.errors)
    except Conflict as exc:
        refused = Refused(409, reason=str(exc))
    if form is not None:
        for key, message in ({None: refused.reason} if refused.reason else refused.errors).items():
            key = key if key in form.fields else None
            if key is None or key not in form.errors:  # a field in error keeps the form's own message
                form.add_error(key, message)
    elif request is not None and not (keep_errors and refused.errors):
        for message in refused.messages:
            messages.error(request, message)
    return None, refused


def submitted(request, form, fn):
    """A form page: on POST the form is validated, then the action `fn(cleaned data)` runs
    through `attempt` (its refusal on the form). (result, None) when the action was taken,
    else (None, the status of the page to show): 200 for a GET, 400 for bad input, 409 for
    a conflict."""
    if request.method != "POST":
        return None, 200
    if not form.is_valid():
        return None, 400
    result, refused = attempt(lambda: fn(form.cleaned_data), form=form)
    return (None, refused.status) if refused else (result, None)


def transition_pages(table: dict, queryset, prefix: str, *, take, done, refused, keep_errors: bool = False,
                     decorators=()) -> dict:
    """One POST page view per transition of `table` (name → view, each named
    `<prefix>_<name>`): it needs the transition's permission over the object its pk
    names (404 outside the user's scope, as the access module decides), runs the action
    `take(request, obj, name)` through `attempt`, and answers `done(request, result, name,
    transition)`, or on a refusal `refused(request, obj, Refused)` (its messages already
    on the page; Invalid's kept for the page itself with `keep_errors`). `decorators` wrap
    the view inside the access markers (e.g. never_cache)."""
    from django.views.decorators.http import require_POST

    def make(name, t):
        def view(request, pk: int):
            obj = get_in_scope(queryset, request.user, t.perm, pk=pk)
            result, refusal = attempt(lambda: take(request, obj, name), request=request, keep_errors=keep_errors)
            return refused(request, obj, refusal) if refusal else done(request, result, name, t)

        view.__name__ = f"{prefix}_{name}"
        for decorator in reversed(decorators):
            view = decorator(view)
        return requires(t.perm, obj=queryset.model)(require_POST(view))

    return {name: make(name, t) for name, t in table.items()}


def transition_urls(views: dict, route: str, name: str, *, dashes: bool = False) -> list:
    """The URL of each page transition_pages made: `route` and `name` are patterns with {}
    for the transition's name ("<int:pk>/{}/", "census_{}"; dashes: "request-info" in the
    route for "request_info")."""
    from django.urls import path

    return [path(route.format(n.replace("_", "-") if dashes else n), view, name=name.format(n)) for n, view in views.items()]
