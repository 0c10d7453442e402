"""Matrix objects of passes: a resident pass of a fresh person in compound A1Y (one active
pass per person), and a colour override of that person requested by the committee of A."""
from __future__ import annotations

import itertools

from fangkong.passes.actions import issue_resident_pass, request_override
from fangkong.passes.models import Override, Pass
from tests.cast import add_person

_seq = itertools.count(600)


def resident_pass(cast):
    n = next(_seq)
    person = add_person(cast, f"matrix_pass_{n}", name="通行对象", seq=n, household=cast.hh_a1)
    return issue_resident_pass(acting_user=None, person=person)[0]


def override(cast):
    pass_ = resident_pass(cast)
    return request_override(acting_user=cast.committee_a, colour="green", reason="核酸阴性", hours=24, person=pass_.person)


OBJECTS = {Pass: resident_pass, Override: override}
