"""JSON for the unanswered-question loop (admins, `Authorization: Bearer $POLICYBOT_ADMIN_TOKEN`
as for POST /api/ingest): the open groups of refused, low-confidence and unhelpful questions,
and the three ways to teach one — a clause (`link`), a standard answer citing clauses
(`answer`), out of scope with a pointer (`dismiss`) — and the taught answers, listed and removable.

Why apart from bot/api.py: these routes change with the teaching loop, not with /api/ask. Routes
stay thin: knowledge/unanswered.py and knowledge/taught.py do the work, off the event loop; a
refused action is a 4xx with its Chinese reason.
"""
from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator

from bot.deps import AdminKB, AdminKBAnytime
from knowledge.taught import TeachError

router = APIRouter()

Kind = Literal["refused", "low_confidence", "unhelpful"]


def _no_nul(value):
    if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses NUL in text: not a 500
        raise ValueError("不能含有空字符（\\x00）")
    return value


class UnansweredItem(BaseModel):
    id: int
    question: str = Field(..., description="the group's first phrasing, phones and ID numbers masked")
    count: int = Field(..., description="times it (or a close paraphrase) was asked")
    last_asked: str = Field(..., description="ISO 8601, UTC")
    kind: Kind = Field(..., description="of the latest ask")
    kinds: dict[str, int] = Field(default_factory=dict, description="asks per kind")
    phrasings: list[str] = Field(default_factory=list, description="the distinct phrasings grouped here")


class UnansweredList(BaseModel):
    items: list[UnansweredItem]


class LinkRequest(BaseModel):
    chunk_id: int = Field(..., description="the clause that answers it (GET /api/chunks)")


class AnswerRequest(BaseModel):
    text: str = Field(..., max_length=1000)
    chunk_ids: list[int] = Field(default_factory=list, description="at least one clause the answer cites")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_nul(value)


class DismissRequest(BaseModel):
    pointer: str = Field(..., max_length=300, description="where to ask instead, e.g. 请拨打12333咨询")

    @field_validator("pointer")
    @classmethod
    def _pointer(cls, value: str) -> str:
        return _no_nul(value)


class Taught(BaseModel):
    id: int
    action: Literal["link", "answer", "dismiss"]
    question: str
    phrasings: list[str] = Field(default_factory=list)
    text: str = Field("", description="the standard answer, or the pointer")
    chunk_ids: list[int] = Field(default_factory=list)
    group_id: Optional[int] = None
    created_by: str = ""
    created_at: str
    active: bool = Field(..., description="false when a cited clause is gone or its notice withdrawn: not used")


class TaughtList(BaseModel):
    items: list[Taught]


class Removed(BaseModel):
    removed: int


def _teach(call, *args):
    try:
        return call(*args)
    except TeachError as exc:
        raise HTTPException(exc.status, exc.message) from exc


@router.get("/api/unanswered", response_model=UnansweredList)
async def unanswered(kb: AdminKBAnytime, kind: Optional[Kind] = None, limit: int = Query(200, ge=1, le=1000)):
    return {"items": await run_in_threadpool(kb.questions.items, limit, kind)}


@router.post("/api/unanswered/{item_id}/link", response_model=Taught)
async def link(item_id: int, body: LinkRequest, kb: AdminKB):
    return await run_in_threadpool(_teach, kb.taught.link, item_id, body.chunk_id, "api")


@router.post("/api/unanswered/{item_id}/answer", response_model=Taught)
async def answer(item_id: int, body: AnswerRequest, kb: AdminKB):
    return await run_in_threadpool(_teach, kb.taught.answer, item_id, body.text, body.chunk_ids, "api")


@router.post("/api/unanswered/{item_id}/dismiss", response_model=Taught)
async def dismiss(item_id: int, body: DismissRequest, kb: AdminKB):
    return await run_in_threadpool(_teach, kb.taught.dismiss, item_id, body.pointer, "api")


@router.get("/api/taught", response_model=TaughtList)
async def taught(kb: AdminKB):
    return {"items": await run_in_threadpool(kb.taught.items)}


@router.delete("/api/taught/{taught_id}", response_model=Removed)
async def remove_taught(taught_id: int, kb: AdminKBAnytime):
    if not await run_in_threadpool(kb.taught.remove, taught_id):
        raise HTTPException(404, "没有这条已教答案")
    return {"removed": taught_id}
