"""What the JSON routes share: the admin bearer token and a knowledge base that is ready.

Why one module: the upload, the notice lifecycle and the unanswered-question routes all sit
behind `POLICYBOT_ADMIN_TOKEN`, and /metrics accepts the same token; one check, one set of
Chinese refusals (403 when the token is unset, 401 when it is missing or wrong).
"""
from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from core.config import Settings


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
