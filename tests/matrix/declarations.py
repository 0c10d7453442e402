"""Matrix objects of self-declaration: community A's entry point (QR code), a risky
declaration by person A1 (matched, so it sits in compound A1Y), a grid-watch finding about
person A1, a credit entry of A1 (a declaration found false) and an open appeal against
one. The public page is named by the entry point's code."""
from __future__ import annotations

import itertools

from fangkong.declarations import actions
from fangkong.declarations.models import Appeal, CreditEntry, Declaration, Finding, Point

_seq = itertools.count(1)


def point(cast):
    return actions.ensure_point(acting_user=None, place=cast.comm_a)


def declaration_data(cast, key="person_a1", **extra):
    data = {"name": cast.persons[key].name, "id_number": cast.ids[key], "phone": cast.phones[key],
            "address": "甲一小区1号楼101室", "temperature": "36.6", "symptoms": ["cough"], "risk_area": "no",
            "contact_case": "no", "contact_risk_area": "no", "pledge": "yes", "travel": []}
    data.update(extra)
    return data


def declaration(cast):
    # A distinct address per object: the public page limits declarations per address.
    # Through the person's own link, so matched (a public one stays unmatched until checked).
    return actions.submit(point=point(cast), data=declaration_data(cast), client_ip=f"10.9.{next(_seq) % 250}.1",
                          person=cast.person_a1)


def finding(cast):
    return actions.record_finding(acting_user=cast.worker_a1, person=cast.person_a1, kind="travel",
                                  evidence="邻居反映其从风险地区返回未申报")


def entry(cast):
    decl = actions.check(acting_user=cast.worker_a1, declaration=declaration(cast), action="find_false",
                         note="核实时发现其隐瞒发热")
    return decl.credit_entry


def appeal(cast):
    return actions.file_appeal(person=cast.person_a1, entry=entry(cast), text="当时体温正常")


OBJECTS = {Point: point, Declaration: declaration, Finding: finding, CreditEntry: entry, Appeal: appeal}
URL_KWARGS = {"declarations_declare": lambda p: {"code": p.code}}
