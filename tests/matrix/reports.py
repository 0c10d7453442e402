"""Matrix objects of the daily report: a unit located in grid A1 with its entered figures
for today (a figure its kind reports, every value entered, so it can be confirmed)."""
from __future__ import annotations

import itertools

from django.utils import timezone

from fangkong.places.actions import create_organization
from fangkong.reports import actions
from fangkong.reports.models import FigureDefinition, Submission

_seq = itertools.count(1)


def submission(cast):
    n = next(_seq)
    org = create_organization(acting_user=None, kind="employer", name=f"矩阵单位{n}", code=f"RPT{n}_{timezone.now():%H%M%S%f}",
                              place=cast.grid_a1)
    if not FigureDefinition.objects.filter(key="masks").exists():
        actions.create_definition(acting_user=None, key="masks", label="口罩", unit="个", org_kinds=["employer"])
    values = {d.key: 10 for d in actions.definitions_for(org)}
    return actions.enter_values(acting_user=None, organization=org, day=timezone.localdate(), values=values)


OBJECTS = {Submission: submission}
