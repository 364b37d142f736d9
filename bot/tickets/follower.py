"""The follower's side of a complaint: progress (“进度”, with a staff question still open and how
to answer it), the list of one's own complaints, the 回访 rating after 办结, and the ticket
behind a read-only progress page's token (/progress/{token}).

Why apart from the lifecycle: these are the texts a follower reads in the chat, answered from
the tickets as they stand; they change with the wording and the chat, not with the state
machine. A follower only ever sees tickets they filed — a number someone else filed tells them
nothing.
"""
from __future__ import annotations

from datetime import timezone
from typing import Optional

from sqlmodel import Session, select

from bot.tickets.lifecycle import RATING_REQUEST, add_event
from bot.tickets.rules import AWAITING_ACCEPT, AWAITING_ANSWER, CLOSED, RATING_WINDOW
from core.clock import CHINA
from core.config import Settings
from core.text import cn_date
from storage.models import Rating, Ticket, TicketEvent, utcnow


NOT_FOUND = "未找到该编号。请核对投诉编号（如 TS20261121-123456）。"


def find_own(session: Session, openid: str, number: str) -> Optional[Ticket]:
    """The ticket only if this follower filed it — anyone else learns nothing."""
    number = (number or "").strip().upper()
    return session.exec(select(Ticket).where(Ticket.number == number, Ticket.openid == openid)).first()


def last_public_reply(session: Session, ticket: Ticket, action: str = "reply") -> Optional[TicketEvent]:
    """The newest event of `action` on the ticket: a reply, or ("closed") the 办结 with its note."""
    return session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == action)
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).first()


def _day(event: TicketEvent) -> str:
    when = event.at.replace(tzinfo=timezone.utc).astimezone(CHINA)
    return f"{when.month}月{when.day}日"


def _closed_lines(session: Session, ticket: Ticket) -> list[str]:
    """A closed ticket ends with its 办结说明 (not the earlier reply) and, while the 回访 is owed
    for it, the rating request: the follower's next bare digit is then this ticket's rating."""
    closing = last_public_reply(session, ticket, "closed")
    when = f"（{_day(closing)}）" if closing else ""
    note = (closing.detail or "").strip() if closing else ""
    lines = [f"办结说明{when}：{note}" if note else f"已办结{when}，未填写办结说明。"]
    rating = session.exec(select(Rating).where(Rating.ticket_id == ticket.id)).first()
    if rating is not None:
        lines.append(f"您的评价：{rating.score} 分。")
    elif (owed := pending_rating(session, ticket.openid)) is not None and owed.id == ticket.id:
        lines.append(RATING_REQUEST)
    return lines


def progress_text(session: Session, settings: Settings, openid: str, number: str) -> str:
    ticket = find_own(session, openid, number)
    if ticket is None:
        return NOT_FOUND
    lines = [f"投诉编号：{ticket.number}", f"被投诉机构：{ticket.institution}", f"状态：{ticket.status}"]
    if ticket.status in AWAITING_ACCEPT:
        lines.append(f"受理时限：{cn_date(ticket.accept_due)}")
    elif ticket.status in AWAITING_ANSWER:
        lines.append(f"答复时限：{cn_date(ticket.answer_due)}")
    if ticket.status == CLOSED:
        return "\n".join(lines + _closed_lines(session, ticket))
    last = last_public_reply(session, ticket)
    if last:
        lines.append(f"最新答复（{_day(last)}）：{last.detail}")
    else:
        lines.append("暂无答复。")
    asked = open_question(session, ticket)
    if asked is not None:
        lines += [f"工作人员的问题（{_day(asked)}）：{asked.detail}",
                  f"回答请回复“补充 {ticket.number} 您的回答”，或先回复“补充 {ticket.number}”再发文字或照片。"]
    return "\n".join(lines)


def open_question(session: Session, ticket: Ticket) -> Optional[TicketEvent]:
    """The staff question (bot/tickets/thread.py `ask`) the follower has not answered yet: the
    newest one, with no supplement after it."""
    newest = session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action.in_(("asked", "supplement")))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).first()
    return newest if newest is not None and newest.action == "asked" else None


TOKEN_LENGTHS = range(16, 65)  # lifecycle.new_progress_token makes 32 characters


def by_progress_token(session: Session, token: str) -> Optional[Ticket]:
    """The ticket whose read-only progress page this is, or None. The token (192 random bits) is
    the only key: a wrong one finds nothing, and no shape of it tells how near it came."""
    if len(token or "") not in TOKEN_LENGTHS:
        return None
    return session.exec(select(Ticket).where(Ticket.progress_token == token)).first()


def timeline(session: Session, ticket: Ticket, public_only: bool = False) -> list[TicketEvent]:
    """The ticket's events, oldest first (staff see them all: the console and the work-order API)."""
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if public_only:
        query = query.where(TicketEvent.public == True, TicketEvent.action != "created")  # noqa: E712
    return list(session.exec(query.order_by(TicketEvent.at, TicketEvent.id)).all())


def public_events(session: Session, ticket: Ticket) -> list[TicketEvent]:
    """What the follower may see of the timeline (受理, 答复, 办结 …), oldest first."""
    return timeline(session, ticket, public_only=True)


def own_tickets_text(session: Session, openid: str, limit: int = 5) -> str:
    tickets = session.exec(
        select(Ticket).where(Ticket.openid == openid).order_by(Ticket.created_at.desc()).limit(limit)
    ).all()
    if not tickets:
        return "您还没有提交过投诉。投诉请回复“投诉”。"
    lines = ["您的投诉："]
    lines += [f"{i}. {t.number} {t.status}（{t.institution[:12]}）" for i, t in enumerate(tickets, 1)]
    lines.append("查看详情请回复“进度 编号”，如“进度 %s”。" % tickets[0].number)
    return "\n".join(lines)


def pending_rating(session: Session, openid: str) -> Optional[Ticket]:
    """The closed ticket whose 回访 question this follower has not answered yet (if recent)."""
    since = utcnow() - RATING_WINDOW
    rated = select(Rating.ticket_id)
    return session.exec(
        select(Ticket).where(Ticket.openid == openid, Ticket.status == CLOSED,
                             Ticket.rating_asked_at.is_not(None), Ticket.rating_asked_at >= since,
                             Ticket.id.not_in(rated))
        .order_by(Ticket.rating_asked_at.desc())
    ).first()


RATING_WORDS = {"很不满意": 1, "不满意": 2, "一般": 3, "满意": 4, "很满意": 5, "非常满意": 5}


def parse_rating(text: str) -> Optional[int]:
    t = (text or "").strip().rstrip("分").strip()
    if t in {"1", "2", "3", "4", "5"}:
        return int(t)
    if t in "一二三四五" and len(t) == 1:
        return "一二三四五".index(t) + 1
    return RATING_WORDS.get(t)


def record_rating(session: Session, ticket: Ticket, score: int) -> str:
    session.add(Rating(ticket_id=ticket.id, openid=ticket.openid, score=score))
    add_event(session, ticket, "follower", "rated", f"{score} 分", public=False)
    return f"感谢评价！您为投诉 {ticket.number} 的处理打了 {score} 分。"


def rating_hook(session: Session, openid: str, text: str) -> Optional[str]:
    """If this follower owes a 回访 rating and `text` is one, record it and return the thanks."""
    score = parse_rating(text)
    if score is None:
        return None
    ticket = pending_rating(session, openid)
    if ticket is None:
        return None
    return record_rating(session, ticket, score)
