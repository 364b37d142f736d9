"""The two-way complaint thread: staff ask the follower a question, and the follower's next
messages and photos are attached to the ticket as supplements.

Why on the follower row (`Follower.thread`), not in memory: several workers serve one follower
and the thread outlives a process. The state is one of
  {"ticket": id, "since": iso, "until": iso}     the follower's messages go to that ticket;
  {"pick": [id, …], "since": iso, "until": iso}  the follower is choosing which (with a digit).
It lapses at `until` (THREAD_WINDOW after the last staff question or supplement) and ends with
its ticket's 办结 — checked whenever it is read, so a close on any worker ends it — or on 取消,
a menu click or another command (the dialog's side, bot/complaint_thread.py). A supplement sets
`Ticket.supplemented_at` (投诉人已补充 for staff); the next staff action clears it
(rules.CLEARS_SUPPLEMENT, in lifecycle.add_event). Like every staff action the question is only
emitted, as a `FollowerNotice` the caller delivers after its commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.tickets.lifecycle import FollowerNotice, add_event, public_text
from bot.tickets.rules import CLOSED, THREAD_WINDOW, TicketError, check
from core.config import Settings
from storage.models import Evidence, Follower, Ticket, utcnow

MAX_PICK = 9  # one digit each
GO_ON = "继续发送可再补充，回复“取消”结束。"


@dataclass
class Thread:
    """An open thread as read from the follower row: the ticket messages go to, or the open
    tickets the follower is choosing between."""

    ticket: Optional[Ticket]
    choices: list[Ticket]
    since: datetime


def _stamp(follower: Follower, key: str, value, since: Optional[datetime] = None) -> None:
    now = utcnow()
    follower.thread = {key: value, "since": (since or now).isoformat(), "until": (now + THREAD_WINDOW).isoformat()}


def open_thread(follower: Follower, ticket: Ticket, since: Optional[datetime] = None) -> None:
    """The follower's next messages go to `ticket` for THREAD_WINDOW (a question, 补充, a supplement)."""
    _stamp(follower, "ticket", ticket.id, since)


def end(follower: Follower) -> None:
    follower.thread = {}


def load(session: Session, follower: Follower) -> Optional[Thread]:
    """The follower's open thread, or None; a lapsed one, or one whose tickets are all closed, is
    ended here."""
    state = follower.thread or {}
    if not state:
        return None
    try:
        until, since = datetime.fromisoformat(state["until"]), datetime.fromisoformat(state["since"])
    except (KeyError, TypeError, ValueError):
        until = since = None
    if until is None or until <= utcnow():
        end(follower)
        return None
    if "pick" in state:
        choices = [t for t in (session.get(Ticket, i) for i in state["pick"]) if t is not None and t.status != CLOSED]
        if choices:
            return Thread(None, choices, since)
    else:
        ticket = session.get(Ticket, state.get("ticket") or 0)
        if ticket is not None and ticket.status != CLOSED and ticket.openid == follower.openid:
            return Thread(ticket, [], since)
    end(follower)
    return None


def open_tickets(session: Session, openid: str) -> list[Ticket]:
    """The follower's tickets that may still be supplemented, newest first."""
    return list(session.exec(select(Ticket).where(Ticket.openid == openid, Ticket.status != CLOSED)
                             .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_PICK)))


def _label(ticket: Ticket) -> str:
    return f"{ticket.number}（{ticket.institution[:12]}，{ticket.status}）"


def offer_pick(follower: Follower, choices: list[Ticket]) -> str:
    """Ask which of several open tickets the follower means; the next digit picks it."""
    _stamp(follower, "pick", [t.id for t in choices])
    return pick_text(choices, f"您有{len(choices)}件办理中的投诉，补充到哪一件？")


def pick_text(choices: list[Ticket], title: str) -> str:
    lines = [title] + [f"{i} {_label(t)}" for i, t in enumerate(choices, 1)]
    return "\n".join(lines + ["回复数字选择，回复“取消”放弃。"])


def opened_text(ticket: Ticket) -> str:
    return f"请直接发送要补充的文字或照片，会补充到投诉 {_label(ticket)}。发完回复“取消”结束。"


def ended_text(thread: Thread) -> str:
    if thread.ticket is None:
        return "已取消补充。回复“菜单”查看全部功能。"
    return f"已结束补充（投诉 {thread.ticket.number}），工作人员会看到您补充的内容。回复“菜单”查看全部功能。"


def _supplemented(session: Session, follower: Follower, ticket: Ticket, detail: str) -> None:
    add_event(session, ticket, "follower", "supplement", detail, public=True)
    ticket.supplemented_at = utcnow()
    session.add(ticket)
    open_thread(follower, ticket, since=_since(follower))  # 24 h from this supplement


def _since(follower: Follower) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(follower.thread["since"])
    except (KeyError, TypeError, ValueError):
        return None


def add_text(session: Session, follower: Follower, ticket: Ticket, text: str) -> str:
    """Attach a text (or a voice message's recognition) to the ticket; the follower's confirmation."""
    _supplemented(session, follower, ticket, text.strip())
    return f"已补充到投诉 {ticket.number}；{GO_ON}"


def add_photo(session: Session, follower: Follower, ticket: Ticket, media_id: Optional[str],
              pic_url: Optional[str]) -> str:
    """Attach a photo as the ticket's evidence (downloaded after the commit, bot/evidence.py)."""
    session.add(Evidence(ticket_id=ticket.id, media_id=media_id, pic_url=pic_url))
    session.flush()
    count = session.exec(select(func.count()).select_from(Evidence).where(Evidence.ticket_id == ticket.id)).one()
    _supplemented(session, follower, ticket, f"照片 1 张（证据第{count}张）")
    return f"照片已补充到投诉 {ticket.number}；{GO_ON}"


# ---------------------------------------------------------------- the staff side

def _follower_row(session: Session, openid: str) -> Follower:
    """The follower row, locked (a turn of theirs in progress finishes first); created for a
    ticket whose filer has not written since (the row is made on the first message)."""
    query = select(Follower).where(Follower.openid == openid).with_for_update()
    row = session.exec(query).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(Follower(openid=openid))
        except IntegrityError:  # their first message made it meanwhile
            pass
        row = session.exec(query).one()
    return row


def ask(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, text: str) -> FollowerNotice:
    """Staff ask the follower something: recorded as a public event, the follower's next
    messages go to this ticket, and the notice the follower is owed is returned (send it after
    the commit)."""
    check(ticket.status, "ask", role)
    text = public_text(text, "问题")
    if not ticket.openid:
        raise TicketError("该投诉不是通过微信提交的，无法向投诉人提问", "action")
    add_event(session, ticket, actor, "asked", text, public=True)
    open_thread(_follower_row(session, ticket.openid), ticket)
    return FollowerNotice(ticket_id=ticket.id, openid=ticket.openid, kind="ask", text=(
        f"关于您的投诉（编号 {ticket.number}），工作人员想了解：\n{text}\n"
        "请直接回复文字或照片，会补充到该投诉；回复“取消”结束。"))
