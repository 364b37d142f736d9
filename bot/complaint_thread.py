"""What a follower's messages do while a complaint thread is open, and the “补充” command.

Why a part of its own: after a staff question (bot/tickets/thread.py `ask`) or “补充”, the
follower's answer belongs to the ticket, not to the Q&A (“没有找到”) nor to the photo refusal
(“请先发送‘我要投诉’”). `register` (called from bot/dialog/wiring.py) hands the dialog a thread
hook, which the router runs after an active form and before everything else, and the 补充
command. The hook attaches texts, voice recognitions and photos to the ticket and confirms;
取消 ends the thread with a word, a menu word or click, another labelled command or a form
trigger ends it silently (the message goes on); a digit answers “补充到哪一件？”. The state is
on the follower row (bot/tickets/thread.py), so any worker continues it.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from bot.evidence import fetch_after_commit
from bot.tickets import find_own, parse_rating, pending_rating, thread as tt
from bot.tickets.follower import NOT_FOUND
from bot.tickets.rules import CLOSED
from core.turn import Turn

if TYPE_CHECKING:
    from bot.dialog.registry import Registry

# “补充”, or “补充 TS20261121-123456” with what to add after it; a bare “补充养老保险…” is a question
SUPPLEMENT = r"(?s)^(补充|我要补充|补充材料|补充证据|补充投诉)(\s*[:：]?\s*(?P<number>ts\d{8}-\d{6})(?P<rest>.*))?$"


def _attach(turn: Turn, thread: tt.Thread) -> Optional[str]:
    """The message, attached to the thread's ticket; None for a message that carries nothing to
    attach (a location, a video: the router answers it as usual)."""
    inbound, follower, ticket = turn.inbound, turn.follower, thread.ticket
    if inbound.kind == "image":
        reply = tt.add_photo(turn.session, follower, ticket, inbound.media_id, inbound.pic_url)
        fetch_after_commit(turn.session, turn.settings, ticket.id)
        return reply
    text = (inbound.text or "").strip()
    if inbound.kind not in ("text", "voice") or not text:
        return None
    owed = pending_rating(turn.session, follower.openid) if parse_rating(text) else None
    if owed is not None and owed.rating_asked_at > thread.since:
        return None  # a 回访 question came after the thread opened: the digit is its rating
    return tt.add_text(turn.session, follower, ticket, text)


def _pick(turn: Turn, thread: tt.Thread) -> str:
    """“补充到哪一件？”: a digit (or one of the numbers) opens that ticket's thread; anything else
    is asked again, so a photo sent too early is not lost in the wrong ticket."""
    text = (turn.inbound.text or "").strip().upper() if turn.inbound.kind == "text" else ""
    for i, ticket in enumerate(thread.choices, 1):
        if text in (str(i), ticket.number):
            tt.open_thread(turn.follower, ticket)
            return tt.opened_text(ticket)
    return tt.pick_text(thread.choices, f"请先回复数字 1–{len(thread.choices)} 选择要补充的投诉，再发送内容。")


def thread_hook(turn: Turn, way_out: Optional[str]) -> Optional[str]:
    """The router's thread: None when no thread is open or the message ended it and goes on."""
    thread = tt.load(turn.session, turn.follower)
    if thread is None:
        return None
    if way_out is not None:
        tt.end(turn.follower)
        return tt.ended_text(thread) if way_out == "cancel" else None
    if thread.ticket is None:
        return _pick(turn, thread)
    return _attach(turn, thread)


def supplement_command(turn: Turn, match: "re.Match[str]") -> str:
    """“补充 编号 [内容]”: that ticket; “补充”: the one open ticket, or which of several."""
    session, follower = turn.session, turn.follower
    number = match.group("number")
    if number:
        ticket = find_own(session, follower.openid, number)
        if ticket is None:
            return NOT_FOUND
        if ticket.status == CLOSED:
            return f"投诉 {ticket.number} 已办结，不能再补充。如有新的问题，请回复“投诉”重新提交。"
        tt.open_thread(follower, ticket)
        rest = _as_typed(turn.inbound.text or "", number, match.group("rest")).strip(" \n:：，,")
        return tt.add_text(session, follower, ticket, rest) if rest else tt.opened_text(ticket)
    open_ones = tt.open_tickets(session, follower.openid)
    if not open_ones:
        return "您没有办理中的投诉，无需补充。投诉请回复“投诉”。"
    if len(open_ones) > 1:
        return tt.offer_pick(follower, open_ones)
    tt.open_thread(follower, open_ones[0])
    return tt.opened_text(open_ones[0])


def _as_typed(text: str, number: str, rest: str) -> str:
    """What follows the number as the follower typed it (the command matched the normalised,
    lower-cased text)."""
    at = text.upper().find(number.upper())
    return text[at + len(number):].strip() if at >= 0 else rest


def register(dialog: "Registry") -> None:
    """The complaint thread's part of the dialog."""
    dialog.thread(thread_hook)
    dialog.command(SUPPLEMENT, supplement_command, label="补充投诉内容")
