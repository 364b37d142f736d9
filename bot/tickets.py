"""The complaint lifecycle: filing, the state machine, due dates, replies to the follower, 回访.

One module owns every change to a Ticket so that each change is checked against the allowed
transitions and leaves a TicketEvent (who, when, what) — the console and the follower's dialog
only call these functions. States: 待受理 → 已受理 → 办理中 → 已答复 → 已办结, plus 转办 (handed to
another team, which must accept it again) and 退回 (a supervisor sends an answer back for rework).
Due dates count working days (weekends and POLICYBOT_HOLIDAYS skipped) from the local date.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta, timezone
from typing import Optional

from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from bot.routing import load_routing
from core import clock
from core.clock import CHINA
from forms.parsers import mask_mobile
from knowledge.textutil import cn_date
from core.config import Settings
from storage.db import session_scope
from storage.models import Evidence, Rating, Ticket, TicketEvent, utcnow

log = logging.getLogger("policybot.tickets")

CATEGORIES = ["虚假宣传", "许诺补贴", "冒用政府部门名义", "擅自开班", "管理混乱", "材料造假", "乱收费", "其他"]
STATES = ["待受理", "已受理", "办理中", "已答复", "已办结", "转办", "退回"]
AWAITING_ACCEPT = ("待受理", "转办")
AWAITING_ANSWER = ("已受理", "办理中", "退回")
CLOSED = "已办结"
RATING_WINDOW = timedelta(days=7)
PUBLIC_TEXT_MAX = 500  # characters: with its header a reply stays within one 2048-byte message
NOTE_MAX = 2000



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
}

ACTION_LABELS = {
    "created": "提交投诉", "accepted": "受理", "assigned": "指派", "transferred": "转办",
    "returned": "退回重办", "note": "内部备注", "reply": "答复", "closed": "办结",
    "revealed": "查看完整手机号", "rated": "满意度评价", "evidence": "补充证据", "delivery": "消息推送",
}


class TicketError(Exception):
    """An action that is not allowed now; the message is Chinese, fit to show to staff."""


# ---------------------------------------------------------------- dates

def local_today(settings: Settings) -> date:
    return clock.today(settings)


def holidays(settings: Settings) -> set[date]:
    out = set()
    for part in (settings.holidays or "").split(","):
        part = part.strip()
        if part:
            out.add(date.fromisoformat(part))
    return out


def add_working_days(start: date, days: int, skip: set[date] = frozenset()) -> date:
    """The date `days` working days after `start` (Mon–Fri, minus `skip`)."""
    d = start
    left = days
    while left > 0:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in skip:
            left -= 1
    return d


def is_overdue(ticket: Ticket, today: date) -> bool:
    if ticket.status in AWAITING_ACCEPT:
        return today > ticket.accept_due
    if ticket.status in AWAITING_ANSWER:
        return today > ticket.answer_due
    return False


def overdue_clause(today: date):
    """The SQL condition matching `is_overdue` (for the console's filter)."""
    return or_(
        and_(Ticket.status.in_(AWAITING_ACCEPT), Ticket.accept_due < today),
        and_(Ticket.status.in_(AWAITING_ANSWER), Ticket.answer_due < today),
    )


def mask_phone(phone: Optional[str]) -> str:
    if not phone:
        return "匿名"
    return mask_mobile(phone) if len(phone) >= 8 else "****"


# ---------------------------------------------------------------- filing

@dataclass
class NewComplaint:
    institution: str
    category: str
    happened: str
    place: str  # as typed; mapped to a region by the routing rules
    description: str
    phone: Optional[str] = None  # None: anonymous
    evidence: list[dict] = field(default_factory=list)  # [{"media_id": …, "pic_url": …}]
    region: Optional[str] = None  # already canonical (chosen from the numbered list)


def _new_number(session: Session, today: date) -> str:
    while True:
        number = f"TS{today:%Y%m%d}-{secrets.randbelow(10**6):06d}"
        if session.exec(select(Ticket.id).where(Ticket.number == number)).first() is None:
            return number


def add_event(session: Session, ticket: Ticket, actor: str, action: str, detail: str = "",
              public: bool = False) -> TicketEvent:
    ev = TicketEvent(ticket_id=ticket.id, actor=actor, action=action, detail=detail, public=public)
    session.add(ev)
    ticket.updated_at = utcnow()
    session.add(ticket)
    return ev


def file_complaint(session: Session, settings: Settings, openid: str, c: NewComplaint,
                   intake_key: Optional[str] = None) -> Ticket:
    """Write the ticket, its evidence and its first event into the CALLER's transaction.

    Flushed, not committed: the caller commits before anyone is told. Why not commit here: the
    follower's dialog must commit the ticket and the cleared form state (and the de-dup record's
    reply) as ONE transaction — a crash between two commits would leave the form at "confirm"
    with the ticket already filed, and the follower's next "1" would file it a second time.
    `intake_key` identifies the confirming message: handling it again returns the same ticket.
    """
    if intake_key:
        existing = session.exec(select(Ticket).where(Ticket.intake_key == intake_key)).first()
        if existing is not None:
            return existing
    routing = load_routing(settings)
    region = c.region or routing.match_region(c.place) or routing.fallback_region
    today = local_today(settings)
    skip = holidays(settings)
    ticket = Ticket(
        number=_new_number(session, today), openid=openid, institution=c.institution.strip(),
        category=c.category, happened=c.happened.strip(), region=region, region_text=c.place.strip(),
        description=c.description.strip(), phone=c.phone, team=routing.team_for(region, c.category),
        intake_key=intake_key,
        accept_due=add_working_days(today, settings.ticket_accept_days, skip),
        answer_due=add_working_days(today, settings.ticket_answer_days, skip),
    )
    session.add(ticket)
    session.flush()
    for item in c.evidence:
        session.add(Evidence(ticket_id=ticket.id, media_id=item.get("media_id"), pic_url=item.get("pic_url")))
    add_event(session, ticket, "follower", "created",
              f"分派至 {routing.team_name(ticket.team)}（{region}）；证据 {len(c.evidence)} 张")
    session.flush()
    return ticket


def filed_message(settings: Settings, ticket: Ticket) -> str:
    return (
        f"投诉已提交。\n投诉编号：{ticket.number}\n"
        f"接下来：{load_routing(settings).team_name(ticket.team)}将在{cn_date(ticket.accept_due)}前受理，"
        f"{cn_date(ticket.answer_due)}前答复您，答复会发到这里。\n"
        f"查询进度请回复“进度 {ticket.number}”。"
    )


# ---------------------------------------------------------------- staff actions

def _check(ticket: Ticket, action: str, role: str) -> Transition:
    t = TRANSITIONS[action]
    if role not in t.roles:
        raise TicketError("您的角色不能执行此操作")
    if ticket.status not in t.sources:
        raise TicketError(f"当前状态“{ticket.status}”不能执行此操作")
    return t


def _move(session: Session, ticket: Ticket, action: str, role: str) -> None:
    t = _check(ticket, action, role)
    if t.to:
        # compare-and-set: of two staff acting on the same state at once, only one moves it
        moved = session.exec(update(Ticket).where(Ticket.id == ticket.id, Ticket.status == ticket.status)
                             .values(status=t.to))
        if moved.rowcount != 1:
            raise TicketError("该投诉刚被其他人处理过，请刷新页面后再试")
        ticket.status = t.to
    session.add(ticket)


def accept(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str) -> None:
    _move(session, ticket, "accept", role)
    add_event(session, ticket, actor, "accepted", "", public=True)


def assign(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, assignee: str) -> None:
    if not assignee:
        raise TicketError("请选择承办人")
    _move(session, ticket, "assign", role)
    ticket.assignee = assignee
    add_event(session, ticket, actor, "assigned", f"承办人：{assignee}")


def transfer(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str,
             team_id: str, reason: str) -> None:
    routing = load_routing(settings)
    team = routing.teams.get(team_id)
    if team is None:
        raise TicketError("没有这个部门")
    if team_id == ticket.team:
        raise TicketError("已经在该部门")
    if not reason.strip():
        raise TicketError("请写明转办原因")
    _move(session, ticket, "transfer", role)
    old = routing.team_name(ticket.team)
    ticket.team = team_id
    ticket.assignee = None
    if team.region:
        ticket.region = team.region
    ticket.accept_due = add_working_days(local_today(settings), settings.ticket_accept_days, holidays(settings))
    add_event(session, ticket, actor, "transferred", f"{old} → {team.name}：{reason.strip()}")


def add_note(session: Session, ticket: Ticket, actor: str, role: str, text: str) -> None:
    if not text.strip():
        raise TicketError("备注不能为空")
    if len(text) > NOTE_MAX:
        raise TicketError(f"备注请控制在 {NOTE_MAX} 字以内")
    _check(ticket, "note", role)
    add_event(session, ticket, actor, "note", text.strip(), public=False)


def return_for_rework(session: Session, ticket: Ticket, actor: str, role: str, reason: str) -> None:
    if not reason.strip():
        raise TicketError("请写明退回原因")
    _move(session, ticket, "return", role)
    add_event(session, ticket, actor, "returned", reason.strip())


def _public_text(text: str, what: str, required: bool = True) -> str:
    """A text the follower will read: it must fit one WeChat message with its header."""
    text = (text or "").strip()
    if required and not text:
        raise TicketError(f"{what}不能为空")
    if len(text) > PUBLIC_TEXT_MAX:
        raise TicketError(f"{what}请控制在 {PUBLIC_TEXT_MAX} 字以内（一条微信消息）")
    return text


def reply(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, text: str) -> str:
    """Record a public reply; returns the message to send the follower (after the commit)."""
    text = _public_text(text, "答复")
    _move(session, ticket, "reply", role)
    add_event(session, ticket, actor, "reply", text, public=True)
    return f"您的投诉（编号 {ticket.number}）有新答复：\n{text}"


def close(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, summary: str = "") -> str:
    """办结, and ask for the 回访 rating; returns the message to send the follower."""
    summary = _public_text(summary, "办结说明", required=False)
    _move(session, ticket, "close", role)
    ticket.closed_at = utcnow()
    ticket.rating_asked_at = utcnow()
    add_event(session, ticket, actor, "closed", summary, public=True)
    return (
        f"您的投诉（编号 {ticket.number}）已办结。\n" + (f"办结说明：{summary}\n" if summary else "")
        + "请为本次处理打分（回访）：直接回复数字\n1 很不满意\n2 不满意\n3 一般\n4 满意\n5 很满意"
    )


def notify_follower(settings: Settings, ticket_id: int, text: str) -> bool:
    """Send through the customer-service API now, or keep it (45015 …) for the follower's next
    message — the channel's push machinery does both. Call after the commit. The outcome goes on
    the timeline so staff know whether the follower has it yet; True when delivered now."""
    from bot.wechat.push import push

    with session_scope(settings.db_url) as s:
        openid = s.get(Ticket, ticket_id).openid
    delivered = push(settings, openid, text)
    with session_scope(settings.db_url) as s:
        add_event(s, s.get(Ticket, ticket_id), "system", "delivery",
                  "已通过客服消息送达投诉人" if delivered else "暂未送达（如超出48小时互动窗口），投诉人下次发消息时自动补发")
    return delivered


# ---------------------------------------------------------------- the follower's side

def find_own(session: Session, openid: str, number: str) -> Optional[Ticket]:
    """The ticket only if this follower filed it — anyone else learns nothing."""
    number = (number or "").strip().upper()
    return session.exec(select(Ticket).where(Ticket.number == number, Ticket.openid == openid)).first()


def last_public_reply(session: Session, ticket: Ticket) -> Optional[TicketEvent]:
    return session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "reply")
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).first()


def progress_text(session: Session, settings: Settings, openid: str, number: str) -> str:
    ticket = find_own(session, openid, number)
    if ticket is None:
        return "未找到该编号。请核对投诉编号（如 TS20261121-123456）。"
    lines = [f"投诉编号：{ticket.number}", f"被投诉机构：{ticket.institution}", f"状态：{ticket.status}"]
    if ticket.status in AWAITING_ACCEPT:
        lines.append(f"受理时限：{cn_date(ticket.accept_due)}")
    elif ticket.status in AWAITING_ANSWER:
        lines.append(f"答复时限：{cn_date(ticket.answer_due)}")
    last = last_public_reply(session, ticket)
    if last:
        when = last.at.replace(tzinfo=timezone.utc).astimezone(CHINA)
        lines.append(f"最新答复（{when.month}月{when.day}日）：{last.detail}")
    else:
        lines.append("暂无答复。")
    return "\n".join(lines)


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
