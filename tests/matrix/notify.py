"""Matrix objects of notifications: an e-mail channel on grid A1 (no network when a POST
reaches it) and a dead delivery of a message to it."""
from __future__ import annotations

from fangkong.notify.models import Channel, Delivery, Message


def channel(cast):
    return Channel.objects.create(name="矩阵通道", kind=Channel.Kind.EMAIL, place=cast.grid_a1,
                                  place_path=cast.grid_a1.path, target="matrix@example.invalid")


def delivery(cast):
    ch = channel(cast)
    msg = Message.objects.create(kind="matrix.test", title="矩阵消息", body="测试", place_path=cast.compound_a1.path)
    return Delivery.objects.create(message=msg, channel=ch, place_path=ch.place_path, state=Delivery.State.DEAD, attempts=5,
                                   last_error="ConnectionRefusedError")


OBJECTS = {Channel: channel, Delivery: delivery}
