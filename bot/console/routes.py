"""/console/: the staff console — server-rendered Jinja2 (autoescaped) with one small stylesheet:
works on a phone, needs no front-end build.

Split by page, each module changing for its own reason:

- `routes_login`: login (throttled: bot.console.throttle), logout, one's own password;
- `routes_queue`: the complaint queue and its CSV export;
- `routes_ticket`: one complaint — page, logged phone reveal, staff actions, photos;
- `routes_institutions`: the institutions complained about, their pages, the admins' merge/split;
- `routes_stats`: the complaint statistics (charts and CSV);
- `admin`: accounts and policy notices (admins).

What every page needs first — settings, session, login, role, CSRF — are the dependencies in
bot.console.deps; rendering and error pages are bot.console.pages. Odd input (page=², an id
past the database's range) is a 4xx page with a Chinese reason. This module puts the pages
together under one router (the app includes only it) and serves the stylesheet.
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from bot.console import admin, routes_institutions, routes_login, routes_queue, routes_stats, routes_ticket
from bot.console.pages import HERE, ConsoleRoute

router = APIRouter()
for _pages in (routes_login, routes_queue, routes_ticket, routes_institutions, routes_stats, admin):
    router.include_router(_pages.router)

_static = APIRouter(prefix="/console", route_class=ConsoleRoute)


@_static.get("/static/console.css")
def stylesheet():
    return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})


router.include_router(_static)
