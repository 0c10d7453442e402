"""Matrix objects of supplies: a holder at compound A1Y (a place holder: a storekeeper's
place grant covers it only when it names that compound), a transfer to it, its request
and a donation it received."""
from __future__ import annotations

import uuid

from fangkong.supplies import actions
from fangkong.supplies.catalogue import install
from fangkong.supplies.models import Donation, Holder, Item, Package, Request, Transfer


def _masks():
    install(Item, Package)
    return Item.objects.get(code="masks")


def _warehouse(cast):
    return actions.create_holder(acting_user=None, kind="warehouse", name=f"仓库{uuid.uuid4().hex[:6]}", place=cast.street)


def holder(cast):
    return actions.create_holder(acting_user=None, kind="compound", name=f"甲一小区物资点{uuid.uuid4().hex[:6]}",
                                 place=cast.compound_a1, supplier=_warehouse(cast))


def transfer(cast):
    h = holder(cast)
    actions.receive(acting_user=None, holder=h.supplier, item=_masks(), quantity=100)
    return actions.send(acting_user=None, source=h.supplier, target=h, item=_masks(), quantity=10)


def request(cast):
    return actions.create_request(acting_user=None, holder=holder(cast), lines=[(_masks(), 10, None)])


def donation(cast):
    return actions.record_donation(acting_user=None, holder=holder(cast), donor="某超市", lines=[(_masks(), 100, None)])


OBJECTS = {Holder: holder, Transfer: transfer, Request: request, Donation: donation}
