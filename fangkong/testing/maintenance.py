"""Monthly partitions of the testing registrations (PostgreSQL). testing_registration is
partitioned by month on `round_created` (its round's creation time; migration 0003,
fangkong.lib.db.partitions): a round's registrations all live in the partition of the
month its round was made. On SQLite it is one table and these do nothing.

Registrations are not append-only (a conflict is flagged, a recall is unset, a round or a
person deleted takes its registrations along), so the rows waiting in the DEFAULT partition
are moved into their month's new partition in the helper's plain transaction (no
maintenance context as for the audit trail).

`detach_old` never detaches the month of a round not closed yet, nor a later one: a round
still taking registrations keeps all of them (its coverage, its one-registration-per-person
key and its resends read them)."""
from fangkong.lib.db.partitions import Monthly, month_start


def _oldest_open_round(using: str):
    """The month of the oldest round not closed yet (None: every round is closed)."""
    from .models import Round

    made = (Round.objects.using(using).exclude(state=Round.State.CLOSED).order_by("created_at")
            .values_list("created_at", flat=True).first())
    return None if made is None else month_start(made)


REGISTRATIONS = Monthly("testing_registration", "round_created", months_ahead=2, keep_from=_oldest_open_round)
ensure_partitions, detach_old = REGISTRATIONS.ensure_partitions, REGISTRATIONS.detach_old
