"""/console/t/{number} and /console/evidence/{id}: one complaint — its page, the logged reveal
of the phone number, the staff actions, and its photos.

Why its own module: this is the complaint desk proper; it changes with what staff do to a
ticket. The handlers stay thin: every change goes through `bot.tickets`, which decides and
records; this module only checks who may see the ticket (another region → 403), commits, and
then hands the follower's notice to the WeChat push (bot.wechat.push) — a failed push never
undoes the reply. Phone numbers are masked unless revealed by an explicit, logged POST. Photos
come only from this server's copy, never from a URL a follower's message supplied (that server
could log who opens the ticket, and when).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session, select

from bot import tickets, web
from bot.console import auth
from bot.console.deps import DbSession, Fields, PageLogin, SettingsDep, StaffLogin
from bot.console.pages import ConsoleError, ConsoleRoute, db_id, render
from bot.evidence import fetch_missing
from bot.routing import load_routing
from bot.wechat import push
from core.config import Settings
from storage.models import Evidence, Rating, RevealLog, StaffUser, Ticket, TicketEvent, utcnow

log = logging.getLogger("policybot.console")

MEDIA_KEPT = timedelta(days=3)  # WeChat keeps a follower's media this long
NOT_YOURS = "该投诉不属于您负责的地区"

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _ticket(s: Session, login: auth.Login, number: str, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.number == number)
    if lock:  # two staff acting at once: the second sees the first one's result (PostgreSQL row lock)
        query = query.with_for_update()
    ticket = s.exec(query).first()
    if ticket is None:
        raise ConsoleError(404, "没有这个投诉编号")
    if not login.can_see(ticket.region):
        raise ConsoleError(403, NOT_YOURS)
    return ticket


def _assignees(s: Session, ticket: Ticket) -> list[str]:
    """Active accounts that may handle this ticket: its region's staff, supervisors, admins."""
    users = s.exec(select(StaffUser).where(StaffUser.active == True).order_by(StaffUser.username))  # noqa: E712
    return [u.username for u in users if u.role != "staff" or ticket.region in (u.regions or [])]


def _ticket_page(request: Request, s: Session, settings: Settings, login: auth.Login, ticket: Ticket, *,
                 reveal: bool = False, error: str = "", status: int = 200) -> Response:
    routing = load_routing(settings)
    events = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                    .order_by(TicketEvent.at, TicketEvent.id)).all()
    evidence = s.exec(select(Evidence).where(Evidence.ticket_id == ticket.id).order_by(Evidence.id)).all()
    rating = s.exec(select(Rating).where(Rating.ticket_id == ticket.id)).first()
    return render(request, "ticket.html", login, status=status, t=ticket, events=events, evidence=evidence,
                  rating=rating, allowed=tickets.allowed_actions(ticket.status, login.user.role),
                  assignees=_assignees(s, ticket), reveal=reveal, error=error,
                  team=routing.team_name(ticket.team), teams=routing.teams,
                  overdue=tickets.is_overdue(ticket, tickets.local_today(settings)))


@router.get("/t/{number}")
def ticket_page(request: Request, number: str, login: PageLogin, settings: SettingsDep, s: DbSession):
    ticket = _ticket(s, login, number)
    missing = s.exec(select(Evidence.id).where(Evidence.ticket_id == ticket.id, Evidence.file_path.is_(None),
                                               Evidence.media_id.is_not(None),
                                               Evidence.created_at > utcnow() - MEDIA_KEPT)).first()
    if missing is not None:  # a photo sent with the complaint or supplemented later
        s.commit()  # no transaction left open while the photos download
        fetch_missing(settings, ticket.id)
        s.expire_all()  # the page shows what the download stored
    return _ticket_page(request, s, settings, login, ticket)


@router.post("/t/{number}/reveal")
def reveal_phone(request: Request, number: str, _form: Fields, login: StaffLogin, settings: SettingsDep,
                 s: DbSession):
    """Show the full phone number once, and log who saw it."""
    ticket = _ticket(s, login, number)
    if ticket.phone:
        s.add(RevealLog(ticket_id=ticket.id, username=login.user.username, ip=web.client_ip(request, settings)))
        tickets.add_event(s, ticket, login.user.username, "revealed", "查看了完整手机号")
    s.flush()
    return _ticket_page(request, s, settings, login, ticket, reveal=True)  # never cached: pages.SECURITY_HEADERS


def _act(s: Session, settings: Settings, ticket: Ticket, login: auth.Login,
         form: dict[str, str]) -> Optional[tickets.FollowerNotice]:
    """Apply the posted action through bot.tickets; a reply, a question or a 办结 returns the
    follower's notice. Every action but a reveal clears 投诉人已补充 (rules.CLEARS_SUPPLEMENT)."""
    who, role, action, text = login.user.username, login.user.role, form.get("action", ""), form.get("text", "")
    if action == "accept":
        tickets.accept(s, settings, ticket, who, role)
    elif action == "assign":
        if form.get("assignee") not in _assignees(s, ticket):
            raise tickets.TicketError("承办人须是负责该地区的在岗账号")
        tickets.assign(s, settings, ticket, who, role, form["assignee"])
    elif action == "transfer":
        tickets.transfer(s, settings, ticket, who, role, form.get("team", ""), text)
    elif action == "note":
        tickets.add_note(s, ticket, who, role, text)
    elif action == "reply":
        return tickets.reply(s, settings, ticket, who, role, text)
    elif action == "ask":  # the follower's next messages and photos go to this ticket
        return tickets.ask(s, settings, ticket, who, role, text)
    elif action == "return":
        tickets.return_for_rework(s, ticket, who, role, text)
    elif action == "close":
        return tickets.close(s, settings, ticket, who, role, text)
    else:
        raise tickets.TicketError("未知操作")
    return None


@router.post("/t/{number}/action")
def ticket_action(request: Request, number: str, form: Fields, login: StaffLogin, settings: SettingsDep,
                  s: DbSession):
    ticket = _ticket(s, login, number, lock=True)
    try:
        notice = _act(s, settings, ticket, login, form)
    except tickets.TicketError as exc:
        s.rollback()
        return _ticket_page(request, s, settings, login, _ticket(s, login, number), error=str(exc), status=409)
    s.commit()  # committed: now tell the follower (a failed push never undoes the reply)
    if notice is not None:
        try:
            tickets.deliver(settings, notice, push.push)
        except Exception:
            log.exception("ticket %s: could not send the follower the %s", number, form.get("action", ""))
    if login.can_see(ticket.region):
        return RedirectResponse(f"/console/t/{number}", status_code=303)
    return RedirectResponse("/console/", status_code=303)  # transferred out of this user's regions


@router.get("/evidence/{evidence_id}")
def evidence_file(evidence_id: int, login: StaffLogin, settings: SettingsDep, s: DbSession):
    ev = s.get(Evidence, db_id(evidence_id, "没有这张图片"))
    ticket = s.get(Ticket, ev.ticket_id) if ev else None
    if ev is None or ticket is None:
        raise ConsoleError(404, "没有这张图片")
    if not login.can_see(ticket.region):
        raise ConsoleError(403, NOT_YOURS)
    if ev.file_path:  # only our own copy: the PicUrl came in a follower's message
        path = (settings.data_dir / ev.file_path).resolve()
        if path.is_file() and settings.data_dir.resolve() in path.parents:
            return FileResponse(path, headers={"Cache-Control": "private, no-store"})
    raise ConsoleError(404, "图片尚未下载到本服务器（微信只保留3天，下载失败时无法查看）")
