"""/console/: the staff console — login (throttled: bot.console.throttle), one's own password,
complaint queue, ticket pages, actions, CSV export, photos.

Server-rendered Jinja2 (autoescaped) with one small stylesheet: works on a phone, needs no
front-end build. Routes stay thin: every ticket change goes through `bot.tickets`, every login
check through `bot.console.auth`. Staff see only their regions (another region → 403); phone
numbers are masked unless revealed by an explicit, logged POST. The admin pages (accounts,
notices) are bot.console.admin; the plumbing both share is bot.console.pages. Odd input
(page=², an id past the database's range) is a 4xx page with a Chinese reason. Photos come only
from this server's copy, never from a URL a follower's message supplied (that server could log
who opens the ticket, and when).
"""
from __future__ import annotations

import csv
import io
import logging
import secrets
from datetime import timedelta
from typing import Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.datastructures import FormData

from bot import tickets, web
from bot.console import auth, throttle
from bot.console.pages import (HERE, ConsoleError, ConsoleRoute, csrf_form, db_id, env, logged_in, page_number,
                               posted, render, require_role, settings_of, templates)
from bot.evidence import fetch_missing
from bot.routing import load_routing
from core.config import Settings
from storage.db import session_scope
from storage.models import Evidence, Rating, RevealLog, StaffUser, Ticket, TicketEvent, utcnow

log = logging.getLogger("policybot.console")

PAGE_SIZE = 50
MEDIA_KEPT = timedelta(days=3)  # WeChat keeps a follower's media this long

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


# ---------------------------------------------------------------- helpers

def _ticket(s: Session, login: auth.Login, number: str, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.number == number)
    if lock:  # two staff acting at once: the second sees the first one's result (PostgreSQL row lock)
        query = query.with_for_update()
    ticket = s.exec(query).first()
    if ticket is None:
        raise ConsoleError(404, "没有这个投诉编号")
    if not login.can_see(ticket.region):
        raise ConsoleError(403, "该投诉不属于您负责的地区")
    return ticket


def _filtered(login: auth.Login, settings: Settings, params: dict):
    query = select(Ticket)
    if not login.sees_all_regions:
        query = query.where(Ticket.region.in_(login.user.regions or []))
    if params.get("status"):
        query = query.where(Ticket.status == params["status"])
    if params.get("region"):
        query = query.where(Ticket.region == params["region"])
    if params.get("category"):
        query = query.where(Ticket.category == params["category"])
    if params.get("overdue"):
        query = query.where(tickets.overdue_clause(tickets.local_today(settings)))
    if params.get("mine"):
        query = query.where(Ticket.assignee == login.user.username)
    return query


def _filters(request: Request) -> dict:
    keys = ("status", "region", "category", "overdue", "mine")
    return {k: request.query_params.get(k, "").strip() for k in keys if request.query_params.get(k, "").strip()}


# ---------------------------------------------------------------- login

@router.get("/login")
def login_page(request: Request):
    return _login_form(request)


def _login_form(request: Request, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(16)
    resp = templates.TemplateResponse(request, "login.html", {"error": error, "login": None, "login_csrf": token},
                                      status_code=status)
    resp.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console",
                    secure=web.secure_cookie(request, settings_of(request)))
    return resp


@router.post("/login")
def login_submit(request: Request, form: FormData = Depends(posted)):
    """Throttled (bot.console.throttle): while the name or the address is locked → 429 with
    Retry-After, and the password is not even checked. Every outcome is in the audit trail."""
    settings = settings_of(request)
    if not auth.csrf_ok(request.cookies.get(auth.LOGIN_CSRF_COOKIE, ""), form.get("login_csrf")):
        return _login_form(request, "页面已过期，请重新登录", 403)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    ip = web.client_ip(request, settings)
    attempt = throttle.begin(settings, username, ip)
    if attempt.locked:
        return _locked(_login_form(request, throttle.refusal(attempt.locked_until), 429), attempt)
    with session_scope(settings.db_url) as s:
        user = auth.authenticate(s, username, password)
        if user is None:
            log.info("console login failed for %r", username[:64])
            known = s.exec(select(StaffUser).where(StaffUser.username == username.strip())).first()
            detail = "无此账号" if known is None else "" if known.active else "账号已停用"
            until = throttle.failed(s, settings, attempt, username, detail=detail)
            error = "用户名或密码错误" + ("。" + throttle.refusal(until) if until else "")
            return _login_form(request, error, 401)
        throttle.succeeded(s, attempt, user.username)
        token = auth.start_session(s, settings, user)
    resp = RedirectResponse("/console/", status_code=303)
    resp.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax", path="/console",
                    secure=web.secure_cookie(request, settings), max_age=settings.console_session_hours * 3600)
    resp.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console")
    return resp


def _locked(resp: Response, attempt: throttle.Attempt) -> Response:
    resp.headers["Retry-After"] = str(throttle.retry_after(attempt.locked_until))
    return resp


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(posted)):
    with session_scope(settings_of(request).db_url) as s:
        login = logged_in(request, s)
        csrf_form(form, login)
        auth.end_session(s, request.cookies.get(auth.COOKIE))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(auth.COOKIE, path="/console")
    return resp


# ---------------------------------------------------------------- own password

@router.get("/password")
def password_page(request: Request):
    with session_scope(settings_of(request).db_url) as s:
        login = logged_in(request, s, page=True)
    return _password_page(request, login)


def _password_page(request: Request, login: auth.Login, error: str = "", notice: str = "",
                   status: int = 200) -> Response:
    settings = settings_of(request)
    bootstrap = bool(settings.admin_password) and login.user.username == settings.admin_user
    return render(request, "password.html", login, status=status, error=error, notice=notice,
                  min_password=auth.MIN_PASSWORD, bootstrap=bootstrap)


@router.post("/password")
def password_change(request: Request, posted_form: FormData = Depends(posted)):
    """The logged-in user's own password: the current one (a wrong one counts for the login
    throttle), the new one twice. Success ends the user's other sessions; both are audited."""
    settings = settings_of(request)
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s)
        form = csrf_form(posted_form, login)
    current, new = form.get("current", ""), form.get("new", "")
    problem = auth.new_password_problem(current, new, form.get("again", ""))
    if problem:
        return _password_page(request, login, error=problem, status=400)
    attempt = throttle.begin(settings, login.user.username, web.client_ip(request, settings))
    if attempt.locked:
        return _locked(_password_page(request, login, error=throttle.refusal(attempt.locked_until), status=429),
                       attempt)
    with session_scope(settings.db_url) as s:
        user = s.get(StaffUser, login.user.id)
        if not auth.verify_password(current, user.password_hash):
            until = throttle.failed(s, settings, attempt, user.username, "password_failed")
            error = "当前密码不正确" + ("。" + throttle.refusal(until) if until else "")
            return _password_page(request, login, error=error, status=403)
        ended = auth.change_password(s, user, new, keep=request.cookies.get(auth.COOKIE))
        throttle.succeeded(s, attempt, user.username, "password_changed", f"其他登录已退出 {ended} 个")
    log.info("console: %s changed their password", login.user.username)
    return _password_page(request, login, notice="密码已修改，其他设备上的登录已全部退出。")


# ---------------------------------------------------------------- queue

@router.get("/")
def queue(request: Request, page: str = "1"):
    settings = settings_of(request)
    routing = load_routing(settings)
    params = _filters(request)
    today = tickets.local_today(settings)
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s, page=True)
        query = _filtered(login, settings, params)
        total = s.exec(select(func.count()).select_from(query.subquery())).one()
        pages = max(1, -(-total // PAGE_SIZE))
        page = page_number(page.strip(), pages)
        rows = s.exec(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                      .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
        items = [{"t": t, "overdue": tickets.is_overdue(t, today), "team": routing.team_name(t.team)} for t in rows]
        regions = routing.region_names if login.sees_all_regions else (login.user.regions or [])
        return render(request, "queue.html", login, items=items, total=total, page=page,
                      pages=pages, params=params, statuses=tickets.STATES,
                      regions=regions, categories=tickets.CATEGORIES,
                      query=urlencode(params), can_export=login.user.role in ("supervisor", "admin"))


@router.get("/export.csv")
def export_csv(request: Request):
    """The filtered queue as CSV (supervisors and admins). Phones stay masked."""
    settings = settings_of(request)
    routing = load_routing(settings)
    today = tickets.local_today(settings)
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s)
        require_role(login, "supervisor", "admin")
        rows = s.exec(_filtered(login, settings, _filters(request)).order_by(Ticket.created_at)).all()
        ratings = dict(s.exec(select(Rating.ticket_id, Rating.score)).all())
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(["编号", "状态", "逾期", "地区", "类别", "被投诉机构", "发生时间", "地点", "描述", "手机",
                      "承办部门", "承办人", "提交时间", "受理时限", "答复时限", "办结时间", "评分"])
        local = env.filters["local"]
        for t in rows:
            out.writerow([_cell(v) for v in (
                t.number, t.status, "是" if tickets.is_overdue(t, today) else "", t.region, t.category, t.institution,
                t.happened, t.region_text, t.description, tickets.mask_phone(t.phone), routing.team_name(t.team),
                t.assignee or "", local(t.created_at), t.accept_due.isoformat(), t.answer_due.isoformat(),
                local(t.closed_at), ratings.get(t.id, ""))])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="complaints.csv"'})


def _cell(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---------------------------------------------------------------- one ticket

def _assignees(s: Session, ticket: Ticket) -> list[str]:
    """Active accounts that may handle this ticket: its region's staff, supervisors, admins."""
    users = s.exec(select(StaffUser).where(StaffUser.active == True).order_by(StaffUser.username))  # noqa: E712
    return [u.username for u in users if u.role != "staff" or ticket.region in (u.regions or [])]


def _ticket_page(request: Request, s: Session, login: auth.Login, ticket: Ticket, *, reveal: bool = False,
                 error: str = "", status: int = 200) -> Response:
    settings = settings_of(request)
    routing = load_routing(settings)
    events = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                    .order_by(TicketEvent.at, TicketEvent.id)).all()
    evidence = s.exec(select(Evidence).where(Evidence.ticket_id == ticket.id).order_by(Evidence.id)).all()
    rating = s.exec(select(Rating).where(Rating.ticket_id == ticket.id)).first()
    allowed = [a for a, t in tickets.TRANSITIONS.items() if ticket.status in t.sources and login.user.role in t.roles]
    return render(request, "ticket.html", login, status=status, t=ticket, events=events, evidence=evidence,
                  rating=rating, allowed=allowed, assignees=_assignees(s, ticket), reveal=reveal, error=error,
                  team=routing.team_name(ticket.team), teams=routing.teams, overdue=tickets.is_overdue(
                      ticket, tickets.local_today(settings)))


@router.get("/t/{number}")
def ticket_page(request: Request, number: str):
    settings = settings_of(request)
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s, page=True)
        ticket = _ticket(s, login, number)
        missing = s.exec(select(Evidence.id).where(Evidence.ticket_id == ticket.id, Evidence.file_path.is_(None),
                                                   Evidence.media_id.is_not(None))).first()
    if missing is not None and ticket.created_at > utcnow() - MEDIA_KEPT:
        fetch_missing(settings, ticket.id)
    with session_scope(settings.db_url) as s:
        return _ticket_page(request, s, login, _ticket(s, login, number))


@router.post("/t/{number}/reveal")
def reveal_phone(request: Request, number: str, form: FormData = Depends(posted)):
    """Show the full phone number once, and log who saw it."""
    with session_scope(settings_of(request).db_url) as s:
        login = logged_in(request, s)
        csrf_form(form, login)
        ticket = _ticket(s, login, number)
        if ticket.phone:
            s.add(RevealLog(ticket_id=ticket.id, username=login.user.username,
                            ip=web.client_ip(request, settings_of(request))))
            tickets.add_event(s, ticket, login.user.username, "revealed", "查看了完整手机号")
        s.flush()
        return _ticket_page(request, s, login, ticket, reveal=True)  # never cached: see pages.SECURITY_HEADERS


@router.post("/t/{number}/action")
def ticket_action(request: Request, number: str, posted_form: FormData = Depends(posted)):
    settings = settings_of(request)
    to_follower: Optional[str] = None
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s)
        form = csrf_form(posted_form, login)
        ticket = _ticket(s, login, number, lock=True)
        who, role, action = login.user.username, login.user.role, form.get("action", "")
        text = form.get("text", "")
        try:
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
                to_follower = tickets.reply(s, settings, ticket, who, role, text)
            elif action == "return":
                tickets.return_for_rework(s, ticket, who, role, text)
            elif action == "close":
                to_follower = tickets.close(s, settings, ticket, who, role, text)
            else:
                raise tickets.TicketError("未知操作")
        except tickets.TicketError as exc:
            s.rollback()
            return _ticket_page(request, s, login, _ticket(s, login, number), error=str(exc), status=409)
    # committed: now tell the follower (a failed push never undoes the reply)
    if to_follower:
        try:
            tickets.notify_follower(settings, ticket.id, to_follower)
        except Exception:
            log.exception("ticket %s: could not send the follower the %s", number, action)
    if login.can_see(ticket.region):
        return RedirectResponse(f"/console/t/{number}", status_code=303)
    return RedirectResponse("/console/", status_code=303)  # transferred out of this user's regions


@router.get("/evidence/{evidence_id}")
def evidence_file(request: Request, evidence_id: int):
    settings = settings_of(request)
    with session_scope(settings.db_url) as s:
        login = logged_in(request, s)
        ev = s.get(Evidence, db_id(evidence_id, "没有这张图片"))
        ticket = s.get(Ticket, ev.ticket_id) if ev else None
        if ev is None or ticket is None:
            raise ConsoleError(404, "没有这张图片")
        if not login.can_see(ticket.region):
            raise ConsoleError(403, "该投诉不属于您负责的地区")
    if ev.file_path:  # only our own copy: the PicUrl came in a follower's message
        path = (settings.data_dir / ev.file_path).resolve()
        if path.is_file() and settings.data_dir.resolve() in path.parents:
            return FileResponse(path, headers={"Cache-Control": "private, no-store"})
    raise ConsoleError(404, "图片尚未下载到本服务器（微信只保留3天，下载失败时无法查看）")


@router.get("/static/console.css")
def stylesheet():
    return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})
