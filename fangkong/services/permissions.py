"""Roles and permissions of resident services (M13), hardship assistance (M14) and the
hotline (M15) (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={"duty_officer": _("Duty officer")},
    perms={
        # The services board of a place (oversight), and requests made on a resident's behalf.
        "services.view": {"commander", "coordinator", "committee", "grid_worker", "duty_officer"},
        "services.request": {"committee", "grid_worker", "duty_officer"},
        # Assign to an account, cancel, waive a payment.
        "services.manage": {"committee"},
        # Take and carry out tasks: a volunteer sees the open requests of its area and its own tasks.
        "services.deliver": {"volunteer", "committee", "grid_worker"},
        # Group orders (接龙), distribution points and rounds.
        "services.orders": {"committee"},
        "services.order_add": {"committee", "grid_worker"},
        "services.handover": {"volunteer", "committee"},
        # The hardship register: sensitive (the committee; a pairing partner sees its own cases).
        "services.hardship": {"committee"},
        # The hotline: the duty officers answer and own calls; the reference list.
        "services.hotline": {"duty_officer"},
        "services.hotline_view": {"commander", "coordinator"},
        "services.reference": {"duty_officer", "coordinator"},
    },
    # The hotline's reference list shows the command module's notices in force. The hotline's
    # rota is the duty module's shifts: a duty officer sees its own and checks in and out there.
    extend={"command.in_force": {"duty_officer"}, "duty.self": {"duty_officer"}},
)
