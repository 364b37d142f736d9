"""The shapes the rest of the product sees: a cited source, an answer, and its follow-ups.

`Source` is the public JSON shape of `/api/ask` sources (../shared/interface.md) and is reused by
the eligibility checks, so every reason can cite its clause the same way.
`Choice` is a follow-up the asker can pick with a digit: the next-best clause when the best two
score close, the other parts of a multi-part question, or a region's notices in an overview.
`more` is text kept for “更多” (e.g. a note about another notice that did not fit the screen).
"""
from __future__ import annotations

from pydantic import BaseModel, Field, PrivateAttr


class Source(BaseModel):
    file: str
    title: str
    doc_number: str | None = None
    issuer: str | None = None
    date: str | None = Field(None, description="YYYY-MM-DD")
    region: str | None = None
    excerpt: str = ""
    expired: bool = False


class Choice(BaseModel):
    label: str = Field(..., description="what the numbered line says, e.g. 查看：以工代训补贴的申领材料")
    answer: str = Field(..., description="the full reply shown when the asker picks it")
    sources: list[Source] = Field(default_factory=list)


class Answer(BaseModel):
    answer: str
    refused: bool = False
    sources: list[Source] = Field(default_factory=list)
    choices: list[Choice] = Field(default_factory=list)
    more: str = Field("", description="text reachable with “更多” (not in `answer`)")
    confidence: float | None = Field(None, description="the ranker's probability that the quoted clause answers")
    _log_key: str | None = PrivateAttr(None)  # the question log's key (knowledge/unanswered.py), never in JSON
    # the parts of a several-question message that no clause answered (logged as refused), never in JSON
    _unanswered_parts: list[str] = PrivateAttr(default_factory=list)

    @property
    def log_key(self) -> str | None:
        return self._log_key

    @log_key.setter
    def log_key(self, value: str | None) -> None:
        self._log_key = value

    @property
    def unanswered_parts(self) -> list[str]:
        return self._unanswered_parts

    @unanswered_parts.setter
    def unanswered_parts(self, parts: list[str]) -> None:
        self._unanswered_parts = list(parts)

    def visible_text(self) -> str:
        """What the asker reads: the answer and the labels of its numbered choices."""
        return "\n".join([self.answer, *(c.label for c in self.choices)])
