"""JSON API: /healthz, /api/ask (shapes fixed by ../shared/interface.md), and the notice admin
endpoints: GET /api/notices (what is indexed, with the metadata read from each notice),
GET /api/chunks, POST /api/ingest (upload a notice; bearer POLICYBOT_ADMIN_TOKEN).

Routes stay thin: the KnowledgeBase does the work, off the event loop.
"""
from __future__ import annotations

import hmac

from fastapi import APIRouter, File, Header, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from knowledge.loaders import SUPPORTED
from knowledge.types import Answer

router = APIRouter()
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=20000)  # longer is cut, not rejected (normalise.py)
    region: str | None = Field(None, max_length=50)
    user: str | None = Field(None, max_length=128)


@router.get("/healthz")
def healthz(request: Request):
    kb = request.app.state.kb
    if not kb.ready:
        body = {"status": "starting"}
        if kb.error:
            body = {"status": "error", "error": kb.error}
        return JSONResponse(body, status_code=503)
    return {"status": "ok"}


def _kb_ready(request: Request):
    kb = request.app.state.kb
    if not kb.ready:
        raise HTTPException(503, "政策库正在建立索引，请稍后再试")
    return kb


def _follower_region(settings, user: str | None) -> str | None:
    """The region a follower set in chat (“我在聊城”), for an /api/ask that names the follower."""
    if not user:
        return None
    from storage.db import session_scope
    from storage.models import Follower

    with session_scope(settings) as session:
        follower = session.get(Follower, user)
        return follower.region if follower else None


@router.post("/api/ask", response_model=Answer)
async def ask(body: AskRequest, request: Request) -> Answer:
    kb = _kb_ready(request)
    region = body.region or await run_in_threadpool(_follower_region, request.app.state.settings, body.user)
    return await run_in_threadpool(kb.ask, body.question, region)


@router.get("/api/notices")
async def notices(request: Request):
    kb = _kb_ready(request)
    return {"notices": await run_in_threadpool(kb.notices)}


@router.get("/api/chunks")
async def chunks(request: Request, file: str | None = None):
    kb = _kb_ready(request)
    return {"chunks": await run_in_threadpool(kb.chunks, file)}


def _check_admin(request: Request, authorization: str | None) -> None:
    token = request.app.state.settings.admin_token
    if not token:
        raise HTTPException(403, "未开启上传：请设置 POLICYBOT_ADMIN_TOKEN")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "管理口令不正确")


@router.post("/api/ingest")
async def ingest(request: Request, files: list[UploadFile] = File(...),
                 authorization: str | None = Header(None)):
    _check_admin(request, authorization)
    kb = _kb_ready(request)
    report = {}
    for upload in files:
        name = upload.filename or "upload.txt"
        if not any(name.lower().endswith(ext) for ext in SUPPORTED):
            raise HTTPException(415, f"不支持的文件类型：{name}（支持 txt、md、docx、pdf）")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, "文件太大（上限 20MB）")
        report.update(await run_in_threadpool(kb.ingest_upload, name, data))
    return {"report": report}
