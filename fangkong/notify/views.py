"""Notification pages: the user's own inbox (any signed-in user; only their own rows) and
the channels page of those holding notify.manage (channels and failed deliveries)."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangkong.web.forms import submitted
from fangkong.lib.workflow import int_or_none
from fangkong.places.access import authenticated, get_in_scope, places_in_scope, requires, scope
from fangkong.web.lists import page_of

from . import actions
from .forms import ChannelForm
from .models import Channel, Delivery, Recipient

D = Delivery.State


def inbox_queryset(user):
    """The user's own inbox: unread first, newest first."""
    return (Recipient.objects.filter(user=user).select_related("message")
            .order_by(F("read_at").asc(nulls_first=True), "-message__created_at", "-id"))


@authenticated
@require_GET
def inbox(request):
    page = page_of(request, inbox_queryset(request.user))
    return render(request, "notify/inbox.html", {"page": page})


@authenticated
@require_POST
def inbox_read(request):
    """Mark one of the user's messages read (`id`), or all of them (`all`)."""
    if request.POST.get("all"):
        n = actions.mark_all_read(acting_user=request.user)
    else:
        ids = request.POST.getlist("id")
        if not ids or not all(int_or_none(i) is not None for i in ids):
            return HttpResponseBadRequest(_("Choose a message"))
        n = actions.mark_read(acting_user=request.user, recipient_ids=[int_or_none(i) for i in ids])  # not the user's -> 404
    if n:
        messages.success(request, _("Marked as read."))
    return redirect("inbox")


def _channels_page(request, form, status=200):
    channels = scope(Channel.objects.select_related("place"), request.user, "notify.manage")
    failing = (scope(Delivery.objects.select_related("message", "channel"), request.user, "notify.manage")
               .filter(state__in=[D.FAILED, D.DEAD]).order_by("-state", "-created_at")[:100])
    return render(request, "notify/channels.html", {"channels": channels, "failing": failing, "form": form}, status=status)


@requires("notify.manage")
@require_http_methods(["GET", "POST"])
def channels(request):
    places = places_in_scope(request.user, "notify.manage").order_by("path")
    form = ChannelForm(request.POST or None, places=places)
    channel, status = submitted(request, form, lambda d: actions.create_channel(
        acting_user=request.user, name=d["name"], kind=d["kind"], place=d["place"], target=d["target"], secret=d["secret"],
        kinds=d["kinds"], roles=d["roles"]))
    if channel:
        messages.success(request, _("Channel %(name)s created.") % {"name": channel.name})
        return redirect("notify_channels")
    return _channels_page(request, form, status=status)


@requires("notify.manage", obj=Channel)
@require_POST
def channel_active(request, pk: int):
    channel = get_in_scope(Channel.objects.all(), request.user, "notify.manage", pk=pk)
    active = request.POST.get("active") == "1"
    actions.set_channel_active(acting_user=request.user, channel=channel, active=active)
    messages.success(request, _("Channel %(name)s activated.") % {"name": channel.name} if active
                     else _("Channel %(name)s deactivated.") % {"name": channel.name})
    return redirect("notify_channels")


@requires("notify.manage", obj=Delivery)
@require_GET
def delivery_detail(request, pk: int):
    delivery = get_in_scope(Delivery.objects.select_related("message", "channel"), request.user, "notify.manage", pk=pk)
    return render(request, "notify/delivery.html", {"d": delivery, "attempts": delivery.attempt_log.all()})


@requires("notify.manage", obj=Delivery)
@require_POST
def delivery_retry(request, pk: int):
    delivery = get_in_scope(Delivery.objects.all(), request.user, "notify.manage", pk=pk)
    if delivery.state not in (D.DEAD, D.FAILED):
        messages.error(request, _("Only a failed delivery can be retried."))
        return redirect("notify_delivery", pk=delivery.pk)
    actions.retry_delivery(acting_user=request.user, delivery=delivery)
    messages.success(request, _("Delivery queued again."))
    return redirect("notify_delivery", pk=delivery.pk)
