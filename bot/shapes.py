"""The response shapes of the JSON routes in bot/api.py (forms/api.py has its own), as pydantic
models, so the OpenAPI schema says what each route sends (../shared/interface.md in code).

Why `extra="allow"`: these lists grow fields as the product grows (the notice lifecycle added
six); a field the model does not name yet still reaches the caller, never silently dropped.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from knowledge.types import Source


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(_Open):
    status: str  # ok | degraded | starting | error
    reasons: list[str] = []
    error: str | None = None


class NoticeRow(_Open):
    id: int
    file: str
    title: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    date: str | None = None
    region: str | None = None
    valid_until: str | None = None
    chunks: int = 0
    vectors_pending: int = 0
    status: str | None = None
    superseded_by: int | None = None


class NoticeList(BaseModel):
    notices: list[NoticeRow]


class ChunkRow(_Open):
    id: int
    notice_id: int
    file: str
    kind: str
    heading_path: str
    text: str
    valid_until: str | None = None


class ChunkList(BaseModel):
    chunks: list[ChunkRow]


class IngestReport(BaseModel):
    report: dict[str, str]  # file → added | updated | unchanged | failed: …
