"""The background worker's queue (Huey), as operators see it."""


def queue_depth() -> int:
    """Tasks waiting in the queue (enqueued, not yet taken by a worker)."""
    from huey.contrib.djhuey import HUEY

    return HUEY.pending_count()
