"""Every table of the product, in one place.

Sections: knowledge (notices and their chunks), what followers ask (the question log, the
unanswered groups, taught answers), channel (followers, de-dup, signed requests seen,
pushes, caches; the forms' dialog state lives on the follower), and — in storage/complaint_models.py,
re-exported here — complaints (tickets, events, staff).
Add new tables to the section they belong to; keep JSON columns for data that is read whole.
A change here needs a revision in storage/migrations/versions (docs/design.md, "Schema
migrations"); tests/test_migrations.py fails while the two differ.
"""
from __future__ import annotations

from datetime import date as Date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from core.regions import Place
from storage.models_base import utcnow


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
    # the lifecycle (knowledge/lifecycle.py): the columns above are what answers use — the file's
    # values (`extracted`) with the admin's edits (`overrides`) laid over them
    extracted: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON),
                                      description="metadata as the extractor read it from the file (dates ISO)")
    overrides: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON),
                                      description="metadata an admin set; survives re-ingesting the file")
    withdrawn_at: Optional[datetime] = Field(default=None, description="set: no answer quotes it")
    withdrawn_by: Optional[str] = None
    withdrawn_reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    superseded_by: Optional[int] = Field(default=None, index=True, description="Notice.id of the notice replacing it")

    @property
    def region(self) -> Optional[str]:
        """The notice's place as a path ("山东 聊城"; a municipality's "北京"), core.regions."""
        return Place(self.province, self.city, self.county).path


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
    tokens: str = Field("", sa_column=Column(Text), description="jieba tokens, space-joined: workers rebuild BM25 without re-tokenising")
    text_hash: str = Field("", index=True, description="sha1 of the embedded text: key of EmbeddingCache")


class NoticeEvent(SQLModel, table=True):
    """The notices' audit trail: edits, withdrawals, restores, supersessions, re-ingests — who,
    when, what (field, old and new value), why. No foreign key: the trail outlives a notice a
    re-ingested file no longer holds."""

    id: Optional[int] = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(description="a console username, 'api', 'cli:<user>' or 'system'")
    action: str = Field(description="edited | withdrawn | restored | superseded | ingested | reingested")
    field: Optional[str] = None
    old_value: Optional[str] = Field(default=None, sa_column=Column(Text))
    new_value: Optional[str] = Field(default=None, sa_column=Column(Text))
    reason: str = Field("", sa_column=Column(Text))


class NoticeVersion(SQLModel, table=True):
    """One ingested version of a notice: the chunk texts it had, and what changed from the
    version before (knowledge/versions.py) — an earlier version stays readable after a re-upload."""

    id: Optional[int] = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    file: str = Field(index=True)
    number: int = Field(1, description="1 for the first ingest, then 2, 3 …")
    at: datetime = Field(default_factory=utcnow)
    actor: str = "system"
    sha256: str = ""
    texts: list[str] = Field(default_factory=list, sa_column=Column(JSON), description="the chunk texts, in order")
    added: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    removed: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class EmbeddingCache(SQLModel, table=True):
    """Dense vectors by (embedder, text hash): re-ingesting or recombining clauses embeds nothing twice."""

    key: str = Field(primary_key=True, description="embedder name + ':' + sha1 of the text")
    vector: bytes = Field(sa_column=Column(LargeBinary))


class IndexState(SQLModel, table=True):
    """A version counter bumped on every ingest, so each worker knows when to reload its BM25."""

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- knowledge: what followers ask
# (knowledge/unanswered.py writes these after each answer, off the request path; knowledge/taught.py
# keeps what admins taught. Questions are stored with phone and ID numbers masked.)

class AskLog(SQLModel, table=True):
    """One question answered (chat, /api/ask, a side question in a form): the figures of the
    insights page. `key` is how a later 没用 finds the row (the chat keeps it for 30 minutes)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=32)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=20, description="answered | low_confidence | refused")
    unhelpful: bool = Field(False, description="the follower said 没用 about this answer")
    question: str = Field(sa_column=Column(Text), description="masked (phones, ID numbers)")
    region: Optional[str] = Field(default=None, max_length=60, description="the asker's place, e.g. '山东 聊城'")
    topic: Optional[str] = Field(default=None, max_length=30)
    notice_file: Optional[str] = Field(default=None, max_length=200, description="the first quoted notice's file")
    notice_title: Optional[str] = Field(default=None, sa_column=Column(Text))
    confidence: Optional[float] = None
    taught_id: Optional[int] = Field(default=None, description="TaughtAnswer.id when a taught answer replied")
    group_id: Optional[int] = Field(default=None, description="UnansweredQuestion.id it was counted in")


class UnansweredQuestion(SQLModel, table=True):
    """A question the bot refused, answered with low confidence, or whose answer a follower
    marked unhelpful, with its close paraphrases (knowledge/paraphrase.py): one row per group."""

    id: Optional[int] = Field(default=None, primary_key=True)
    question: str = Field(sa_column=Column(Text), description="the first phrasing, masked")
    kind: str = Field(max_length=20, description="refused | low_confidence | unhelpful: of the latest ask")
    kinds: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON), description="asks per kind")
    count: int = 1
    first_asked: datetime = Field(default_factory=utcnow)
    last_asked: datetime = Field(default_factory=utcnow, index=True)
    phrasings: list[str] = Field(default_factory=list, sa_column=Column(JSON), description="distinct phrasings, masked")
    vectors: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary),
                                     description="centred float32 query vectors, one row per phrasing (or none)")
    embedder: str = Field("", max_length=100)
    status: str = Field("open", index=True, max_length=20, description="open | taught")
    taught_id: Optional[int] = None


class TaughtAnswer(SQLModel, table=True):
    """What an admin taught for a group of questions: link (a clause), answer (a text citing
    clauses) or dismiss (out of scope, with a pointer). Matched by paraphrase before retrieval."""

    id: Optional[int] = Field(default=None, primary_key=True)
    group_id: Optional[int] = Field(default=None, index=True)
    action: str = Field(max_length=20, description="link | answer | dismiss")
    question: str = Field(sa_column=Column(Text))
    phrasings: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    vectors: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    embedder: str = Field("", max_length=100)
    text: str = Field("", sa_column=Column(Text), description="the standard answer, or the pointer")
    chunks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON),
                                         description="[{id, file, sha1}] of the cited clauses")
    created_by: str = Field("", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


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
    thread: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON),
                                   description="the complaint thread messages go to: ticket or pick, since, until")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class ProcessedMessage(SQLModel, table=True):
    """One inbound WeChat message, claimed before it is handled (insert-first de-dup).

    WeChat retries a message it got no answer to within 5 s, possibly to another worker; the
    primary key makes the claim atomic across workers, and the stored reply lets a retry get the
    same answer. `delivery` says how the reply went out ('passive' or 'push'), so a retry of a
    pushed reply answers "success" instead of sending it twice.
    """

    key: str = Field(primary_key=True, max_length=200,
                     description="msg:<FromUserName>:<MsgId>, or evt:<FromUserName>:<CreateTime>:<Event>[:<EventKey>]")
    openid: str = Field(index=True)
    status: str = Field("processing", description="processing | done")
    reply: Optional[str] = Field(default=None, sa_column=Column(Text))
    delivery: Optional[str] = Field(default=None, description="passive | push")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: Optional[datetime] = None


class SignedRequest(SQLModel, table=True):
    """A signature/nonce pair /wechat has accepted (bot.wechat.gate), so that a signed URL read
    from a log cannot carry a second, different message — on any worker. The body's hash lets
    the very same request through again (WeChat's retry; the de-dup answers it), nothing else."""

    key: str = Field(primary_key=True, max_length=64, description="sha256 of signature, timestamp, nonce")
    body_sha256: str = Field(max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class PendingPush(SQLModel, table=True):
    """A customer-service message WeChat did not accept yet (45015 outside the 48-hour window,
    45047 quota, network). Delivered when the follower next writes (which reopens the window)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    openid: str = Field(index=True)
    text: str = Field(sa_column=Column(Text))
    last_error: Optional[str] = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    claimed_at: Optional[datetime] = Field(default=None, description="a worker is sending it now")
    delivered_at: Optional[datetime] = Field(default=None, index=True)
    ticket_id: Optional[int] = Field(default=None, description="the ticket whose notice this is: its timeline "
                                                               "tells when the kept text finally went out")


class KeyValue(SQLModel, table=True):
    """Small shared values with an optional expiry: the WeChat access token (shared by all
    workers, so they do not invalidate each other's), the simulator's signing token."""

    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(sa_column=Column(Text))
    expires_at: Optional[datetime] = None
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- complaints (storage/complaint_models.py)

from storage.complaint_models import (  # noqa: E402  (re-exported: one place to import any table from)
    Ticket, TicketEvent, Evidence, StaffUser, StaffSession, ApiToken, RevealLog, LoginAttempt, StaffEvent, Rating,
    Institution, InstitutionEvent,
)
