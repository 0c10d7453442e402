"""Pages of private uploads: the one route that serves a file (after checking its owner),
the generic upload and remove endpoints, and the panel a module's page embeds with
`{% load uploads %}{% attachments record %}` (its list of thumbnails and, for those who
may attach, a camera-ready upload form with a progress bar)."""
from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from fangkong.audit.actions import record
from fangkong.web.forms import attempt
from fangkong.places.access import requires

from . import actions, queries
from .models import Attachment, private_storage
from .owners import owner_key

PARTIAL_HEADER = "X-Fangkong-Partial"  # sent by uploads.js: answer with the panel alone


def file_response(att: Attachment, thumb: bool = False) -> FileResponse:
    """The stored file (or its thumbnail) as a private download: inline for images,
    as an attachment otherwise, never cached, never sniffed."""
    name = att.thumb_name if thumb and att.thumb_name else att.storage_name
    try:
        fh = private_storage().open(name, "rb")
    except FileNotFoundError:
        raise Http404 from None
    resp = FileResponse(fh, content_type=att.content_type, as_attachment=not att.is_image, filename=att.name)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    resp["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


def serve_attachment(request, pk):
    """Shared by the page route and the API operation."""
    att, _owner = queries.attachment_for(request.user, pk)
    thumb = request.GET.get("thumb") == "1"
    if not thumb:  # a page of thumbnails is one audit event (its page's), each opened file one
        record(request.user, "uploads.view", obj=att, detail={"owner": att.owner_type, "owner_id": att.owner_id})
    return file_response(att, thumb)


@requires("uploads.view", obj=Attachment)
@require_GET
def serve(request, pk: int):
    return serve_attachment(request, pk)


def panel(request, owner, kind: str = Attachment.Kind.PHOTO, error: str = "", next_url: str = "") -> dict:
    """The context of the attachments panel of one record."""
    return {"owner": owner, "owner_type": owner_key(owner), "items": list(queries.of(owner)), "kind": kind,
            "can_attach": queries.can_attach(request.user, owner), "error": error,
            "next": next_url or request.get_full_path()}


def _safe_next(request) -> str:
    url = request.POST.get("next", "")
    return url if url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()) else "/"


def _answer(request, owner, status: int = 200, error: str = ""):
    """After an upload or removal: the panel (uploads.js), else back to the record's page,
    or a short page naming the problem."""
    kind = request.POST.get("kind") if request.POST.get("kind") in Attachment.Kind.values else Attachment.Kind.PHOTO
    if request.headers.get(PARTIAL_HEADER) == "1":
        return render(request, "uploads/_panel.html", panel(request, owner, kind, error, _safe_next(request)), status=status)
    if status != 200:
        return render(request, "uploads/problem.html", {"error": error, "next": _safe_next(request)}, status=status)
    return redirect(_safe_next(request))


@requires("uploads.attach")
@require_POST
def upload(request):
    """Form fields: owner_type ("app_label.model"), owner_id, kind (photo|document), file, next."""
    owner, refused = attempt(lambda: queries.owner_for(request.user, request.POST.get("owner_type"),
                                                       request.POST.get("owner_id"), "attach"))
    if refused:
        return render(request, "uploads/problem.html", {"error": " ".join(refused.messages), "next": _safe_next(request)},
                      status=400)
    _done, refused = attempt(lambda: actions.attach(acting_user=request.user, owner=owner, file=request.FILES.get("file"),
                                                    kind=request.POST.get("kind", Attachment.Kind.PHOTO)))
    return _answer(request, owner, *((refused.status, " ".join(refused.messages)) if refused else ()))


@requires("uploads.attach", obj=Attachment)
@require_POST
def remove(request, pk: int):
    att, owner = queries.attachment_for(request.user, pk, "attach")
    _done, refused = attempt(lambda: actions.detach(acting_user=request.user, attachment=att, owner=owner))
    return _answer(request, owner, *((refused.status, " ".join(refused.messages)) if refused else ()))
