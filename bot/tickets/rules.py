"""The complaint rules that hold whatever the channel: states and the state machine as data,
categories, event labels, working-day due dates and what “overdue” means.

Why apart: these change when the rules of the complaint desk change (a new state, a new
deadline), not when a page or a channel does; they read no table and send nothing, so the
lifecycle (bot.tickets.lifecycle), the console's queue filter and the follower's progress text
all judge a ticket the same way. Due dates count working days (weekends and POLICYBOT_HOLIDAYS
skipped) from the local date (core.clock: China time).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import and_, or_
from sqlmodel import select

from core import clock
from core.config import Settings
from core.pii import mask_mobile
from storage.models import Ticket

CATEGORIES = ["虚假宣传", "许诺补贴", "冒用政府部门名义", "擅自开班", "管理混乱", "材料造假", "乱收费", "其他"]
STATES = ["待受理", "已受理", "办理中", "已答复", "已办结", "转办", "退回"]
AWAITING_ACCEPT = ("待受理", "转办")
AWAITING_ANSWER = ("已受理", "办理中", "退回")
CLOSED = "已办结"
RATING_WINDOW = timedelta(days=7)
THREAD_WINDOW = timedelta(hours=24)  # a thread lapses this long after the last staff question or supplement
PUBLIC_TEXT_MAX = 500  # characters: with its header a reply stays within one 2048-byte message
NOTE_MAX = 2000
NOT_YOURS = "该投诉不属于您负责的地区"


@dataclass(frozen=True)
class Transition:
    to: Optional[str]  # None: the status does not change
    sources: tuple[str, ...]
    roles: tuple[str, ...] = ("staff", "supervisor", "admin")


# The state machine, as data: action → allowed source states, target state, who may do it.
TRANSITIONS: dict[str, Transition] = {
    "accept": Transition("已受理", AWAITING_ACCEPT),
    "assign": Transition("办理中", ("待受理", "已受理", "办理中", "退回")),
    "transfer": Transition("转办", ("待受理", "已受理", "办理中", "转办", "退回")),
    "reply": Transition("已答复", ("已受理", "办理中", "退回", "已答复")),
    "return": Transition("退回", ("已答复",), roles=("supervisor", "admin")),
    "close": Transition(CLOSED, ("已答复",)),
    "note": Transition(None, tuple(STATES)),
    "ask": Transition(None, tuple(s for s in STATES if s != CLOSED)),  # a question to the follower
}

ACTION_LABELS = {
    "created": "提交投诉", "accepted": "受理", "assigned": "指派", "transferred": "转办",
    "returned": "退回重办", "note": "内部备注", "reply": "答复", "closed": "办结",
    "revealed": "查看完整手机号", "rated": "满意度评价", "evidence": "补充证据", "delivery": "消息推送",
    "asked": "向投诉人提问", "supplement": "投诉人补充",
}

# The staff events that answer the follower's supplements: each clears 投诉人已补充. Opening the
# page or revealing the phone does not — the flag means "the follower wrote and nobody has acted
# since", so a colleague's look does not hide it from whoever handles the ticket.
CLEARS_SUPPLEMENT = frozenset({"accepted", "assigned", "transferred", "returned", "note", "reply", "asked", "closed"})


class TicketError(Exception):
    """An action that is not allowed now; the message is Chinese, fit to show to staff.

    `status` and `field` say what kind of refusal it is, for a JSON caller (bot.tickets_api):
    this base class is bad input (422, naming the field); `WrongState` and `NotPermitted` below.
    The console shows every kind the same way, on the ticket's page."""

    status = 422

    def __init__(self, message: str, field: str = "text"):
        super().__init__(message)
        self.field = field


class WrongState(TicketError):
    """Not in the ticket's current status (or someone else just changed it)."""

    status = 409


class NotFound(TicketError):
    """No such ticket number."""

    status = 404


class NotPermitted(TicketError):
    """Not for this role."""

    status = 403


def allowed_actions(status: str, role: str) -> list[str]:
    """The actions `role` may take on a ticket in `status` (the console shows only these)."""
    return [a for a, t in TRANSITIONS.items() if status in t.sources and role in t.roles]


def check(status: str, action: str, role: str) -> Transition:
    """The transition `action` from `status`, or TicketError saying why `role` may not take it."""
    t = TRANSITIONS[action]
    if role not in t.roles:
        raise NotPermitted("您的角色不能执行此操作", "action")
    if status not in t.sources:
        raise WrongState(f"当前状态“{status}”不能执行此操作", "action")
    return t


# ---------------------------------------------------------------- dates

def local_today(settings: Settings) -> date:
    return clock.today(settings)


def holidays(settings: Settings) -> frozenset[date]:
    return settings.holidays  # parsed and checked with the settings (core/config.py)


def add_working_days(start: date, days: int, skip: set[date] = frozenset()) -> date:
    """The date `days` working days after `start` (Mon–Fri, minus `skip`)."""
    d = start
    left = days
    while left > 0:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in skip:
            left -= 1
    return d


def due_after(settings: Settings, days: int) -> date:
    """`days` working days after today (the holidays from the settings skipped)."""
    return add_working_days(local_today(settings), days, holidays(settings))


def is_overdue(ticket: Ticket, today: date) -> bool:
    if ticket.status in AWAITING_ACCEPT:
        return today > ticket.accept_due
    if ticket.status in AWAITING_ANSWER:
        return today > ticket.answer_due
    return False


# Whether a ticket was closed within its answer deadline (the statistics page, an institution's page).
DEADLINE_OUTCOMES = {"on_time": "按期办结", "late": "超期办结", "overdue": "超期未办结", "pending": "未到期"}


def deadline_outcome(ticket: Ticket, today: date) -> str:
    """on_time / late: closed (办结, China date) on or before its answer_due, or after it;
    overdue: not closed and past answer_due (answered but not closed counts too); pending: neither yet."""
    if ticket.closed_at is not None:
        return "on_time" if clock.china_date(ticket.closed_at) <= ticket.answer_due else "late"
    return "overdue" if today > ticket.answer_due else "pending"


def overdue_clause(today: date):
    """The SQL condition matching `is_overdue` (for the console's filter)."""
    return or_(
        and_(Ticket.status.in_(AWAITING_ACCEPT), Ticket.accept_due < today),
        and_(Ticket.status.in_(AWAITING_ANSWER), Ticket.answer_due < today),
    )


def queue_query(regions: Optional[list[str]], filters: dict, today: date, username: str = ""):
    """The tickets a queue shows: within `regions` (None: all), narrowed by `filters` — status,
    region, category, overdue, mine (assigned to `username`), supplemented (the follower wrote
    and no staff action followed), since (changed at or after, an aware datetime). The console's
    queue and CSV and the work-order API list the same way."""
    query = select(Ticket)
    if regions is not None:
        query = query.where(Ticket.region.in_(regions))
    for name in ("status", "region", "category"):
        if filters.get(name):
            query = query.where(getattr(Ticket, name) == filters[name])
    if filters.get("overdue"):
        query = query.where(overdue_clause(today))
    if filters.get("mine"):
        query = query.where(Ticket.assignee == username)
    if filters.get("supplemented"):
        query = query.where(Ticket.supplemented_at.is_not(None))
    if filters.get("since"):
        query = query.where(Ticket.updated_at >= filters["since"])
    return query


def mask_phone(phone: Optional[str]) -> str:
    if not phone:
        return "匿名"
    return mask_mobile(phone) if len(phone) >= 8 else "****"
