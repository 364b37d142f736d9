"""/console/login, /console/logout and /console/password: getting in and out, and one's own
password.

Why its own module: these change with the login rules (bot.console.auth, the throttle in
bot.console.throttle), not with the complaint desk. Every login outcome and every password
change is in the accounts' audit trail; while an account name or an address is locked, the
answer is 429 with Retry-After and the password is not even checked. The login form has no
session yet, so its CSRF token is a double-submit cookie (auth.LOGIN_CSRF_COOKIE).
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bot import web
from bot.console import auth, throttle
from bot.console.deps import CheckedForm, DbSession, Fields, PageLogin, Posted, SettingsDep, StaffLogin, settings_of
from bot.console.pages import ConsoleRoute, render, templates
from storage.models import StaffUser

log = logging.getLogger("policybot.console")

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


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


def _locked(resp: Response, attempt: throttle.Attempt) -> Response:
    resp.headers["Retry-After"] = str(throttle.retry_after(attempt.locked_until))
    return resp


def _lock_note(until: Optional[datetime]) -> str:
    """What follows a refusal when this very failure started a lock: when to try again."""
    return "。" + throttle.refusal(until) if until else ""


@router.post("/login")
def login_submit(request: Request, form: Posted, settings: SettingsDep, s: DbSession):
    """Throttled (bot.console.throttle): while the name or the address is locked → 429 with
    Retry-After, and the password is not even checked. Every outcome is in the audit trail."""
    if not auth.csrf_ok(request.cookies.get(auth.LOGIN_CSRF_COOKIE, ""), form.get("login_csrf")):
        return _login_form(request, "页面已过期，请重新登录", 403)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    attempt = throttle.begin(settings, username, web.client_ip(request, settings))
    if attempt.locked:
        return _locked(_login_form(request, throttle.refusal(attempt.locked_until), 429), attempt)
    found = auth.authenticate(s, username, password)
    if found.user is None:
        log.info("console login failed for %r", username[:64])
        until = throttle.failed(s, settings, attempt, username, detail=found.audit_detail)
        return _login_form(request, "用户名或密码错误" + _lock_note(until), 401)
    throttle.succeeded(s, attempt, found.user.username)
    token = auth.start_session(s, settings, found.user)
    resp = RedirectResponse("/console/", status_code=303)  # the session commits before it is sent
    resp.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax", path="/console",
                    secure=web.secure_cookie(request, settings), max_age=settings.console.session_hours * 3600)
    resp.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console")
    return resp


@router.post("/logout")
def logout(request: Request, _csrf: CheckedForm, s: DbSession):
    auth.end_session(s, request.cookies.get(auth.COOKIE))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(auth.COOKIE, path="/console")
    return resp


# ---------------------------------------------------------------- own password

@router.get("/password")
def password_page(request: Request, login: PageLogin):
    return _password_page(request, login)


def _password_page(request: Request, login: auth.Login, error: str = "", notice: str = "",
                   status: int = 200) -> Response:
    settings = settings_of(request)
    bootstrap = bool(settings.console.admin_password) and login.user.username == settings.console.admin_user
    return render(request, "password.html", login, status=status, error=error, notice=notice,
                  min_password=auth.MIN_PASSWORD, bootstrap=bootstrap)


@router.post("/password")
def password_change(request: Request, form: Fields, login: StaffLogin, settings: SettingsDep, s: DbSession):
    """The logged-in user's own password: the current one (a wrong one counts for the login
    throttle), the new one twice. Success ends the user's other sessions; both are audited."""
    current, new = form.get("current", ""), form.get("new", "")
    problem = auth.new_password_problem(current, new, form.get("again", ""))
    if problem:
        return _password_page(request, login, error=problem, status=400)
    attempt = throttle.begin(settings, login.user.username, web.client_ip(request, settings))
    if attempt.locked:
        return _locked(_password_page(request, login, error=throttle.refusal(attempt.locked_until), status=429),
                       attempt)
    user = s.get(StaffUser, login.user.id)
    if not auth.verify_password(current, user.password_hash):
        until = throttle.failed(s, settings, attempt, user.username, "password_failed")
        return _password_page(request, login, error="当前密码不正确" + _lock_note(until), status=403)
    ended = auth.change_password(s, user, new, keep=request.cookies.get(auth.COOKIE))
    throttle.succeeded(s, attempt, user.username, "password_changed", f"其他登录已退出 {ended} 个")
    log.info("console: %s changed their password", login.user.username)
    return _password_page(request, login, notice="密码已修改，其他设备上的登录已全部退出。")
