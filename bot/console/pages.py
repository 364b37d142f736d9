"""The console's page plumbing, shared by all its page modules (bot.console.routes lists them):
templates, the route class that turns a `ConsoleError` into a rendered page and adds the
security headers, and the parsing of ids and page numbers that must answer 4xx, never 500.
and the CSV downloads. The checks a request passes first (login, role, CSRF) are dependencies: bot.console.deps.

Why its own module: every page module renders the same way, and each stays small.
"""
from __future__ import annotations

import csv
import io
from datetime import timezone
from pathlib import Path
from typing import Callable, Optional

import jinja2
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from bot import tickets
from bot.console import auth
from core.clock import CHINA

HERE = Path(__file__).parent
# The pages hold personal data and need no script: no caching, no framing, no scripts at all.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
                               "script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
env.filters["local"] = lambda dt: dt.replace(tzinfo=timezone.utc).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if dt else ""
env.filters["mask"] = tickets.mask_phone
env.globals.update(action_labels=tickets.ACTION_LABELS, role_labels=auth.ROLE_LABELS)
templates = Jinja2Templates(env=env)


class ConsoleError(Exception):
    """Stop a request with a rendered page (403 another region, 404 no such ticket …)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class LoginRequired(ConsoleError):
    """Not logged in: a page redirects to the login form, an action or a download answers 401."""

    def __init__(self, redirect: bool):
        super().__init__(401, "请先登录")
        self.redirect = redirect


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except ConsoleError as exc:
                if isinstance(exc, LoginRequired) and exc.redirect:
                    response = RedirectResponse("/console/login", status_code=303)
                else:
                    response = templates.TemplateResponse(request, "error.html",
                                                          {"message": exc.message, "login": None},
                                                          status_code=exc.status)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response
        return guarded


def render(request: Request, name: str, login: Optional[auth.Login], status: int = 200, **ctx) -> Response:
    ctx.update(login=login, csrf_token=login.csrf_token if login else "")
    return templates.TemplateResponse(request, name, ctx, status_code=status)


MAX_DB_ID = 2**31 - 1  # PostgreSQL's INTEGER ids: a larger one overflows the driver (a 500 otherwise)


def db_id(value: int, missing: str) -> int:
    """A path id, or 404 with `missing` when no row could ever have it."""
    if not 0 < value <= MAX_DB_ID:
        raise ConsoleError(404, missing)
    return value


def page_number(raw: str, pages: int) -> int:
    """?page=. Not a number at all ('abc', '-1'): ignored, the first page, as always. A number
    that is no page — '²' or '٣' (digits to str.isdigit, not to int), 0, past the last page —
    is a 4xx that says so."""
    if not raw.isdigit():
        return 1
    if not (raw.isascii() and raw.isdecimal()):
        raise ConsoleError(400, "页码只能用阿拉伯数字 0–9 书写")
    if not raw.strip("0"):
        raise ConsoleError(400, "页码必须是正整数")
    if len(raw) > 9 or int(raw) > pages:  # (int() of thousands of digits is itself an error)
        raise ConsoleError(404, f"没有第 {raw[:20]} 页（共 {pages} 页）")
    return int(raw)


def csv_cell(value) -> str:
    """A CSV cell with spreadsheet formulas neutralised (CSV injection): the cells hold text
    followers, staff and uploads wrote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(header: list[str], rows, filename: str) -> Response:
    """A CSV download (UTF-8 with a BOM, so that Excel reads the Chinese), every cell neutralised."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(header)
    for row in rows:
        out.writerow([csv_cell(v) for v in row])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
