"""/console/staff, /console/tokens and /console/notices: the admin's pages — staff accounts (with
the latest logins, failures, lockouts and password changes), their API tokens for the work-order
API (bot.api_tokens: a new token is shown once, then only masked), and loading notices.

Why apart from the complaint desk (bot.console.routes_queue, routes_ticket): the two change for
different reasons; both stand on bot.console.deps (login, roles, CSRF) and bot.console.pages
(rendering, error pages). An upload is read and checked before anything is stored
(knowledge.loaders.refusal): a file that is not a notice — binary, empty, nearly empty, a
corrupt Word/PDF file — is refused with its reason, on the page, and nothing of that upload is
indexed. The list is grouped by source file, newest
upload first, with each notice's status; a notice's own page is bot.console.notices.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select

from bot import api_tokens
from bot.console import auth, throttle
from bot.console.deps import AdminLogin, AdminPage, CheckedForm, DbSession, PageLogin, SettingsDep, settings_of
from bot.console.pages import ConsoleError, ConsoleRoute, db_id, render
from bot.routing import load_routing
from knowledge.loaders import refusal
from knowledge.notice_views import grouped
from storage.models import StaffEvent, StaffUser

log = logging.getLogger("policybot.console")

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

EVENTS_SHOWN = 100  # the latest logins, failures, lockouts and password changes on the accounts page


# ---------------------------------------------------------------- accounts (admin)

@router.get("/staff")
def staff_page(request: Request, login: AdminPage, s: DbSession):
    return _staff_page(request, s, login)


def _staff_page(request: Request, s: Session, login: auth.Login, error: str = "", notice: str = "",
                status: int = 200) -> Response:
    users = s.exec(select(StaffUser).order_by(StaffUser.username)).all()
    events = s.exec(select(StaffEvent).order_by(StaffEvent.at.desc(), StaffEvent.id.desc()).limit(EVENTS_SHOWN)).all()
    return render(request, "staff.html", login, status=status, users=users, roles=auth.ROLES,
                  regions=load_routing(settings_of(request)).region_names, error=error, notice=notice,
                  events=events, event_labels=throttle.ACTION_LABELS)


@router.post("/staff")
def staff_add(request: Request, login: AdminLogin, form: CheckedForm, settings: SettingsDep, s: DbSession):
    known = set(load_routing(settings).region_names)
    regions = [r for r in form.getlist("regions") if r in known]
    try:
        user = auth.create_user(s, str(form.get("username", "")), str(form.get("password", "")),
                                str(form.get("role", "staff")), regions)
    except ValueError as exc:
        s.rollback()
        return _staff_page(request, s, login, error=str(exc), status=400)
    log.info("console: %s added %s (%s)", login.user.username, user.username, user.role)
    return _staff_page(request, s, login, notice=f"已添加 {user.username}")


@router.post("/staff/{user_id}/active")
def staff_toggle(request: Request, user_id: int, login: AdminLogin, _csrf: CheckedForm, s: DbSession):
    user = s.get(StaffUser, db_id(user_id, "没有这个账号"))
    if user is None:
        raise ConsoleError(404, "没有这个账号")
    if user.id == login.user.id:
        return _staff_page(request, s, login, error="不能停用自己", status=400)
    user.active = not user.active
    s.add(user)
    return RedirectResponse("/console/staff", status_code=303)


# ---------------------------------------------------------------- API tokens (admin)

def _tokens_page(request: Request, s: Session, login: auth.Login, error: str = "", new_token: str = "",
                 status: int = 200) -> Response:
    users = s.exec(select(StaffUser).where(StaffUser.active == True).order_by(StaffUser.username)).all()  # noqa: E712
    return render(request, "tokens.html", login, status=status, users=users, tokens=api_tokens.listed(s),
                  masked=api_tokens.masked, error=error, new_token=new_token)


@router.get("/tokens")
def tokens_page(request: Request, login: AdminPage, s: DbSession):
    return _tokens_page(request, s, login)


@router.post("/tokens")
def token_create(request: Request, login: AdminLogin, form: CheckedForm, s: DbSession):
    """A new token, shown on this page once (never stored, never in a redirect's URL)."""
    try:
        row, token = api_tokens.create(s, str(form.get("username", "")), str(form.get("name", "")),
                                       login.user.username)
    except api_tokens.TokenError as exc:
        s.rollback()
        return _tokens_page(request, s, login, error=str(exc), status=400)
    log.info("console: %s created API token %s for %s", login.user.username, api_tokens.masked(row), row.user_id)
    return _tokens_page(request, s, login, new_token=token)


@router.post("/tokens/{token_id}/revoke")
def token_revoke(request: Request, token_id: int, login: AdminLogin, _csrf: CheckedForm, s: DbSession):
    try:
        row = api_tokens.revoke(s, db_id(token_id, "没有这个令牌"))
    except api_tokens.TokenError as exc:
        raise ConsoleError(404, str(exc)) from None
    log.info("console: %s revoked API token %s", login.user.username, api_tokens.masked(row))
    return RedirectResponse("/console/tokens", status_code=303)


# ---------------------------------------------------------------- policy notices (admin)

UPLOAD_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
STATUS_LABELS = {"added": "新增", "updated": "已更新", "unchanged": "未变化"}


@router.get("/notices")
def notices_page(request: Request, login: PageLogin):
    return _notices_page(request, login)


def _notices_page(request: Request, login: auth.Login, error: str = "", report: dict | None = None,
                  status: int = 200) -> Response:
    notices = request.app.state.kb.notices()
    return render(request, "notices.html", login, status=status, notices=notices, groups=grouped(notices),
                  can_upload=login.user.role == "admin", error=error, report=report or {},
                  status_labels=STATUS_LABELS)


def _shown(status: str) -> str:
    """A report entry for the admin: 'failed: <reason>' (ingest_file refused it) reads 未收录."""
    return STATUS_LABELS.get(status) or "未收录（" + status.removeprefix("failed: ") + "）"


@router.post("/notices")
def notices_upload(request: Request, login: AdminLogin, form: CheckedForm):
    """Admins load new notices here; the index follows while the bot keeps answering. Every
    file is checked first: one that is not a notice stops the upload with its reason."""
    uploads = [f for f in form.getlist("files") if hasattr(f, "filename") and f.filename]
    if not uploads:
        return _notices_page(request, login, error="请选择要上传的文件", status=400)
    files: list[tuple[str, bytes]] = []
    for upload in uploads:
        if not upload.filename.lower().endswith(UPLOAD_SUFFIXES):
            return _notices_page(request, login, error=f"{upload.filename}：只支持 txt、md、docx、pdf", status=400)
        data = upload.file.read(UPLOAD_MAX_BYTES + 1)
        if len(data) > UPLOAD_MAX_BYTES:
            return _notices_page(request, login, error=f"{upload.filename}：文件超过 20 MB", status=413)
        files.append((upload.filename, data))
    refused = [(name, reason) for name, data in files if (reason := refusal(name, data))]
    if refused:
        log.info("console: %s: upload refused: %s", login.user.username, refused)
        text = "；".join(f"{name}：{reason}" for name, reason in refused)
        return _notices_page(request, login, error=f"未收录（没有文件被导入）— {text}", status=400)
    report: dict[str, str] = {}
    for name, data in files:
        try:
            report.update(request.app.state.kb.ingest_upload(name, data, actor=login.user.username))
        except Exception:  # a broken file must not take the page down
            log.exception("console: ingest of an uploaded notice failed")
            return _notices_page(request, login, error=f"{name}：无法读取该文件", status=400)
    log.info("console: %s loaded notices %s", login.user.username, report)
    return _notices_page(request, login, report={name: _shown(st) for name, st in report.items()})
