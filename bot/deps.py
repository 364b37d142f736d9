"""What the JSON routes share: the admin bearer token and a knowledge base that is ready.

Why one module: the upload, the notice lifecycle and the unanswered-question routes all sit
behind `POLICYBOT_ADMIN_TOKEN`, and /metrics accepts the same token; one check, one set of
Chinese refusals (403 when the token is unset, 401 when it is missing or wrong). `AdminKB` is
that check and the ready knowledge base as one route dependency, so an admin route names what it
needs in its signature and FastAPI refuses a stranger before the body is even looked at.
"""
from __future__ import annotations

import hmac
from typing import Annotated, Optional

from fastapi import Depends, Header, HTTPException, Request

from core.config import Settings
from knowledge.service import KnowledgeBase


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
