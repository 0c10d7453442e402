"""Matrix objects of the resident registry: a person, a household and an import job in grid A1."""
from __future__ import annotations

import itertools
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from fangkong.residents.models import Household, ImportJob, OutgoingTransfer, Person, Transfer
from tests.cast import add_person


def import_job(cast):
    settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
    f = Path(settings.IMPORT_DIR) / "matrix.csv"
    f.write_text("姓名,身份证号\n", encoding="utf-8")
    return ImportJob.objects.create(created_by=cast.committee_a, place=cast.grid_a1, place_path=cast.grid_a1.path,
                                    file_name="matrix.csv", stored_path=str(f), file_format="csv", encoding="utf-8",
                                    headers=["姓名", "身份证号"], mapping={"0": "name", "1": "id_number"})


_seq = itertools.count(900)


def incoming(cast):
    """A request from community B's side for a person of compound A1Y of its own (the
    matrix's POSTs accept it, which moves the person: not one other objects rely on)."""
    n = next(_seq)
    person = add_person(cast, f"matrix_transfer_{n}", name="迁出人员", seq=n, household=cast.hh_a1)
    return Transfer.objects.create(person=person, from_path=person.place_path, to_place=cast.grid_b1,
                                   to_path=cast.grid_b1.path, address="乙一网格9号", typed_name="迁出者",
                                   id_masked=person.id_masked, reason="matrix", requested_at=timezone.now())


def outgoing(cast):
    """A request sent from compound A1Y for person B1 (registered in community B), with a
    name of the requester's own (the matrix looks for B1's registered name as a leak)."""
    t = Transfer.objects.create(person=cast.person_b1, from_path=cast.person_b1.place_path, to_place=cast.compound_a1,
                                to_path=cast.compound_a1.path, address="甲一小区9号楼", typed_name="迁入者",
                                id_masked=cast.person_b1.id_masked, reason="matrix", requested_at=timezone.now())
    return OutgoingTransfer.objects.get(pk=t.pk)


OBJECTS = {
    Transfer: incoming,
    OutgoingTransfer: outgoing,
    Person: lambda cast: cast.person_a1,
    Household: lambda cast: cast.hh_a1,
    ImportJob: import_job,
}
