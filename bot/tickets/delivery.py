"""Handing a `FollowerNotice` to a channel, and putting the outcome on the ticket's timeline.

Why apart from the lifecycle: the lifecycle decides *that* the follower is told and what; how the
text travels is the channel's business (today the WeChat customer-service push, which sends now
or keeps the text for the follower's next message). The ticket layer knows the channel only as
a `Carrier` — a callable `(settings, openid, text) -> delivered now?` — so nothing here imports
bot.wechat. Call `deliver` after the action's commit: the push may take seconds and may fail,
and neither may undo a recorded reply. The outcome goes on the timeline so that staff know
whether the follower has the message yet.
"""
from __future__ import annotations

from typing import Protocol

from bot.tickets.lifecycle import FollowerNotice, add_event
from core.config import Settings
from storage.db import session_scope
from storage.models import Ticket

DELIVERED = "已通过客服消息送达投诉人"
KEPT = "暂未送达（如超出48小时互动窗口），投诉人下次发消息时自动补发"


class Carrier(Protocol):
    def __call__(self, settings: Settings, openid: str, text: str) -> bool:
        """Send `text` to `openid`, or keep it for later; True when it was delivered now."""


def deliver(settings: Settings, notice: FollowerNotice, carrier: Carrier) -> bool:
    """Send `notice` through `carrier` (after the commit) and record the outcome as a
    'delivery' event; True when the follower has it now."""
    delivered = carrier(settings, notice.openid, notice.text)
    with session_scope(settings.db_url) as s:
        add_event(s, s.get(Ticket, notice.ticket_id), "system", "delivery", DELIVERED if delivered else KEPT)
    return delivered
