"""JSON API: /healthz and /api/ask (shapes fixed by ../shared/interface.md)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from knowledge.types import Answer

router = APIRouter()


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=2000)
    region: str | None = None
    user: str | None = None


@router.get("/healthz")
def healthz(request: Request):
    kb = request.app.state.kb
    if not kb.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return {"status": "ok"}


@router.post("/api/ask", response_model=Answer)
async def ask(body: AskRequest, request: Request) -> Answer:
    kb = request.app.state.kb
    return await run_in_threadpool(kb.ask, body.question, body.region, body.user)
