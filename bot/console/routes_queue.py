"""/console/ and /console/export.csv: the complaint queue, filtered and paged, and the same
filtered list as CSV.

Why its own module: the queue changes with what supervisors want to find and count (filters,
columns), not with what is done to one ticket (bot.console.routes_ticket). Each row says how many
other complaints about its institution the viewer sees (bot.tickets.institutions). Staff see only their
regions; phone numbers stay masked, in the CSV too, and a cell that a spreadsheet would run as
a formula is neutralised.
"""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import func
from sqlmodel import select

from bot import tickets
from bot.tickets import institutions
from bot.console import auth
from bot.console.deps import DbSession, PageLogin, SettingsDep, SupervisorLogin
from bot.console.pages import ConsoleRoute, csv_response, env, page_number, render
from bot.routing import load_routing
from core.config import Settings
from storage.models import Rating, Ticket

PAGE_SIZE = 50
FILTERS = ("status", "region", "category", "overdue", "mine", "supplemented")

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _filters(request: Request) -> dict:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS if request.query_params.get(k, "").strip()}


def _filtered(login: auth.Login, settings: Settings, params: dict):
    return tickets.queue_query(login.visible_regions, params, tickets.local_today(settings), login.user.username)


@router.get("/")
def queue(request: Request, login: PageLogin, settings: SettingsDep, s: DbSession, page: str = "1"):
    routing = load_routing(settings)
    params = _filters(request)
    today = tickets.local_today(settings)
    query = _filtered(login, settings, params)
    total = s.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = page_number(page.strip(), pages)
    rows = s.exec(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                  .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    others = institutions.others(s, rows, login.visible_regions)  # 该机构已有N件投诉
    items = [{"t": t, "overdue": tickets.is_overdue(t, today), "team": routing.team_name(t.team),
              "inst_id": others.get(t.id, (None, 0))[0], "others": others.get(t.id, (None, 0))[1]} for t in rows]
    regions = routing.region_names if login.sees_all_regions else (login.user.regions or [])
    return render(request, "queue.html", login, items=items, total=total, page=page,
                  pages=pages, params=params, statuses=tickets.STATES,
                  regions=regions, categories=tickets.CATEGORIES,
                  query=urlencode(params), can_export=login.user.role in ("supervisor", "admin"))


@router.get("/export.csv")
def export_csv(request: Request, login: SupervisorLogin, settings: SettingsDep, s: DbSession):
    """The filtered queue as CSV (supervisors and admins). Phones stay masked."""
    routing = load_routing(settings)
    today = tickets.local_today(settings)
    rows = s.exec(_filtered(login, settings, _filters(request)).order_by(Ticket.created_at)).all()
    ratings = dict(s.exec(select(Rating.ticket_id, Rating.score)).all())
    local = env.filters["local"]
    header = ["编号", "状态", "逾期", "地区", "类别", "被投诉机构", "发生时间", "地点", "描述", "手机",
              "承办部门", "承办人", "提交时间", "受理时限", "答复时限", "办结时间", "评分"]
    return csv_response(header, ((
        t.number, t.status, "是" if tickets.is_overdue(t, today) else "", t.region, t.category, t.institution,
        t.happened, t.region_text, t.description, tickets.mask_phone(t.phone), routing.team_name(t.team),
        t.assignee or "", local(t.created_at), t.accept_due.isoformat(), t.answer_due.isoformat(),
        local(t.closed_at), ratings.get(t.id, "")) for t in rows), "complaints.csv")
