"""Matrix objects of observation: a person under home observation in compound A1Y (a fresh
person each time, since a person has one running observation), and a site in compound A1Y."""
from __future__ import annotations

import itertools
import uuid

from fangkong.observation.actions import start
from fangkong.places.actions import create_organization
from fangkong.places.models import Organization
from fangkong.observation.models import Observation
from tests.cast import add_person

_seq = itertools.count(700)


def observation(cast):
    n = next(_seq)
    person = add_person(cast, f"matrix_obs_{n}", name="观察对象", seq=n, household=cast.hh_a1)
    return start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=14)


def site(cast):
    return create_organization(acting_user=None, kind="site", name="矩阵观察点", code=f"SITE-{uuid.uuid4().hex[:8]}",
                               place=cast.compound_a1)


OBJECTS = {Observation: observation, Organization: site}
