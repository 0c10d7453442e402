"""Sign-in refusals answered first: a POST to the sign-in page that the limits refuse
(accounts.actions.refusal: one cache read) gets its 429 before sessions, CSRF, the user
and the page's template cost anything, so that a flood of refused attempts costs the
server as little as possible and everyone else keeps being served (bench W10)."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from fangkong.audit.actions import reset_context, set_context
from fangkong.lib import throttle

from . import actions


_pages: dict[tuple, bytes] = {}  # (language, message) -> the rendered page


def refused_page(exc: actions.LockedOut) -> bytes:
    """The refusal page in the active language (rendered once per language and message)."""
    if exc.busy:
        message = _("Many people are signing in right now. Please try again in a moment.")
    else:
        minutes = max(1, -(-exc.retry_after // 60))
        message = _("Too many failed sign-ins. Try again in %(m)d minutes.") % {"m": minutes}
    key = (translation.get_language(), message)
    body = _pages.get(key)
    if body is None:
        if len(_pages) > 200:
            _pages.clear()
        body = _pages[key] = render_to_string("accounts/refused.html", {"message": message}).encode()
    return body


def refused_response(request, exc: actions.LockedOut) -> HttpResponse:
    resp = HttpResponse(refused_page(exc), status=429)
    resp["Retry-After"] = str(exc.retry_after)
    resp["Cache-Control"] = "no-store"
    resp._has_been_logged = True  # not a log line per refusal (Django's request log): audited once per window
    return resp


class SignInGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.path = None

    def __call__(self, request):
        if request.method == "POST":
            if self.path is None:
                self.path = reverse("login")
            if request.path == self.path:
                if throttle.slot_full(actions.HASH_SLOT, settings.LOGIN_HASH_CONCURRENCY):
                    refused = actions.LockedOut(1, busy=True)  # it would wait for a hash in vain
                else:
                    token = set_context(ip=throttle.client_address(request))
                    try:
                        refused = actions.refusal(request=request, username=request.POST.get("username", ""))
                    finally:
                        reset_context(token)
                if refused is not None:
                    with translation.override(translation.get_language_from_request(request)):
                        return refused_response(request, refused)
        return self.get_response(request)
