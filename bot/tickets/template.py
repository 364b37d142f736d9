"""What a ticket's WeChat template message says: the notice that reaches a follower outside the
48-hour customer-service window (issue 12).

Why apart from the delivery: a template has its own shape — the account's template id
(WECHAT_TEMPLATE_TICKET), keywords the settings map to ticket fields (WECHAT_TEMPLATE_TICKET_FIELDS:
编号, 状态, 时间, 摘要), each value at most 20 characters, and a link to the ticket's read-only
progress page (POLICYBOT_PUBLIC_URL + /progress/{token}), where the whole answer is. Built here
from the ticket as committed; sent by the channel (bot.wechat.push), which this never imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlmodel import Session

from bot.tickets.follower import last_public_reply
from bot.tickets.lifecycle import FollowerNotice, new_progress_token
from core.clock import CHINA
from core.config import Settings
from core.pii import redact
from core.text import clip
from storage.models import Ticket

VALUE_MAX = 20  # WeChat cuts (or refuses) longer keyword values


@dataclass(frozen=True)
class TemplateMessage:
    """One template message as wechatpy's `message.send_template` takes it."""
    template_id: str
    data: dict[str, dict[str, str]]
    url: Optional[str]  # None without POLICYBOT_PUBLIC_URL: the message then carries no link


def cut(text: str, limit: int = VALUE_MAX) -> str:
    """One line of at most `limit` characters, an ellipsis where it was cut."""
    return clip(" ".join((text or "").split()), limit)


def progress_path(ticket: Ticket) -> str:
    return f"/progress/{ticket.progress_token}"


def _summary(session: Session, ticket: Ticket, notice: FollowerNotice) -> str:
    """The answer's gist, its personal data masked: a notification shows it on a locked phone."""
    action = {"closed": "closed", "ask": "asked"}.get(notice.kind, "reply")
    event = last_public_reply(session, ticket, action)
    detail = redact((event.detail if event else "") or "")
    if notice.kind == "closed":
        return f"已办结：{detail}" if detail else "已办结，请查看办结说明并评价"
    if notice.kind == "ask":  # the follower answers by writing to the account (the thread)
        return f"工作人员提问：{detail}" if detail else "工作人员有问题请您补充"
    return f"新答复：{detail}" if detail else "有新答复，请查看"


def for_notice(session: Session, settings: Settings, notice: FollowerNotice) -> Optional[TemplateMessage]:
    """The template message for `notice`, or None when no template is configured (the notice then
    waits for the follower's next message, as before). Gives an older ticket its page token."""
    template_id = settings.wechat.template_ticket
    if not template_id:
        return None
    ticket = session.get(Ticket, notice.ticket_id)
    if not ticket.progress_token:
        ticket.progress_token = new_progress_token()
        session.add(ticket)
    now = datetime.now(timezone.utc).astimezone(CHINA)
    values = {"编号": ticket.number, "状态": ticket.status, "时间": f"{now:%Y-%m-%d %H:%M}",
              "摘要": _summary(session, ticket, notice)}
    data = {keyword: {"value": cut(values[field])} for keyword, field in settings.wechat.ticket_fields}
    url = settings.public_url + progress_path(ticket) if settings.public_url else None
    return TemplateMessage(template_id=template_id, data=data, url=url)
