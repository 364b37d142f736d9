"""The shapes the rest of the product sees: a cited source and an answer.

`Source` is the public JSON shape of `/api/ask` sources (../shared/interface.md) and is reused by
the eligibility checks, so every reason can cite its clause the same way.
"""
from __future__ import annotations

from pydantic import BaseModel, Field


class Source(BaseModel):
    file: str
    title: str
    doc_number: str | None = None
    issuer: str | None = None
    date: str | None = Field(None, description="YYYY-MM-DD")
    region: str | None = None
    excerpt: str = ""
    expired: bool = False


class Answer(BaseModel):
    answer: str
    refused: bool = False
    sources: list[Source] = Field(default_factory=list)
