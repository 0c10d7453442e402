"""Matrix objects of mass testing: a round over compound A1Y, a site there, and a box of
that site for a laboratory (a fresh one each time: POSTs change their state)."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from fangkong.places.models import Organization
from fangkong.testing.models import Box, Round, Site


def round_(cast):
    place = cast.compound_a1
    today = timezone.localdate()
    return Round.objects.create(name="核酸检测", place=place, place_path=place.path, start_date=today,
                                end_date=today + dt.timedelta(days=1), pooling=10)


def site(cast):
    rnd = round_(cast)
    place = cast.compound_a1
    return Site.objects.create(round=rnd, name="采样点", place=place, place_path=place.path, opens=dt.time(7), closes=dt.time(20))


def lab_org(cast):
    org = Organization.objects.filter(code="MLAB").first()
    return org or Organization.objects.create(kind="clinic", name="检测实验室", code="MLAB", place=cast.street,
                                              place_path=cast.street.path)


def box(cast):
    s = site(cast)
    return Box.objects.create(site=s, place_path=s.place_path, lab=lab_org(cast), packed_at=timezone.now())


OBJECTS = {Round: round_, Site: site, Box: box}
