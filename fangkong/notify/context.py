from fangkong.places.access import has_perm


def inbox(request):
    """The unread count for the header's inbox link, and whether to show the channels link."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .actions import unread_count

    return {"inbox_unread": unread_count(user), "can_notify_manage": has_perm(user, "notify.manage")}
