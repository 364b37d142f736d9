"""Handing a `FollowerNotice` to a channel, and putting the outcome on the ticket's timeline.

Why apart from the lifecycle: the lifecycle decides *that* the follower is told and what; how the
text travels is the channel's business (the WeChat customer-service message within 48 hours of
the follower's last message, a template message outside it when one is configured, else the text
kept for the follower's next message). The ticket layer knows the channel only as a `Carrier`,
so nothing here imports bot.wechat; it hands the carrier the ticket's template message
(bot.tickets.template) to use outside the window. Call `deliver` after the action's commit: the
push may take seconds and may fail, and neither may undo a recorded reply. The real outcome goes
on the timeline — sent by customer-service message, sent by template (msgid), kept for the next
message, failed with WeChat's code — and, once a kept text goes out, when it did.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Protocol

from sqlmodel import Session

from bot.tickets import template as templates
from bot.tickets.lifecycle import FollowerNotice, add_event
from core.config import Settings
from storage.db import session_scope
from storage.models import Ticket

log = logging.getLogger("policybot.tickets")

DELIVERED = "已通过客服消息送达投诉人"
LATER = "投诉人下次发消息时自动补发"
KEPT = f"暂未送达，{LATER}"  # a carrier that says only "not now"
OUTSIDE_WINDOW = "45015"
NO_CREDENTIALS = "no-credentials"
NO_FOLLOWER = "该投诉由其他系统转来，没有微信联系人：未推送，请经来源系统告知投诉人"
SIMULATOR = "simulator"  # no AppSecret, a simulator follower: the page shows kept texts at once
NO_TEMPLATE = "未配置模板消息（WECHAT_TEMPLATE_TICKET）"


class Carrier(Protocol):
    def __call__(self, settings: Settings, openid: str, text: str, *, ticket_id: Optional[int] = None,
                 template: Optional[templates.TemplateMessage] = None) -> Any:
        """Send `text` to `openid`, or keep it for later (`ticket_id`: whose notice it is, for the
        timeline once a kept text goes out). Outside the 48-hour window a carrier may send
        `template` instead. The result is true when the follower has it now; it may say why not
        (`error`: the channel's code), whether the text was kept for later (`kept`), and how it
        went (`via` "template" with its `msgid`, `template_error` when the template was refused),
        as the WeChat push's `Pushed` does."""


def _why(error: str) -> str:
    if error == OUTSIDE_WINDOW:
        return "超出48小时互动窗口（微信错误码45015）"
    if error == NO_CREDENTIALS:
        return "未配置微信 AppID/AppSecret，未能发出"
    return f"发送失败（微信错误码{error}）" if error.isdigit() else f"发送失败（{error}）"


def outcome_text(result: Any, template: Optional[templates.TemplateMessage] = None) -> str:
    """The timeline's words for a carrier's result: sent now (customer-service or template
    message), kept (and why), or failed with the channel's error code. Why not one "not
    delivered" text: "outside the 48-hour window" was logged for every refusal (no credentials,
    quota, network), even for a message that the simulator page showed at once — staff must see
    the real reason."""
    if result:
        if getattr(result, "via", "custom") != "template":
            return DELIVERED
        link = "，附进度页链接" if template is not None and template.url else "（未配置 POLICYBOT_PUBLIC_URL，未附进度页链接）"
        return f"已通过模板消息送达投诉人（超出48小时互动窗口；msgid {getattr(result, 'msgid', '') or '—'}）{link}"
    error = getattr(result, "error", None)
    kept = getattr(result, "kept", error is None)
    if error is None:
        return KEPT
    if error == SIMULATOR:
        return "已转给模拟器页面（本地试用，未配置微信 AppSecret），模拟器打开时立即显示"
    refused = getattr(result, "template_error", None)
    if refused == NO_CREDENTIALS:
        why = "超出48小时互动窗口，未配置微信 AppID/AppSecret，模板消息未能发出"
    elif refused:
        why = f"超出48小时互动窗口，模板消息{_why(refused)}"
    elif error == OUTSIDE_WINDOW and template is None:
        why = f"{_why(error)}，{NO_TEMPLATE}"
    else:
        why = _why(error)
    return f"暂未送达：{why}，{LATER}" if kept else f"未送达：{why}"


def deliver(settings: Settings, notice: FollowerNotice, carrier: Carrier) -> bool:
    """Send `notice` through `carrier` (after the commit) and record the outcome as a
    'delivery' event; True when the follower has it now. A ticket forwarded from another system
    without an openid has nobody to push to: that is what the timeline says."""
    if not notice.openid:
        with session_scope(settings.db_url) as s:
            add_event(s, s.get(Ticket, notice.ticket_id), "system", "delivery", NO_FOLLOWER)
        return False
    with session_scope(settings.db_url) as s:
        template = templates.for_notice(s, settings, notice)
    result = carrier(settings, notice.openid, notice.text, ticket_id=notice.ticket_id, template=template)
    with session_scope(settings.db_url) as s:
        add_event(s, s.get(Ticket, notice.ticket_id), "system", "delivery", outcome_text(result, template))
    return bool(result)


def delivered_later(settings: Settings, ticket_id: int, on_next_message: bool) -> None:
    """A kept notice went out at last: the timeline says so (it said "暂未送达" until now)."""
    when = "投诉人再次发消息后" if on_next_message else "定时重试时"
    with session_scope(settings.db_url) as s:
        ticket = s.get(Ticket, ticket_id)
        if ticket is not None:
            add_event(s, ticket, "system", "delivery", f"此前暂未送达的消息已于{when}通过客服消息补发送达投诉人")


def commit_then_deliver(session: Session, settings: Settings, notice: Optional[FollowerNotice],
                        carrier: Carrier) -> None:
    """Commit the action, then hand its notice (if any) to `carrier`: the console and the
    work-order API end an action this way, so a failed push never undoes the reply."""
    session.commit()
    if notice is None:
        return
    try:
        deliver(settings, notice, carrier)
    except Exception:
        log.exception("ticket %s: could not send the follower the %s", notice.ticket_id, notice.kind)
