"""Matrix objects of resident services, hardship assistance and the hotline: each in compound
A1Y (a fresh resident each time, never one of the target names)."""
from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from fangkong.places.actions import create_place
from fangkong.services import actions
from fangkong.services.models import Call, GroupOrder, HardshipCase, Ring, Round, ServiceRequest
from tests.cast import add_person, make_user

_seq = itertools.count(760)


def _person(cast):
    n = next(_seq)
    return add_person(cast, f"matrix_svc_{n}", name="服务对象", seq=n, household=cast.hh_a1)


def service_request(cast):
    return actions.create_request(acting_user=None, person=_person(cast), kind="medicine", text="降压药", source="staff")


def group_order(cast):
    return actions.open_order(acting_user=None, place=cast.compound_a1, title="蔬菜接龙", items=["蔬菜包", "鸡蛋"],
                              closes_at=timezone.now() + dt.timedelta(days=1))


def distribution_round(cast):
    n = next(_seq)
    building = create_place(acting_user=None, kind="building", name=f"{n}号楼", code=f"A1Y-B{n}", parent=cast.compound_a1)
    point = actions.create_point(acting_user=None, community=cast.comm_a, name=f"发放点{n}", buildings=[building])
    return actions.open_round(acting_user=None, point=point, day=timezone.localdate(), what="蔬菜包")


def hardship_case(cast):
    return actions.register_case(acting_user=None, person=_person(cast), category="elderly_alone", cause="独居", degree=2)


def ring(cast):
    return actions.ring(acting_user=None, phone="13900001111", place_path=cast.compound_a1.path)


def _officer(cast):
    """The owner of the matrix's calls: a duty officer of the street."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="matrix_duty").first()
    return user or make_user("matrix_duty", [("duty_officer", cast.street)])


def call(cast):
    return actions.new_call(acting_user=_officer(cast), topic="fever_clinic", question="发热门诊在哪里", person=_person(cast))


OBJECTS = {ServiceRequest: service_request, GroupOrder: group_order, Round: distribution_round, HardshipCase: hardship_case,
           Ring: ring, Call: call}
