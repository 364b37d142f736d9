"""/console/notices/{id}: one notice as the bot quotes it — its chunks, versions and audit trail —
and the admin's forms to edit its metadata, withdraw it (a reason is required), restore it and
mark it as replaced (also by confirming a supersession its text suggests).

Why apart from bot.console.admin (the list and the upload): the lifecycle has its own rules
(bot/notice_admin.py, the same behind the CLI and the JSON API) and its own page. Every POST
is an admin's with the page's CSRF token (bot.console.deps: AdminLogin, CheckedForm); a refused change
shows the page again with the reason (422/409), an unknown notice is 404.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from bot import notice_admin
from bot.console.deps import AdminLogin, CheckedForm, PageLogin
from bot.console.pages import HERE, ConsoleError, ConsoleRoute, db_id, env, render
from core.clock import CHINA
from knowledge.lifecycle import ACTIVE, EDITABLE, EXPIRED, LABELS, LifecycleError

log = logging.getLogger("policybot.console")

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _china_time(iso: str | None) -> str:
    """An ISO timestamp from the lifecycle views, as China time (the console's clock)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


env.filters["china_time"] = _china_time

DONE = {"edited": "已保存修改，回答和引用已按新信息更新。", "withdrawn": "已撤回：从现在起任何回答都不会引用该通知。",
        "restored": "已恢复：该通知重新用于回答。", "superseded": "已标记为被替代：回答将优先引用新通知。"}


def _page(request: Request, login, notice_id: int, error: str = "", field: str = "", status: int = 200,
          done: str = "") -> Response:
    kb = request.app.state.kb
    try:
        found = notice_admin.detail(kb, db_id(notice_id, "没有这个通知"))
    except LifecycleError as exc:
        raise ConsoleError(exc.status, exc.message) from None
    others = [n for n in kb.notices() if n["id"] != notice_id and n["status"] != "已撤回"]
    current = {f: found["notice"].get(f) for f in EDITABLE}
    extracted = found["extracted"]
    original = {"region": " ".join(p for p in (extracted.get("province"), extracted.get("city"),
                                               extracted.get("county")) if p) or None,
                **{f: extracted.get(f) for f in EDITABLE if f != "region"}}
    return render(request, "notice.html", login, status=status, d=found, n=found["notice"], others=others,
                  current=current, original=original, labels=LABELS, editable=EDITABLE, error=error,
                  error_field=field, done=DONE.get(done, ""), can_edit=login.user.role == "admin",
                  in_force=(ACTIVE, EXPIRED))


@router.get("/notices/{notice_id}")
def notice_page(request: Request, notice_id: int, login: PageLogin, done: str = ""):
    return _page(request, login, notice_id, done=done)


def _act(request: Request, notice_id: int, login, action: str, call) -> Response:
    db_id(notice_id, "没有这个通知")
    try:
        call(request.app.state.kb, login.user.username)
    except LifecycleError as exc:
        if exc.status == 404 and exc.field is None:
            raise ConsoleError(404, exc.message) from None
        return _page(request, login, notice_id, error=exc.message, field=exc.field or "", status=exc.status)
    log.info("console: %s %s notice %s", login.user.username, action, notice_id)
    return RedirectResponse(f"/console/notices/{notice_id}?done={action}", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/notices/{notice_id}/edit")
def notice_edit(request: Request, notice_id: int, login: AdminLogin, form: CheckedForm):
    """The form sends every field; only those that differ from the notice's change."""
    def call(kb, actor):
        now = kb.notice(notice_id)["notice"]
        changes = {f: _text(form, f) or None for f in EDITABLE if f in form
                   and (_text(form, f) or None) != (now.get(f) or None)}
        if not changes:
            raise LifecycleError(422, "没有要修改的内容（与现有信息相同）", "body")
        notice_admin.edit(kb, notice_id, changes, actor, _text(form, "reason"))
    return _act(request, notice_id, login, "edited", call)


@router.post("/notices/{notice_id}/withdraw")
def notice_withdraw(request: Request, notice_id: int, login: AdminLogin, form: CheckedForm):
    return _act(request, notice_id, login, "withdrawn",
                lambda kb, actor: notice_admin.withdraw(kb, notice_id, _text(form, "reason"), actor))


@router.post("/notices/{notice_id}/restore")
def notice_restore(request: Request, notice_id: int, login: AdminLogin, form: CheckedForm):
    return _act(request, notice_id, login, "restored",
                lambda kb, actor: notice_admin.restore(kb, notice_id, actor, _text(form, "reason")))


@router.post("/notices/{notice_id}/supersede")
def notice_supersede(request: Request, notice_id: int, login: AdminLogin, form: CheckedForm):
    def call(kb, actor):
        by = _text(form, "by")
        if not (by.isascii() and by.isdigit()):
            raise LifecycleError(422, "请选择替代它的通知", "by")
        notice_admin.supersede(kb, notice_id, int(by), actor, _text(form, "reason"))
    return _act(request, notice_id, login, "superseded", call)


@router.get("/static/notices.css")
def stylesheet():
    return FileResponse(HERE / "static" / "notices.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})
