"""What /healthz says: is this worker serving, and is each dependency it needs reachable?

Why its own module: the answer is a judgement over several parts (the index, the database, the
vector store) and the route must stay thin. A worker whose first index is still being built
says 503 `starting` (or 503 `error` with the reason), as before. Once serving it says 200 `ok`,
or 200 `degraded` with one reason per dependency that is down: a worker without Chroma still
answers (from the lexical legs), and one without its database still answers the probe, so a
load balancer keeps it and an operator reads why. Each check has a short timeout of its own, so
a hung dependency never makes the probe itself hang.

`checks` names every dependency with "ok" or "down" ("embedded" for a Chroma inside the
process that needs no server), beside `status` and `reasons`.
"""
from __future__ import annotations

import asyncio
import logging

import httpx
from sqlalchemy import text

from core.config import Settings

log = logging.getLogger("policybot.health")

CHECK_TIMEOUT = 2.5  # seconds per dependency
HEARTBEAT_TIMEOUT = 1.5


def _database(settings: Settings) -> None:
    from storage.db import get_engine

    with get_engine(settings.db_url).connect() as conn:
        conn.execute(text("SELECT 1"))


async def check_database(settings: Settings) -> str | None:
    """None when a `SELECT 1` answers, else the reason (in Chinese, with the error's name)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_database, settings), CHECK_TIMEOUT)
        return None
    except asyncio.TimeoutError:
        return f"database: 数据库在 {CHECK_TIMEOUT:g} 秒内没有响应"
    except Exception as exc:
        return f"database: 数据库无法连接（{type(exc).__name__}）"


async def check_vectors(settings: Settings, store) -> str | None:
    """None when the vector store answers. A Chroma server is asked for its heartbeat first
    (cheap, and a hung server fails fast); then the collection itself is probed, which ends
    the store's retry pause as soon as the server is back."""
    if store is None:  # the index is not built yet: nothing to say
        return None
    if settings.chroma_url:
        url = settings.chroma_url.rstrip("/") + "/api/v2/heartbeat"
        try:
            async with httpx.AsyncClient(timeout=HEARTBEAT_TIMEOUT) as client:
                (await client.get(url)).raise_for_status()
        except Exception as exc:
            store.mark_down(exc)  # queries skip the vector leg at once instead of each timing out
            return f"chroma: 向量库服务无法连接（{type(exc).__name__}），答案暂时只来自关键词检索"
    try:
        error = await asyncio.wait_for(asyncio.to_thread(store.probe), CHECK_TIMEOUT)
    except asyncio.TimeoutError:
        return f"chroma: 向量库在 {CHECK_TIMEOUT:g} 秒内没有响应，答案暂时只来自关键词检索"
    if error:
        return f"chroma: 向量库不可用（{error.split(':', 1)[0]}），答案暂时只来自关键词检索"
    return None


async def report(app) -> tuple[dict, int]:
    """(body, HTTP status) for /healthz."""
    kb = app.state.kb
    if not kb.ready:
        if kb.error:
            return {"status": "error", "error": kb.error}, 503
        return {"status": "starting"}, 503
    settings: Settings = app.state.settings
    database, vectors = await asyncio.gather(check_database(settings),
                                             check_vectors(settings, kb.vector_store()))
    reasons = [r for r in (database, vectors) if r]
    checks = {"database": "down" if database else "ok",
              "chroma": "down" if vectors else ("ok" if settings.chroma_url else "embedded")}
    if reasons:
        log.warning("healthz degraded: %s", "; ".join(reasons))
        return {"status": "degraded", "reasons": reasons, "checks": checks}, 200
    return {"status": "ok", "checks": checks}, 200
