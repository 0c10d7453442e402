"""Permissions of the self-declaration beside grid watch (M7) and the credit record (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Grid workers verify declarations and record undeclared risks in their grid; the
    # committee prints its community's QR code, confirms findings (an entry never rests on
    # one person's word) and decides appeals.
    "declarations.view": {"commander", "committee", "grid_worker"},
    "declarations.points": {"committee"},
    "declarations.verify": {"committee", "grid_worker"},
    "declarations.watch": {"committee", "grid_worker"},
    "declarations.confirm": {"committee"},
    # Personal credit record (个人诚信档案).
    "credit.view": {"commander", "committee", "grid_worker"},
    "credit.decide_appeal": {"committee"},
})
