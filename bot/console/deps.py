"""The FastAPI dependencies of the console pages.

Why: every console handler used to begin with the same lines — the settings, a session, the
login (a redirect for pages, 401 for actions), the role, the CSRF token of a POST. Declared once
here as `Annotated[..., Depends(...)]`, a handler names what it needs in its signature and
keeps only its own work. The order of the checks stays the old one: login (401 / redirect to the
login form), then the role (403), then the CSRF token (403) — a handler lists them in that order.

The handler's session (`DbSession`) commits when the handler returns — *before* the response is
sent (scope "function"), so a redirect never outruns its change — and rolls back when the
handler raises. It connects at its first query. A handler that must do slow work or tell
someone after its change (download photos; push the follower a reply) commits itself first.

The simulator switch is a dependency too, but beside the simulator's routes (bot.wechat.routes):
here it would make the channel import the console, which itself hands replies to the channel.
"""
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from bot.console import auth
from bot.console.pages import ConsoleError, LoginRequired
from bot.deps import DbSession, SettingsDep, settings_of  # noqa: F401  (the JSON routes' too; re-exported)
from storage.db import session_scope




class _CurrentLogin:
    """The logged-in staff member; without one a page redirects to the login form, while
    actions and downloads answer 401. Read in a short session of its own, so that a handler
    that then works for long (an upload being indexed) holds no transaction open meanwhile."""

    def __init__(self, page: bool):
        self.page = page

    def __call__(self, request: Request, settings: SettingsDep) -> auth.Login:
        with session_scope(settings.db_url) as s:
            login = auth.current_login(s, request.cookies.get(auth.COOKIE))
        if login is None:
            raise LoginRequired(redirect=self.page)
        return login


_action_login, _page_login = _CurrentLogin(page=False), _CurrentLogin(page=True)
StaffLogin = Annotated[auth.Login, Depends(_action_login)]  # actions, downloads: 401 without a login
PageLogin = Annotated[auth.Login, Depends(_page_login)]  # pages: redirect to /console/login


def role(*roles: str, page: bool = False):
    """A login whose role is one of `roles`, else 403 (`page`: redirect when not logged in)."""
    login_dep = PageLogin if page else StaffLogin

    def check(login: login_dep) -> auth.Login:
        if login.user.role not in roles:
            raise ConsoleError(403, "您没有权限访问此页面")
        return login

    return Annotated[auth.Login, Depends(check)]


AdminPage = role("admin", page=True)
AdminLogin = role("admin")
SupervisorLogin = role("supervisor", "admin")


async def posted(request: Request) -> FormData:
    """The POSTed form, parsed before the (sync, thread-pooled) route runs; NUL characters are
    dropped from its text (PostgreSQL refuses them in text: a 500 otherwise)."""
    form = await request.form()
    return FormData([(k, v.replace("\x00", "") if isinstance(v, str) else v) for k, v in form.multi_items()])


Posted = Annotated[FormData, Depends(posted)]


async def checked_form(login: StaffLogin, form: Posted) -> FormData:
    """A logged-in user's POST whose form carries the session's CSRF token; else 403."""
    if not auth.csrf_ok(login.csrf_token, form.get("csrf_token")):
        raise ConsoleError(403, "页面已过期，请刷新后重试（CSRF 校验失败）")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


async def text_fields(form: CheckedForm) -> dict[str, str]:
    """The checked form's text fields (an upload sent in place of text is dropped)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


Fields = Annotated[dict[str, str], Depends(text_fields)]
