"""Pages of the documents app: a document's page and its PDF (scoped like its subject),
revocation, and the public verify page the QR code points to (/v/<code>/)."""
from __future__ import annotations

from django.contrib import messages
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.actions import record
from fangkong.lib import throttle
from fangkong.web.forms import attempt
from fangkong.places.access import get_in_scope, in_scope, may, public, requires

from . import actions
from .models import Document
from .pdf import FontMissing, cached_pdf

# The public verify page: lookups of unknown codes are limited per client address
# (settings.VERIFY_MISS_RATE, in the shared cache; the codes are 192-bit random, so this
# only keeps scanners from hammering the database).


@requires("documents.view", obj=Document)
@require_GET
def detail(request, pk: int):
    doc = get_in_scope(Document.objects.all(), request.user, "documents.view", pk=pk)
    record(request.user, "documents.view", obj=doc, detail={"serial": doc.serial})
    can_revoke = doc.valid and may(request.user, "documents.revoke", doc)
    return render(request, "documents/detail.html", {"doc": doc, "can_revoke": can_revoke})


@requires("documents.view", obj=Document)
@require_GET
def pdf(request, pk: int):
    doc = get_in_scope(Document.objects.all(), request.user, "documents.view", pk=pk)
    try:
        data = cached_pdf(doc)
    except FontMissing as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    record(request.user, "documents.download", obj=doc, detail={"serial": doc.serial})
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="{doc.serial}.pdf"'
    resp["Cache-Control"] = "no-store"
    return resp


@requires("documents.revoke", obj=Document)
@require_POST
def revoke(request, pk: int):
    doc = get_in_scope(Document.objects.all(), request.user, "documents.revoke", pk=pk)
    revoked, refused = attempt(lambda: actions.revoke(acting_user=request.user, document=doc,
                                                      reason=request.POST.get("reason", "")), request=request)
    if not refused:
        messages.success(request, _("%(serial)s has been revoked.") % {"serial": revoked.serial})
        return redirect("document_detail", pk=revoked.pk)
    if not in_scope(doc, request.user, "documents.view"):
        return HttpResponse(status=refused.status)
    return render(request, "documents/detail.html", {"doc": doc, "can_revoke": doc.valid}, status=refused.status)


@public("verify page of a document's QR code: shows only kind, serial, date, masked name, issuer, validity")
@require_GET
def verify(request, code: str):
    limit, window = settings.VERIFY_MISS_RATE
    key = "documents:verify-miss:" + throttle.digest(throttle.client_address(request))
    wait = throttle.over(key, limit, window)
    if wait is not None:
        resp = render(request, "documents/verify.html", {"doc": None, "limited": True}, status=429)
        resp["Retry-After"] = str(wait)
        return resp
    doc = Document.objects.filter(code=code).first() if 16 <= len(code) <= 64 else None
    if doc is None or not doc.content_intact():
        throttle.count(key, window)
        return render(request, "documents/verify.html", {"doc": None}, status=404)
    record(None, "documents.verify", obj=doc, detail={"serial": doc.serial, "valid": doc.valid})
    return render(request, "documents/verify.html", {"doc": doc})


# The verify route names its document by the code in the URL; the access-matrix test reads
# this to build the URL of its document (tests/matrix/documents.py).
verify.fk_object = Document
