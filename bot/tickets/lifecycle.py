"""Every change to a Ticket: filing, the staff actions, and the notices they owe the follower.

Why one module: each change is checked against the allowed transitions (bot.tickets.rules) and
leaves a TicketEvent (who, when, what) — the console and the follower's dialog only call these
functions. Why it sends nothing: a reply or a 办结 *emits* a `FollowerNotice`, and the caller,
once it has committed, hands it to the channel (bot.tickets.delivery with the WeChat push). The
rules thus stay the same whichever channel carries them, and the order
"commit, then tell the follower" is the caller's, visible where the commit is.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Literal, Optional

from sqlalchemy import update
from sqlmodel import Session, select

from bot.routing import load_routing
from bot.tickets.institutions import group_of
from bot.tickets.rules import (CLEARS_SUPPLEMENT, NOT_YOURS, NOTE_MAX, PUBLIC_TEXT_MAX, NotFound, NotPermitted,
                               TicketError, WrongState, add_working_days, check, due_after, holidays, local_today)
from core.config import Settings
from core.text import cn_date
from storage.models import Evidence, RevealLog, StaffUser, Ticket, TicketEvent, utcnow


@dataclass(frozen=True)
class FollowerNotice:
    """What a staff action owes the follower: this text, to this openid, about this ticket.

    Emitted, never sent here: the caller commits first, then hands it to a carrier
    (bot.tickets.delivery.deliver with the WeChat push), so a failed send never undoes the
    action and a rolled-back action never reaches the follower."""
    ticket_id: int
    openid: str
    kind: Literal["reply", "closed", "ask"]
    text: str


RATING_REQUEST = "请为本次处理打分（回访）：直接回复数字\n1 很不满意\n2 不满意\n3 一般\n4 满意\n5 很满意"


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
    source: Optional[str] = None  # forwarded from another system (12345, 信件, 来访): its name …
    external_id: Optional[str] = None  # … and its case number there; None for the chat


def _new_number(session: Session, today: date) -> str:
    while True:
        number = f"TS{today:%Y%m%d}-{secrets.randbelow(10**6):06d}"
        if session.exec(select(Ticket.id).where(Ticket.number == number)).first() is None:
            return number


def new_progress_token() -> str:
    """The key of the ticket's read-only progress page (/progress/{token}): 192 random bits, so
    guessing one is hopeless and the page needs no login."""
    return secrets.token_urlsafe(24)


def add_event(session: Session, ticket: Ticket, actor: str, action: str, detail: str = "",
              public: bool = False) -> TicketEvent:
    """One line of the ticket's trail; a staff action in CLEARS_SUPPLEMENT clears 投诉人已补充."""
    ev = TicketEvent(ticket_id=ticket.id, actor=actor, action=action, detail=detail, public=public)
    session.add(ev)
    ticket.updated_at = utcnow()
    if action in CLEARS_SUPPLEMENT:
        ticket.supplemented_at = None
    session.add(ticket)
    return ev


REVEALED = "查看了完整手机号"


def reveal_phone(session: Session, ticket: Ticket, username: str, ip: str, actor: Optional[str] = None) -> Optional[str]:
    """The ticket's full phone number for a staff member allowed to see the ticket (the console's
    reveal, the work-order API's `?reveal=phone`): every reveal is in RevealLog (who, from where)
    and on the timeline. None when the complaint left no number (nothing is logged then)."""
    if not ticket.phone:
        return None
    session.add(RevealLog(ticket_id=ticket.id, username=username, ip=ip))
    add_event(session, ticket, actor or username, "revealed", REVEALED)
    return ticket.phone


def find_forwarded(session: Session, source: str, external_id: str) -> Optional[Ticket]:
    """The ticket another system already forwarded as (`source`, `external_id`), if any."""
    return session.exec(select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)).first()


def file_complaint(session: Session, settings: Settings, openid: str, c: NewComplaint,
                   intake_key: Optional[str] = None, actor: str = "follower") -> Ticket:
    """Write the ticket, its evidence and its first event into the CALLER's transaction.

    Flushed, not committed: the caller commits before anyone is told. Why not commit here: the
    follower's dialog must commit the ticket and the cleared form state (and the de-dup record's
    reply) as ONE transaction — a crash between two commits would leave the form at "confirm"
    with the ticket already filed, and the follower's next "1" would file it a second time.
    `intake_key` identifies the confirming message: handling it again returns the same ticket.
    A forwarded complaint (`c.source`, work-order API) has no openid unless the caller gave one,
    and `actor` is the API caller; it is routed and timed like one filed in the chat. It joins
    the institution group of its name's key (bot.tickets.institutions).
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
        intake_key=intake_key, progress_token=new_progress_token(), source=c.source, external_id=c.external_id,
        accept_due=add_working_days(today, settings.ticket_accept_days, skip),
        answer_due=add_working_days(today, settings.ticket_answer_days, skip),
        institution_id=group_of(session, c.institution),
    )
    session.add(ticket)
    session.flush()
    for item in c.evidence:
        session.add(Evidence(ticket_id=ticket.id, media_id=item.get("media_id"), pic_url=item.get("pic_url")))
    origin = f"来自{c.source}（{c.external_id}）；" if c.source else ""
    add_event(session, ticket, actor, "created",
              f"{origin}分派至 {routing.team_name(ticket.team)}（{region}）；证据 {len(c.evidence)} 张")
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

def staff_ticket(session: Session, number: str, can_see: Callable[[str], bool], lock: bool = False) -> Ticket:
    """The ticket a staff member (console login or API token) asks for by number: NotFound, or
    NotPermitted when `can_see` refuses its region. `lock`: two acting at once, the second sees
    the first one's result (PostgreSQL row lock)."""
    query = select(Ticket).where(Ticket.number == (number or "").strip().upper())
    if lock:
        query = query.with_for_update()
    ticket = session.exec(query).first()
    if ticket is None:
        raise NotFound("没有这个投诉编号", "number")
    if not can_see(ticket.region):
        raise NotPermitted(NOT_YOURS, "number")
    return ticket


def _move(session: Session, ticket: Ticket, action: str, role: str) -> None:
    t = check(ticket.status, action, role)
    if t.to:
        # compare-and-set: of two staff acting on the same state at once, only one moves it
        moved = session.exec(update(Ticket).where(Ticket.id == ticket.id, Ticket.status == ticket.status)
                             .values(status=t.to))
        if moved.rowcount != 1:
            raise WrongState("该投诉刚被其他人处理过，请刷新页面后再试", "action")
        ticket.status = t.to
    session.add(ticket)


def accept(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str) -> None:
    _move(session, ticket, "accept", role)
    add_event(session, ticket, actor, "accepted", "", public=True)


def assignees(session: Session, ticket: Ticket) -> list[str]:
    """Active accounts that may handle this ticket: its region's staff, supervisors, admins."""
    users = session.exec(select(StaffUser).where(StaffUser.active == True).order_by(StaffUser.username))  # noqa: E712
    return [u.username for u in users if u.role != "staff" or ticket.region in (u.regions or [])]


def assign(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, assignee: str) -> None:
    if not assignee:
        raise TicketError("请选择承办人", "assignee")
    _move(session, ticket, "assign", role)
    ticket.assignee = assignee
    add_event(session, ticket, actor, "assigned", f"承办人：{assignee}")


def transfer(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str,
             team_id: str, reason: str) -> None:
    routing = load_routing(settings)
    team = routing.teams.get(team_id)
    if team is None:
        raise TicketError("没有这个部门", "team")
    if team_id == ticket.team:
        raise TicketError("已经在该部门", "team")
    if not reason.strip():
        raise TicketError("请写明转办原因")
    _move(session, ticket, "transfer", role)
    old = routing.team_name(ticket.team)
    ticket.team = team_id
    ticket.assignee = None
    if team.region:
        ticket.region = team.region
    ticket.accept_due = due_after(settings, settings.ticket_accept_days)
    add_event(session, ticket, actor, "transferred", f"{old} → {team.name}：{reason.strip()}")


def add_note(session: Session, ticket: Ticket, actor: str, role: str, text: str) -> None:
    if not text.strip():
        raise TicketError("备注不能为空")
    if len(text) > NOTE_MAX:
        raise TicketError(f"备注请控制在 {NOTE_MAX} 字以内")
    check(ticket.status, "note", role)
    add_event(session, ticket, actor, "note", text.strip(), public=False)


def return_for_rework(session: Session, ticket: Ticket, actor: str, role: str, reason: str) -> None:
    if not reason.strip():
        raise TicketError("请写明退回原因")
    _move(session, ticket, "return", role)
    add_event(session, ticket, actor, "returned", reason.strip())


def public_text(text: str, what: str, required: bool = True) -> str:
    """A text the follower will read: it must fit one WeChat message with its header."""
    text = (text or "").strip()
    if required and not text:
        raise TicketError(f"{what}不能为空")
    if len(text) > PUBLIC_TEXT_MAX:
        raise TicketError(f"{what}请控制在 {PUBLIC_TEXT_MAX} 字以内（一条微信消息）")
    return text


def reply(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str, text: str) -> FollowerNotice:
    """Record a public reply; returns the notice the follower is owed (send it after the commit)."""
    text = public_text(text, "答复")
    _move(session, ticket, "reply", role)
    add_event(session, ticket, actor, "reply", text, public=True)
    return FollowerNotice(ticket_id=ticket.id, openid=ticket.openid, kind="reply",
                          text=f"您的投诉（编号 {ticket.number}）有新答复：\n{text}")


def close(session: Session, settings: Settings, ticket: Ticket, actor: str, role: str,
          summary: str = "") -> FollowerNotice:
    """办结, and ask for the 回访 rating; returns the notice the follower is owed (after the commit)."""
    summary = public_text(summary, "办结说明", required=False)
    _move(session, ticket, "close", role)
    ticket.closed_at = utcnow()
    ticket.rating_asked_at = utcnow()
    add_event(session, ticket, actor, "closed", summary, public=True)
    return FollowerNotice(ticket_id=ticket.id, openid=ticket.openid, kind="closed", text=(
        f"您的投诉（编号 {ticket.number}）已办结。\n" + (f"办结说明：{summary}\n" if summary else "")
        + RATING_REQUEST
    ))
