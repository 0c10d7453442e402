"""Matrix objects of gates: none (the routes of the gates name no object; a fever's triage
is the clinic app's, tests/matrix/clinic.py)."""
OBJECTS: dict = {}
