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

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session, select

from bot import tickets, web
from bot.tickets import institutions
from bot.console import auth
from bot.console.deps import DbSession, Fields, PageLogin, SettingsDep, StaffLogin
from bot.console.pages import ConsoleError, ConsoleRoute, db_id, render
from bot.evidence import fetch_missing
from bot.routing import load_routing
from bot.wechat import push
from core.config import Settings
from storage.models import Evidence, Rating, Ticket, utcnow

MEDIA_KEPT = timedelta(days=3)  # WeChat keeps a follower's media this long
NOT_YOURS = tickets.NOT_YOURS

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _ticket(s: Session, login: auth.Login, number: str, lock: bool = False) -> Ticket:
    try:
        return tickets.staff_ticket(s, number, login.can_see, lock)
    except tickets.TicketError as exc:  # no such number (404), another region (403)
        raise ConsoleError(exc.status, str(exc)) from None


def _ticket_page(request: Request, s: Session, settings: Settings, login: auth.Login, ticket: Ticket, *,
                 reveal: bool = False, error: str = "", status: int = 200) -> Response:
    routing = load_routing(settings)
    events = tickets.timeline(s, ticket)
    evidence = s.exec(select(Evidence).where(Evidence.ticket_id == ticket.id).order_by(Evidence.id)).all()
    rating = s.exec(select(Rating).where(Rating.ticket_id == ticket.id)).first()
    inst_id, others = institutions.others(s, [ticket], login.visible_regions).get(ticket.id, (None, 0))
    return render(request, "ticket.html", login, status=status, t=ticket, events=events, evidence=evidence,
                  rating=rating, allowed=tickets.allowed_actions(ticket.status, login.user.role),
                  assignees=tickets.assignees(s, ticket), reveal=reveal, error=error,
                  team=routing.team_name(ticket.team), teams=routing.teams,
                  overdue=tickets.is_overdue(ticket, tickets.local_today(settings)), inst_id=inst_id, others=others)


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
    shown = login.may_reveal(ticket.region)
    if shown:
        tickets.reveal_phone(s, ticket, login.user.username, web.client_ip(request, settings))
    s.flush()
    return _ticket_page(request, s, settings, login, ticket, reveal=shown)  # never cached: pages.SECURITY_HEADERS


@router.post("/t/{number}/action")
def ticket_action(request: Request, number: str, form: Fields, login: StaffLogin, settings: SettingsDep,
                  s: DbSession):
    ticket = _ticket(s, login, number, lock=True)
    try:
        action = tickets.Action(form.get("action", ""), form.get("text", ""), form.get("assignee", ""),
                                form.get("team", ""))
        notice = tickets.act(s, settings, ticket, login.user.username, login.user.role, action)
    except tickets.TicketError as exc:
        s.rollback()
        return _ticket_page(request, s, settings, login, _ticket(s, login, number), error=str(exc), status=409)
    tickets.commit_then_deliver(s, settings, notice, push.push)  # a failed push never undoes the reply
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
