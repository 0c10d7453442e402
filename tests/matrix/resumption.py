"""Matrix objects of work resumption: unit X's enterprise placed in compound A1Y (so its
liaison's organization grant and the place grants both reach it), an application of it in
material review, an on-site check, a problem and a staff record."""
from __future__ import annotations

import itertools

from django.utils import timezone

from fangkong.resumption import actions
from fangkong.resumption.models import Application, Enterprise, Problem, SiteCheck, StaffRecord
from tests.cast import add_person

_seq = itertools.count(800)


def enterprise(cast):
    ent = Enterprise.objects.filter(organization=cast.org_x).first()
    if ent is None:
        ent = Enterprise.objects.create(organization=cast.org_x, place=cast.compound_a1, place_path=cast.compound_a1.path,
                                        size=30, priority="key", officer_name="防疫专员")
    return ent


def application(cast):
    ent = enterprise(cast)
    Application.objects.filter(enterprise=ent).exclude(state="withdrawn").update(state="withdrawn")
    now = timezone.now()
    app = Application.objects.create(serial=f"M{next(_seq)}", enterprise=ent, place_path=ent.place_path,
                                     organization_id=ent.organization_id, state=Application.State.REVIEW,
                                     planned_date=timezone.localdate(), submitted_at=now, due_at=now,
                                     checklist=actions.current_checklist())
    return app


def site_check(cast):
    ent = enterprise(cast)
    return SiteCheck.objects.create(kind=SiteCheck.Kind.SUPERVISION, enterprise=ent, place_path=ent.place_path,
                                    organization_id=ent.organization_id, checklist=actions.current_checklist(),
                                    due_date=timezone.localdate())


def problem(cast):
    ent = enterprise(cast)
    return Problem.objects.create(enterprise=ent, place_path=ent.place_path, organization_id=ent.organization_id,
                                  text="矩阵问题", due_date=timezone.localdate(), answer="已整改", state=Problem.State.ANSWERED)


def staff_record(cast):
    ent = enterprise(cast)
    n = next(_seq)
    person = add_person(cast, f"matrix_staff_{n}", name="员工", seq=n, household=cast.hh_a1, employer=cast.org_x)
    return StaffRecord.objects.create(enterprise=ent, place_path=ent.place_path, organization_id=ent.organization_id,
                                      person=person, name=person.name, id_masked=person.id_masked)


OBJECTS = {Enterprise: enterprise, Application: application, SiteCheck: site_check, Problem: problem,
           StaffRecord: staff_record}
