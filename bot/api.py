"""JSON API: /healthz, /api/ask (shapes fixed by ../shared/interface.md), and the notice admin
endpoints: GET /api/notices (what is indexed, with the metadata read from each notice),
GET /api/chunks, POST /api/ingest (upload notices; `Authorization: Bearer $POLICYBOT_ADMIN_TOKEN`;
files that are not notices are refused with their reason before anything is stored).

Routes stay thin: the KnowledgeBase does the work, off the event loop.
"""
from __future__ import annotations

from fastapi import APIRouter, File, Header, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from knowledge.loaders import SUPPORTED, refusal
from bot.deps import ready_kb, require_admin
from bot.shapes import ChunkList, Health, IngestReport, NoticeList
from knowledge.types import Answer

router = APIRouter()
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=20000)  # longer is cut, not rejected (normalise.py)
    region: str | None = Field(None, max_length=50)
    user: str | None = Field(None, max_length=128)

    @field_validator("question", "region", "user")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:  # PostgreSQL refuses NUL in text: not a 500
            raise ValueError("不能含有空字符（\\x00）")
        return value


@router.get("/healthz", response_model=Health)
async def healthz(request: Request):
    """503 starting | error while the first index is built; 200 ok, or degraded with reasons
    when a dependency is down (bot/health.py)."""
    from bot import health

    body, status = await health.report(request.app)
    return JSONResponse(body, status_code=status)


def _follower_region(settings, user: str | None) -> str | None:
    """The region a follower set in chat (“我在聊城”), for an /api/ask that names the follower."""
    if not user:
        return None
    from storage.db import session_scope
    from storage.models import Follower

    with session_scope(settings.db_url) as session:
        follower = session.get(Follower, user)
        return follower.region if follower else None


@router.post("/api/ask", response_model=Answer)
async def ask(body: AskRequest, request: Request) -> Answer:
    kb = ready_kb(request)
    region = body.region or await run_in_threadpool(_follower_region, request.app.state.settings, body.user)
    return await run_in_threadpool(kb.ask, body.question, region)


@router.get("/api/notices", response_model=NoticeList)
async def notices(request: Request):
    kb = ready_kb(request)
    return {"notices": await run_in_threadpool(kb.notices)}


@router.get("/api/chunks", response_model=ChunkList)
async def chunks(request: Request, file: str | None = None):
    kb = ready_kb(request)
    return {"chunks": await run_in_threadpool(kb.chunks, file)}


@router.post("/api/ingest", response_model=IngestReport)
async def ingest(request: Request, files: list[UploadFile] = File(...),
                 authorization: str | None = Header(None)):
    """Every file is read and checked before any is stored: one refused file (not text, empty,
    corrupt) stops the upload with 422 and each file's reason, and nothing is indexed."""
    require_admin(request, authorization, what="上传")
    kb = ready_kb(request)
    uploads: list[tuple[str, bytes]] = []
    for upload in files:
        name = upload.filename or "upload.txt"
        if not any(name.lower().endswith(ext) for ext in SUPPORTED):
            raise HTTPException(415, f"不支持的文件类型：{name}（支持 txt、md、docx、pdf）")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, "文件太大（上限 20MB）")
        uploads.append((name, data))
    refused = {}
    for name, data in uploads:
        reason = await run_in_threadpool(refusal, name, data)
        if reason:
            refused[name] = reason
    if refused:
        detail = "；".join(f"{name}：{reason}" for name, reason in refused.items())
        return JSONResponse({"detail": "未收录 " + detail, "refused": refused}, status_code=422)
    report = {}
    for name, data in uploads:
        report.update(await run_in_threadpool(kb.ingest_upload, name, data))
    return {"report": report}
