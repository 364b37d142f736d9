"""One dispatch of the staff actions, for every caller: the console's ticket page and the
work-order API post the same `Action`, and `act` applies it through the same lifecycle
functions, so both get the same permissions, states and follower notices.

Why apart from lifecycle.py: the dispatch names every action, the two-way thread's question
(`thread.ask`) included, and thread.py itself builds on the lifecycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from sqlmodel import Session

from bot.tickets.lifecycle import (FollowerNotice, accept, add_note, assign, assignees, close, reply,
                                   return_for_rework, transfer)
from bot.tickets.rules import TicketError
from bot.tickets.thread import ask
from core.config import Settings
from storage.models import Ticket


@dataclass(frozen=True)
class Action:
    """A staff action as the console's form and the work-order API post it."""
    name: str
    text: str = ""
    assignee: str = ""
    team: str = ""


def _assign_posted(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, action: Action) -> None:
    """A posted assignee must be an account that may handle the ticket (its region, active)."""
    if action.assignee and action.assignee not in assignees(session, ticket):
        raise TicketError("承办人须是负责该地区的在岗账号", "assignee")
    assign(session, settings, ticket, actor, role, action.assignee)


ActionFn = Callable[[Session, Settings, Ticket, str, str, Action], Optional[FollowerNotice]]

# action → the lifecycle function; a reply, a question or a 办结 returns the follower's notice (send it
# after the commit)
STAFF_ACTIONS: dict[str, ActionFn] = {
    "accept": lambda s, st, t, who, role, a: accept(s, st, t, who, role),
    "assign": _assign_posted,
    "transfer": lambda s, st, t, who, role, a: transfer(s, st, t, who, role, a.team, a.text),
    "note": lambda s, st, t, who, role, a: add_note(s, t, who, role, a.text),
    "reply": lambda s, st, t, who, role, a: reply(s, st, t, who, role, a.text),
    "ask": lambda s, st, t, who, role, a: ask(s, st, t, who, role, a.text),  # the follower's next messages go to t
    "return": lambda s, st, t, who, role, a: return_for_rework(s, t, who, role, a.text),
    "close": lambda s, st, t, who, role, a: close(s, st, t, who, role, a.text),
}


def act(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str,
        action: Action) -> Optional[FollowerNotice]:
    """Apply one staff action through STAFF_ACTIONS (the console and the work-order API both)."""
    call = STAFF_ACTIONS.get(action.name)
    if call is None:
        raise TicketError("未知操作", "action")
    return call(session, settings, ticket, actor, role, action)
