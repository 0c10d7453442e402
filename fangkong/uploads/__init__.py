"""Private uploads: photos and documents attached to the records of other modules
(owners.py: how a module makes its records attachable; actions.py: the writes; models.py:
how the files are stored and deleted)."""
from .owners import register_owner  # noqa: F401
