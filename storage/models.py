"""Every table of the product, in one place.

Sections: knowledge (notices and their chunks), channel (followers, de-dup, pushes, caches),
forms (dialog state lives on the follower), complaints (tickets, events, staff).
Add new tables to the section they belong to; keep JSON columns for data that is read whole.
"""
from __future__ import annotations

from datetime import date as Date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- knowledge

class SourceFile(SQLModel, table=True):
    """A file that was ingested; its hash decides whether a re-ingest has anything to do."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, description="file name without extension, e.g. 003_a712d972baa709d7")
    path: str
    sha256: str
    ingested_at: datetime = Field(default_factory=utcnow)


class Notice(SQLModel, table=True):
    """One official notice; a file may hold several."""

    id: Optional[int] = Field(default=None, primary_key=True)
    file: str = Field(index=True, description="SourceFile.name")
    seq: int = Field(0, description="position of the notice inside its file")
    title: str
    doc_number: Optional[str] = Field(default=None, index=True)
    issuer: Optional[str] = None
    date: Optional[Date] = None
    province: Optional[str] = None
    city: Optional[str] = None
    county: Optional[str] = None
    valid_until: Optional[Date] = None
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))

    @property
    def region(self) -> Optional[str]:
        parts = [p for p in (self.province, self.city, self.county) if p]
        return " ".join(parts) or None


class Chunk(SQLModel, table=True):
    """A retrievable piece of a notice: one clause, or one table row with its header labels."""

    id: Optional[int] = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True, foreign_key="notice.id")
    file: str = Field(index=True)
    seq: int = 0
    kind: str = Field("clause", description="clause | table_row | header")
    heading_path: str = ""
    text: str = Field(sa_column=Column(Text))
    valid_until: Optional[Date] = None


class IndexState(SQLModel, table=True):
    """A version counter bumped on every ingest, so each worker knows when to reload its BM25."""

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- channel (WeChat)

class Follower(SQLModel, table=True):
    """A WeChat follower (openid) and everything the dialog needs to remember about them."""

    openid: str = Field(primary_key=True)
    region: Optional[str] = Field(default=None, description="e.g. '山东 聊城', set by '我在聊城'")
    subscribed: bool = True
    form_state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON),
                                       description="the active form: name, slots, pending slot, misses …")
    more_pages: list[str] = Field(default_factory=list, sa_column=Column(JSON),
                                  description="the unsent parts of the last long answer ('更多')")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)

# (issue 3 adds: ProcessedMessage, PendingPush, KeyValue …)


# ---------------------------------------------------------------- forms
# (issue 4: form state is kept per follower)


# ---------------------------------------------------------------- complaints
# (issue 5 adds: Ticket, TicketEvent, StaffUser, StaffSession, RevealLog …)
