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

from typing import Any, Protocol

from bot.tickets.lifecycle import FollowerNotice, add_event
from core.config import Settings
from storage.db import session_scope
from storage.models import Ticket

DELIVERED = "已通过客服消息送达投诉人"
LATER = "投诉人下次发消息时自动补发"
KEPT = f"暂未送达，{LATER}"  # a carrier that says only "not now"
OUTSIDE_WINDOW = "45015"
NO_CREDENTIALS = "no-credentials"
SIMULATOR = "simulator"  # no AppSecret, a simulator follower: the page shows kept texts at once


class Carrier(Protocol):
    def __call__(self, settings: Settings, openid: str, text: str) -> Any:
        """Send `text` to `openid`, or keep it for later. The result is true when it was
        delivered now; it may say why not (`error`: the channel's code) and whether the text
        was kept for later (`kept`), as the WeChat push's `Pushed` does."""


def outcome_text(result: Any) -> str:
    """The timeline's words for a carrier's result: sent now, kept (and why), or failed with the
    channel's error code. Why not one "not delivered" text: "outside the 48-hour window" was
    logged for every refusal (no credentials, quota, network), even for a message that the
    simulator page showed at once — staff must see the real reason."""
    if result:
        return DELIVERED
    error = getattr(result, "error", None)
    kept = getattr(result, "kept", error is None)
    if error is None:
        return KEPT
    if error == SIMULATOR:
        return "已转给模拟器页面（本地试用，未配置微信 AppSecret），模拟器打开时立即显示"
    if error == OUTSIDE_WINDOW:
        why = "超出48小时互动窗口（微信错误码45015）"
    elif error == NO_CREDENTIALS:
        why = "未配置微信 AppID/AppSecret，未能发出"
    elif error.isdigit():
        why = f"发送失败（微信错误码{error}）"
    else:
        why = f"发送失败（{error}）"
    return f"暂未送达：{why}，{LATER}" if kept else f"未送达：{why}"


def deliver(settings: Settings, notice: FollowerNotice, carrier: Carrier) -> bool:
    """Send `notice` through `carrier` (after the commit) and record the outcome as a
    'delivery' event; True when the follower has it now."""
    result = carrier(settings, notice.openid, notice.text)
    with session_scope(settings.db_url) as s:
        add_event(s, s.get(Ticket, notice.ticket_id), "system", "delivery", outcome_text(result))
    return bool(result)
