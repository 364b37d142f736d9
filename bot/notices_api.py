"""JSON for automating the notices' lifecycle (docs/interface.md): one notice whole, edit its
metadata, withdraw, restore, supersede — `Authorization: Bearer $POLICYBOT_ADMIN_TOKEN` as for
uploads. GET /api/notices (the list, unauthenticated as before) stays in bot/api.py.

Why a module of its own: bot/api.py holds the follower-facing JSON; these routes change for the
admins' reasons. They stay thin: bot/notice_admin.py applies the same rules the console and the
CLI do, and its Chinese refusals keep the shape of every other route (404 no such notice, 409
already so, 422 {detail, field}).
"""
from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot import notice_admin
from bot.deps import AdminKB
from knowledge.service import KnowledgeBase
from knowledge.lifecycle import MAX_LENGTH, STATUSES, LifecycleError

router = APIRouter()
ACTOR = "api"  # who the audit trail names for a call with the admin token


class Refusal(BaseModel):
    detail: str
    field: Optional[str] = None


REFUSALS = {401: {"model": Refusal}, 403: {"model": Refusal}, 404: {"model": Refusal},
            409: {"model": Refusal}, 503: {"model": Refusal}}


class NoticeOut(BaseModel):
    id: int
    file: str
    seq: int
    title: str
    doc_number: Optional[str] = None
    issuer: Optional[str] = None
    date: Optional[str] = Field(None, description="YYYY-MM-DD")
    region: Optional[str] = None
    province: Optional[str] = None
    city: Optional[str] = None
    county: Optional[str] = None
    valid_until: Optional[str] = None
    chunks: int = 0
    vectors_pending: int = 0
    status: Literal[STATUSES] = Field(..., description="生效 | 已过期 | 已被替代 | 已撤回")  # type: ignore[valid-type]
    superseded_by: Optional[int] = Field(None, description="id of the notice replacing it")
    withdrawn_at: Optional[str] = None
    withdrawn_reason: Optional[str] = None
    edited: list[str] = Field(default_factory=list, description="fields an admin set")
    suggested_supersedes: list[int] = Field(default_factory=list,
                                            description="notices its text says it repeals (废止/停止执行)")
    ingested_at: Optional[str] = None


class RuleRef(BaseModel):
    rule_set: str
    rule: str
    notice_key: str
    text: str


class NoticeResult(BaseModel):
    notice: NoticeOut


class WithdrawResult(NoticeResult):
    affected_rules: list[RuleRef] = Field(default_factory=list,
                                          description="eligibility rules citing it: they cite it no more")


class Brief(BaseModel):
    id: int
    title: str
    doc_number: Optional[str] = None


class Suggestion(BaseModel):
    notice_id: int
    title: str
    doc_number: Optional[str] = None
    quote: str


class SuggestedBy(Brief):
    quote: str


class Withdrawal(BaseModel):
    at: Optional[str] = None
    by: Optional[str] = None
    reason: Optional[str] = None


class ChunkOut(BaseModel):
    id: int
    seq: int
    kind: str
    heading_path: str
    text: str
    quoted: str = Field(..., description="as the bot quotes it (table rows as sentences)")
    valid_until: Optional[str] = None
    expired: bool = False


class VersionOut(BaseModel):
    number: int
    at: str
    actor: str
    chunks: int
    added: int
    removed: int
    added_texts: list[str]
    removed_texts: list[str]
    texts: list[str]


class EventOut(BaseModel):
    at: str
    actor: str
    action: str
    action_label: str
    field: Optional[str] = None
    field_label: Optional[str] = None
    old: Optional[str] = None
    new: Optional[str] = None
    reason: str = ""


class NoticeDetail(BaseModel):
    notice: NoticeOut
    extracted: dict = Field(default_factory=dict, description="metadata as the file gave it")
    overrides: dict = Field(default_factory=dict, description="metadata an admin set")
    withdrawn: Optional[Withdrawal] = None
    replaced_by: Optional[Brief] = None
    replaces: list[Brief] = Field(default_factory=list)
    suggestions: list[Suggestion] = Field(default_factory=list)
    suggested_by: list[SuggestedBy] = Field(default_factory=list)
    chunks: list[ChunkOut] = Field(default_factory=list)
    versions: list[VersionOut] = Field(default_factory=list)
    events: list[EventOut] = Field(default_factory=list)
    affected_rules: list[RuleRef] = Field(default_factory=list)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses NUL in text: not a 500
            raise ValueError("不能含有空字符（\\x00）")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate ("\ud800") cannot be stored
                raise ValueError("含有无法保存的字符") from None
        return value


class WithdrawRequest(_Body):
    reason: str = Field(..., min_length=1, max_length=MAX_LENGTH["reason"], description="why (required)")


class RestoreRequest(_Body):
    reason: str = Field("", max_length=MAX_LENGTH["reason"])


class SupersedeRequest(_Body):
    by: int = Field(..., ge=1, le=2**31 - 1, description="id of the notice that replaces this one")
    reason: str = Field("", max_length=MAX_LENGTH["reason"])


class EditRequest(_Body):
    """Only the fields sent change; null clears one (not the title). Dates YYYY-MM-DD; region
    as a place name (聊城, 山东 聊城)."""

    title: Optional[str] = Field(None, max_length=MAX_LENGTH["title"])
    doc_number: Optional[str] = Field(None, max_length=MAX_LENGTH["doc_number"])
    issuer: Optional[str] = Field(None, max_length=MAX_LENGTH["issuer"])
    date: Optional[str] = Field(None, max_length=10, description="YYYY-MM-DD")
    region: Optional[str] = Field(None, max_length=MAX_LENGTH["region"])
    valid_until: Optional[str] = Field(None, max_length=10, description="YYYY-MM-DD")
    reason: str = Field("", max_length=MAX_LENGTH["reason"])


def _refused(exc: LifecycleError) -> JSONResponse:
    body = {"detail": exc.message}
    if exc.status == 422:
        body["field"] = exc.field or "body"
    return JSONResponse(body, status_code=exc.status)


async def _run(kb: KnowledgeBase, fn, *args, **kw):
    try:
        return await run_in_threadpool(fn, kb, *args, **kw)
    except LifecycleError as exc:
        return _refused(exc)


@router.get("/api/notices/{notice_id}", response_model=NoticeDetail, responses=REFUSALS)
async def notice_detail(notice_id: int, kb: AdminKB):
    """One notice: its chunks as the bot quotes them, its versions, its audit trail."""
    return await _run(kb, notice_admin.detail, notice_id)


@router.patch("/api/notices/{notice_id}", response_model=NoticeResult, responses=REFUSALS)
async def notice_edit(notice_id: int, body: EditRequest, kb: AdminKB):
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", "")
    if not changes:
        return _refused(LifecycleError(
            422, "请至少提交一个要修改的字段（title、doc_number、issuer、date、region、valid_until）"))
    return await _run(kb, notice_admin.edit, notice_id, changes, ACTOR, reason)


@router.post("/api/notices/{notice_id}/withdraw", response_model=WithdrawResult, responses=REFUSALS)
async def notice_withdraw(notice_id: int, body: WithdrawRequest, kb: AdminKB):
    return await _run(kb, notice_admin.withdraw, notice_id, body.reason, ACTOR)


@router.post("/api/notices/{notice_id}/restore", response_model=NoticeResult, responses=REFUSALS)
async def notice_restore(notice_id: int, kb: AdminKB, body: Optional[RestoreRequest] = Body(None)):
    return await _run(kb, notice_admin.restore, notice_id, ACTOR, body.reason if body else "")


@router.post("/api/notices/{notice_id}/supersede", response_model=NoticeResult, responses=REFUSALS)
async def notice_supersede(notice_id: int, body: SupersedeRequest, kb: AdminKB):
    return await _run(kb, notice_admin.supersede, notice_id, body.by, ACTOR, body.reason)
