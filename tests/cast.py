"""The fixed cast (DESIGN.md §4): one small street with two communities and a user for
every role, plus target persons whose names never appear outside their scope.

    street S ─ community A ─ grid A1 ─ compound A1Y      employer X (at A)
             │             └ grid A2                     employer Y (at B)
             └ community B ─ grid B1                     site (at S)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from stdnum.cn import ric

from fangkong.accounts.actions import add_grant
from fangkong.places.actions import create_organization, create_place
from fangkong.residents.actions import create_household, create_person
from fangkong.residents.validation import validate_person

PASSWORD = "cast-password-123"
_HASH: list[str] = []


def make_id(seq: int, region: str = "370102", born: str = "19800101") -> str:
    body = f"{region}{born}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_phone(seq: int) -> str:
    return f"139{seq:08d}"


@dataclass
class Cast:
    places: dict = field(default_factory=dict)
    orgs: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    households: dict = field(default_factory=dict)
    persons: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)     # person key -> plain ID (for tests only)
    phones: dict = field(default_factory=dict)

    def __getattr__(self, name):
        found = [self.__dict__[d][name] for d in ("places", "orgs", "users", "households", "persons")
                 if name in self.__dict__.get(d, {})]
        if len(found) != 1:
            raise AttributeError(f"{name}: {'ambiguous' if found else 'not in the cast'}")
        return found[0]


def make_user(username: str, grants=()):
    if not _HASH:
        _HASH.append(make_password(PASSWORD))
    user = get_user_model().objects.create(username=username, password=_HASH[0], first_name=username)
    for role, target in grants:
        add_grant(acting_user=None, user=user, role=role, target=target)
    return user


def add_person(cast: Cast, key: str, *, name: str, seq: int, household=None, place=None, employer=None, tags=()):
    clean, errors = validate_person({"name": name, "id_number": make_id(seq), "phone": make_phone(seq), "tags": list(tags)})
    assert not errors, errors
    person = create_person(acting_user=None, clean=clean, household=household, place=place, employer=employer)
    cast.persons[key] = person
    cast.ids[key] = clean["id_number"]
    cast.phones[key] = clean["phone"]
    return person


def build_cast() -> Cast:
    c = Cast()
    p = c.places
    p["street"] = create_place(acting_user=None, kind="street", name="测试街道", code="S", parent=None)
    p["comm_a"] = create_place(acting_user=None, kind="community", name="甲社区", code="A", parent=p["street"])
    p["comm_b"] = create_place(acting_user=None, kind="community", name="乙社区", code="B", parent=p["street"])
    p["grid_a1"] = create_place(acting_user=None, kind="grid", name="甲一网格", code="A1", parent=p["comm_a"])
    p["grid_a2"] = create_place(acting_user=None, kind="grid", name="甲二网格", code="A2", parent=p["comm_a"])
    p["grid_b1"] = create_place(acting_user=None, kind="grid", name="乙一网格", code="B1", parent=p["comm_b"])
    p["compound_a1"] = create_place(acting_user=None, kind="compound", name="甲一小区", code="A1Y", parent=p["grid_a1"])
    o = c.orgs
    o["org_x"] = create_organization(acting_user=None, kind="employer", name="单位X", code="X", place=p["comm_a"])
    o["org_y"] = create_organization(acting_user=None, kind="employer", name="单位Y", code="Y", place=p["comm_b"])
    o["site"] = create_organization(acting_user=None, kind="site", name="观察点", code="SITE", place=p["street"])

    h = c.households
    h["hh_a1"] = create_household(acting_user=None, place=p["compound_a1"], address="甲一小区1号楼101室")
    h["hh_a2"] = create_household(acting_user=None, place=p["grid_a2"], address="甲二网格8号")
    h["hh_b1"] = create_household(acting_user=None, place=p["grid_b1"], address="乙一网格3号")
    add_person(c, "person_a1", name="靶子甲", seq=1, household=h["hh_a1"], employer=o["org_x"], tags=["elderly_alone"])
    add_person(c, "person_a2", name="靶子乙", seq=2, household=h["hh_a2"])
    add_person(c, "person_b1", name="靶子丙", seq=3, household=h["hh_b1"], employer=o["org_y"])

    u = c.users
    u["admin"] = make_user("admin", [("admin", None)])
    u["commander"] = make_user("commander", [("commander", p["street"])])
    u["coordinator"] = make_user("coordinator", [("coordinator", p["street"])])
    u["committee_a"] = make_user("committee_a", [("committee", p["comm_a"])])
    u["committee_b"] = make_user("committee_b", [("committee", p["comm_b"])])
    u["worker_a1"] = make_user("worker_a1", [("grid_worker", p["grid_a1"])])
    u["worker_b1"] = make_user("worker_b1", [("grid_worker", p["grid_b1"])])
    u["medic_a"] = make_user("medic_a", [("medic", p["comm_a"])])
    u["guard_a"] = make_user("guard_a", [("gate_guard", p["compound_a1"])])
    u["liaison_x"] = make_user("liaison_x", [("unit_liaison", o["org_x"])])
    u["volunteer"] = make_user("volunteer", [("volunteer", o["site"])])
    u["nogrant"] = make_user("nogrant")
    u["inspector"] = make_user("inspector", [("inspector", p["street"])])
    u["duty_s"] = make_user("duty_s", [("duty_officer", p["street"])])  # the street's hotline (services)
    return c
