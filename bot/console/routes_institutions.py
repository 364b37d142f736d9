"""/console/institutions: the regulators' view of the institutions complained about — the list
(most complaints first), one institution's page (the names it was written as, its complaints,
counts by category, status and deadline), and the admins' merge and its undo (split).

Why its own module: these pages change with what regulators want to see about an institution,
not with the queue (bot.console.routes_queue) or one ticket (routes_ticket). The grouping and
the audit are bot.tickets.institutions'; staff see only the tickets of their regions, here too.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from bot import tickets
from bot.console import auth
from bot.console.deps import AdminLogin, DbSession, Fields, PageLogin, SettingsDep
from bot.console.pages import ConsoleError, ConsoleRoute, db_id, page_number, render
from bot.tickets import institutions
from core.config import Settings

PAGE_SIZE = 50
SEARCH_MAX = 100
DONE = {"merged": "已合并", "split": "已拆分：该名称组重新成为独立机构"}

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


@router.get("/institutions")
def institutions_page(request: Request, login: PageLogin, s: DbSession, q: str = "", page: str = "1"):
    search = q.strip()[:SEARCH_MAX]
    items = institutions.listing(s, login.visible_regions, search)
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = page_number(page.strip(), pages)
    return render(request, "institutions.html", login, items=items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
                  total=len(items), page=page, pages=pages, q=search)


def _root(s: Session, inst_id: int):
    try:
        return institutions.institution(s, db_id(inst_id, "没有这个机构"))
    except tickets.TicketError as exc:
        raise ConsoleError(exc.status, str(exc)) from None


def _page(request: Request, s: Session, settings: Settings, login: auth.Login, inst, *, error: str = "",
          status: int = 200, done: str = "") -> Response:
    profile = institutions.profile(s, inst.id, login.visible_regions, tickets.local_today(settings))
    if not profile["total"] and not login.sees_all_regions:
        raise ConsoleError(403, "该机构没有您负责地区的投诉")
    admin = login.user.role == "admin"
    alike, rest = institutions.candidates(s, inst.id) if admin else ([], [])
    return render(request, "institution.html", login, status=status, inst=inst, p=profile, error=error,
                  notice=DONE.get(done, ""), members=institutions.members(s, inst.id), admin=admin,
                  events=institutions.events(s, inst.id) if admin else [], alike=alike, rest=rest)


@router.get("/institutions/{inst_id}")
def institution_page(request: Request, inst_id: int, login: PageLogin, settings: SettingsDep, s: DbSession,
                     done: str = ""):
    inst = _root(s, inst_id)
    if inst.id != inst_id:  # a group merged into another: its institution's page
        return RedirectResponse(f"/console/institutions/{inst.id}", status_code=303)
    return _page(request, s, settings, login, inst, done=done)


@router.post("/institutions/{inst_id}/merge")
def merge(request: Request, inst_id: int, login: AdminLogin, form: Fields, settings: SettingsDep, s: DbSession):
    """Merge this institution into another (admins); audited."""
    inst = _root(s, inst_id)
    raw = form.get("into", "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        return _page(request, s, settings, login, inst, error="请选择要并入的机构", status=422)
    try:
        target = institutions.merge(s, inst.id, db_id(int(raw), "没有这个机构"), login.user.username)
    except tickets.TicketError as exc:
        s.rollback()
        return _page(request, s, settings, login, _root(s, inst_id), error=str(exc), status=exc.status)
    return RedirectResponse(f"/console/institutions/{target.id}?done=merged", status_code=303)


@router.post("/institutions/{group_id}/split")
def split(request: Request, group_id: int, login: AdminLogin, _form: Fields, settings: SettingsDep, s: DbSession):
    """Undo a merge: the name group `group_id` becomes its own institution again (admins); audited."""
    inst = _root(s, group_id)
    try:
        group = institutions.split(s, group_id, login.user.username)
    except tickets.TicketError as exc:
        s.rollback()
        return _page(request, s, settings, login, inst, error=str(exc), status=exc.status)
    return RedirectResponse(f"/console/institutions/{group.id}?done=split", status_code=303)
