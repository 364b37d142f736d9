"""What the JSON routes share: the admin bearer token, the work-order API's bearer (a staff API
token or the admin token), the settings and a database session, and a knowledge base that is ready.

Why one module: the upload, the notice lifecycle and the unanswered-question routes all sit
behind `POLICYBOT_ADMIN_TOKEN`, and /metrics accepts the same token; one check, one set of
Chinese refusals (403 when the token is unset, 401 when it is missing or wrong). `AdminKB` is
that check and the ready knowledge base as one route dependency, so an admin route names what it
needs in its signature and FastAPI refuses a stranger before the body is even looked at. The
work-order routes take either token and act as its account (`ApiLogin`, the console's
`auth.Login`). The console's pages use the same settings and session dependencies
(bot.console.deps re-exports them).
"""
from __future__ import annotations

import hmac
from typing import Annotated, Iterator, Optional

from fastapi import Depends, Header, HTTPException, Request
from sqlmodel import Session

from bot import api_tokens
from bot.console import auth
from core.config import Settings
from knowledge.service import KnowledgeBase
from storage.db import session_scope


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(settings_of)]


def _session(settings: SettingsDep) -> Iterator[Session]:
    with session_scope(settings.db_url) as s:
        yield s


# commits when the handler returns, before the response is sent; rolls back when it raises
DbSession = Annotated[Session, Depends(_session, scope="function")]


def no_nul(value):
    """A pydantic validator: PostgreSQL refuses NUL in text, so it is a 422, not a 500."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("不能含有空字符（\\x00）")
    return value


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or ''."""
    scheme, _, given = (authorization or "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def admin_token_ok(settings: Settings, authorization: str | None) -> bool:
    token, given = settings.admin_token, bearer(authorization)
    return bool(token and given) and hmac.compare_digest(given.encode(), token.encode())


def require_admin(request: Request, authorization: str | None, what: str = "管理接口") -> None:
    """The admin token or a refusal; `what` names the switched-off feature in the 403."""
    settings = request.app.state.settings
    if not settings.admin_token:
        raise HTTPException(403, f"未开启{what}：请设置 POLICYBOT_ADMIN_TOKEN")
    if not bearer(authorization):
        raise HTTPException(401, "需要请求头 Authorization: Bearer <管理口令>",
                            headers={"WWW-Authenticate": "Bearer"})
    if not admin_token_ok(settings, authorization):
        raise HTTPException(401, "管理口令不正确", headers={"WWW-Authenticate": "Bearer"})


def ready_kb(request: Request):
    """The knowledge base, or 503 while the first index is being built."""
    kb = request.app.state.kb
    if not kb.ready:
        raise HTTPException(503, "政策库正在建立索引，请稍后再试")
    return kb


def admin_kb(request: Request, authorization: Optional[str] = Header(None)) -> KnowledgeBase:
    """The admin check, then the knowledge base once its index is ready."""
    require_admin(request, authorization)
    return ready_kb(request)


def admin_kb_anytime(request: Request, authorization: Optional[str] = Header(None)) -> KnowledgeBase:
    """The admin check, then the knowledge base even while the index is built (for what lives in
    the database alone: the question log, the taught answers)."""
    require_admin(request, authorization)
    return request.app.state.kb


AdminKB = Annotated[KnowledgeBase, Depends(admin_kb)]
AdminKBAnytime = Annotated[KnowledgeBase, Depends(admin_kb_anytime)]


def api_login(settings: SettingsDep, authorization: Optional[str] = Header(None)) -> auth.Login:
    """The account a work-order request acts as: the admin token's admin, or a staff API token's
    account (its current role and regions), read in a short session of its own; else 401."""
    given = bearer(authorization)
    if not given:
        raise HTTPException(401, "需要请求头 Authorization: Bearer <API 令牌>", headers={"WWW-Authenticate": "Bearer"})
    if admin_token_ok(settings, authorization):
        return api_tokens.admin_login()
    with session_scope(settings.db_url) as s:
        login = api_tokens.login_for(s, given)
    if login is None:
        raise HTTPException(401, "API 令牌不正确、已撤销或其账号已停用", headers={"WWW-Authenticate": "Bearer"})
    return login


ApiLogin = Annotated[auth.Login, Depends(api_login)]
