"""GET /progress/{token}: a complaint's read-only progress page, the link of its template message.

Why a page without login: a reply written days later reaches a follower outside WeChat's
48-hour window only as a template message of four short values; the whole answer, the 办结说明
and the public timeline are here, one tap away, on the follower's phone. The key is the
ticket's unguessable token (192 random bits, made when the ticket is filed), so a number or a
guess shows nothing; a wrong token is a 404 in Chinese. Personal data is masked (the phone
number, and numbers in staff texts via core.pii.redact); staff-only events never show. No
script, no caching, no referrer (the token is in the URL), not indexed by search engines.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlmodel import Session

from bot import tickets
from core.clock import CHINA
from core.config import Settings
from core.pii import redact
from core.text import cn_date
from storage.db import session_scope
from storage.models import Ticket

HERE = Path(__file__).parent / "templates"
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
NOT_FOUND = "未找到该投诉的进度页：链接可能不完整或有误。请在公众号内回复“进度 投诉编号”查询。"
LATEST = {"reply": "最新答复", "closed": "办结说明"}

env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True)
router = APIRouter(tags=["progress"])


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.replace(tzinfo=moment.tzinfo or timezone.utc).astimezone(CHINA)
    return f"{cn_date(local.date())} {local:%H:%M}"


def _view(s: Session, ticket: Ticket) -> dict:
    """The page's values: what the follower may see, personal data masked."""
    events = [dict(what=tickets.ACTION_LABELS.get(e.action, e.action), when=_when(e.at), action=e.action,
                   detail=redact(e.detail or "")) for e in tickets.public_events(s, ticket)]
    closing = ticket.status == tickets.CLOSED and tickets.last_public_reply(s, ticket, "closed")
    latest = closing or tickets.last_public_reply(s, ticket)
    due = (("受理时限", ticket.accept_due) if ticket.status in tickets.AWAITING_ACCEPT
           else ("答复时限", ticket.answer_due) if ticket.status in tickets.AWAITING_ANSWER else None)
    return dict(
        t=ticket, phone=tickets.mask_phone(ticket.phone), filed=_when(ticket.created_at),
        due=(due[0], cn_date(due[1])) if due else None, closed=_when(ticket.closed_at),
        latest=dict(title=LATEST[latest.action], when=_when(latest.at), text=redact(latest.detail or ""))
        if latest else None,
        events=events,
    )


def _page(status: int, **ctx) -> HTMLResponse:
    return HTMLResponse(env.get_template("progress.html").render(**ctx), status_code=status, headers=HEADERS)


@router.get("/progress/static/progress.css", include_in_schema=False)
def progress_css():
    return FileResponse(HERE / "progress.css", media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/progress/{token}", response_class=HTMLResponse, summary="投诉办理进度（只读，无需登录）")
def progress_page(request: Request, token: str) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    with session_scope(settings.db_url) as s:
        ticket = tickets.by_progress_token(s, token)
        if ticket is None:
            return _page(404, error=NOT_FOUND)
        return _page(200, **_view(s, ticket))
