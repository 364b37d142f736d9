"""The question log: every answer's figures (AskLog), and the questions the bot could not answer
well, grouped with their close paraphrases (UnansweredQuestion) for the admins to teach.

Why here, below the bot: `KnowledgeBase.ask` is the one place an Answer is made (chat, /api/ask,
a side question inside a form), so it is the one place that logs; 没用 in the chat reaches the
same log through `mark_unhelpful`. Why a writer thread: logging must never slow or break an
answer — grouping embeds the question and compares it with the open groups, and on SQLite a
second connection writing while the chat turn holds the write lock would wait. So `record`
only builds a small job (masked text, kind, place, topic, top notice) and queues it; one thread
per process writes what has queued up in one short transaction (per job one insert, one insert
or update; under load one commit serves many answers, where it was one per answer), and a
failure is logged, never raised — the batch is then written again job by job, so a bad entry
costs only itself. A queue that is full drops the job (and says so).
Phone numbers and 18-digit ID numbers are masked before anything is queued.
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Optional

import numpy as np
from sqlalchemy import update
from sqlmodel import select

from core.pii import redact
from knowledge import paraphrase
from knowledge.insights import topic_of
from knowledge.normalise import normalise_question
from knowledge.types import Answer
from storage.db import insert_row, session_scope, xact_lock
from storage.models import AskLog, UnansweredQuestion, utcnow

log = logging.getLogger(__name__)

KINDS = ("refused", "low_confidence", "unhelpful")
KIND_LABELS = {"refused": "未能回答", "low_confidence": "把握不大", "unhelpful": "没帮上"}
LOW_CONFIDENCE_MARGIN = 0.14  # answered, but the ranker's probability is within this of the threshold
MAX_QUESTION = 300  # characters kept of a question
MAX_PHRASINGS = 5  # distinct phrasings kept per group (each with its vector)
CANDIDATES = 500  # open groups compared with a new question (the most recently asked)
QUEUE_SIZE = 1000
BATCH = 50  # queued entries written in one transaction
GROUPS_LOCK_KEY = 0x70625571  # "pbUq": the advisory lock a transaction holds while it counts groups

Vectoriser = Callable[[str], Optional[np.ndarray]]


def mask(text: str) -> str:
    """Phone numbers as 138****8000, ID numbers as 110101********123X (core/pii.py's redaction,
    the same as every log line's)."""
    return redact(text or "")


def clean_question(text: str) -> str:
    """What is stored of a question: masked, whitespace squeezed, cut to MAX_QUESTION."""
    return " ".join(mask(text).split())[:MAX_QUESTION]


def kind_of(ans: Answer, threshold: float) -> str:
    """answered | low_confidence | refused."""
    if ans.refused:
        return "refused"
    if ans.confidence is not None and ans.confidence < threshold + LOW_CONFIDENCE_MARGIN:
        return "low_confidence"
    return "answered"


# ------------------------------------------------------------------ stored phrasings

def pack(vectors: list[np.ndarray | None], dim: int | None) -> bytes | None:
    """One float32 row per phrasing (zeros for one without a vector); None when none has one."""
    if dim is None or all(v is None for v in vectors):
        return None
    rows = [np.zeros(dim, np.float32) if v is None else np.asarray(v, np.float32) for v in vectors]
    return np.stack(rows).astype(np.float32).tobytes()


def unpack(texts: list[str], blob: bytes | None, stored_by: str, embedder_name: str | None) -> list[paraphrase.Phrasing]:
    """The phrasings with their centred vectors (only when the same embedder made them)."""
    rows = None
    if blob and texts and stored_by == embedder_name:
        matrix = np.frombuffer(blob, dtype=np.float32)
        if matrix.size % len(texts) == 0:
            rows = matrix.reshape(len(texts), -1)
    out = []
    for i, t in enumerate(texts):
        v = rows[i] if rows is not None else None
        out.append(paraphrase.Phrasing(t, v if v is not None and np.any(v) else None))
    return out


Write = Callable[[object], None]  # a job's writes, given the batch's session
Job = Callable[[], Optional[Write]]  # a job: its work outside the transaction (the embedding)


@dataclass
class _Writer:
    """One daemon thread per process writing queued jobs. What has queued up meanwhile is
    written in one transaction (up to BATCH jobs: under load one commit serves many answers);
    when that fails, each job of the batch is written again in its own, so one bad entry
    costs only itself."""

    url: Callable[[], str]
    name: str = "question-log"
    jobs: "queue.Queue[Job]" = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))
    thread: threading.Thread | None = None
    guard: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, job: Job) -> None:
        with self.guard:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.thread.start()
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            log.warning("question log: queue full, one entry dropped")

    def _run(self) -> None:
        while True:
            batch = [self.jobs.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write([w for w in map(self._prepare, batch) if w is not None])
            finally:
                for _ in batch:
                    self.jobs.task_done()

    @staticmethod
    def _prepare(job: Job) -> Optional[Write]:
        try:
            return job()
        except Exception:  # never up to the asker: the answer has long gone out
            log.exception("question log: preparing an entry failed")
            return None

    def _write(self, writes: list[Write]) -> None:
        if not writes:
            return
        try:
            with session_scope(self.url()) as s:
                for write in writes:
                    write(s)
            return
        except Exception:
            if len(writes) == 1:
                log.exception("question log: writing failed")
                return
        for write in writes:  # one at a time: only the bad one is lost
            try:
                with session_scope(self.url()) as s:
                    write(s)
            except Exception:
                log.exception("question log: writing failed")

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.jobs.unfinished_tasks


class QuestionLog:
    """`record` (after every answer) and `mark_unhelpful` (没用) queue their writes; `items`
    lists the open groups. `vectorise` gives a question's raw query vector (the knowledge base's
    embedder, through its query cache) or None; without it, groups are found lexically."""

    def __init__(self, settings, vectorise: Vectoriser | None = None, embedder_name: Callable[[], str | None] | None = None):
        self.settings = settings
        self._vectorise = vectorise
        self._embedder_name = embedder_name or (lambda: None)
        self._writer = _Writer(lambda: self.settings.db_url)

    # ------------------------------------------------------------------ writing
    def record(self, question: str, region: str | None, ans: Answer, *, threshold: float,
               place: str | None = None, taught_id: int | None = None) -> str | None:
        """Queue the log of one answer; returns its key (kept by the chat for a later 没用).
        Refused and low-confidence questions are counted in their group, unless a taught
        answer replied (the admins already decided about it). Never raises."""
        try:
            key = uuid.uuid4().hex
            text = clean_question(normalise_question(question or ""))
            if not text:
                return None
            kind = kind_of(ans, threshold)
            top = ans.sources[0] if ans.sources and not ans.refused else None
            row = dict(key=key, at=utcnow(), kind=kind, question=text, region=place, topic=topic_of(text),
                       notice_file=top.file if top else None, notice_title=(top.title or top.file) if top else None,
                       confidence=ans.confidence, taught_id=taught_id)
            grouped = kind if kind in KINDS and taught_id is None else None
            self._writer.submit(lambda: self._write(row, grouped))
            for part in ans.unanswered_parts if taught_id is None else []:
                # a part of a several-question message that no clause answered: its own item
                part_text = clean_question(normalise_question(part))
                if part_text:
                    self._writer.submit(lambda t=part_text: self._write_part(t, place))
            return key
        except Exception:
            log.exception("question log: record failed")
            return None

    def mark_unhelpful(self, key: str | None, question: str, place: str | None = None) -> None:
        """The follower said 没用 about the answer logged under `key`: mark that row (or log
        one, when the row is not there) and count the question in its group as unhelpful."""
        try:
            text = clean_question(question)
            if not text:
                return
            self._writer.submit(lambda: self._write_unhelpful(key, text, place))
        except Exception:
            log.exception("question log: marking unhelpful failed")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued entry is written (tests, the CLI, shutdown)."""
        return self._writer.flush(timeout)

    def _vector(self, text: str) -> np.ndarray | None:
        if self._vectorise is None:
            return None
        try:
            return self._vectorise(text)
        except Exception:  # the lexical fallback groups it
            log.exception("question log: embedding failed")
            return None

    def _write(self, row: dict, grouped: str | None) -> Write:
        vector = self._vector(row["question"]) if grouped else None

        def write(s) -> None:
            group = self._count(s, row["question"], grouped, vector, row["at"]) if grouped else None
            insert_row(s, AskLog, **row, group_id=group)
        return write

    def _write_part(self, text: str, place: str | None) -> Write:
        """Count an unanswered part in its group (the message itself has its AskLog row)."""
        vector = self._vector(text)
        return lambda s: self._count(s, text, "refused", vector, utcnow())

    def _write_unhelpful(self, key: str | None, text: str, place: str | None) -> Write:
        vector = self._vector(text)
        now = utcnow()

        def write(s) -> None:
            marked = 0
            if key:
                marked = s.exec(update(AskLog).where(AskLog.key == key).values(unhelpful=True)).rowcount
            group = self._count(s, text, "unhelpful", vector, now)
            if marked:
                s.exec(update(AskLog).where(AskLog.key == key).values(group_id=group))
            else:  # the answer's own row was never written (or went to another database)
                s.add(AskLog(key=uuid.uuid4().hex, at=now, kind="answered", unhelpful=True, question=text,
                             region=place, topic=topic_of(text), group_id=group))
        return write

    def _count(self, s, text: str, kind: str, vector: np.ndarray | None, at: datetime) -> int:
        """The open group this question belongs to, counted once more; a new group if none.
        Writers on several workers take the groups' lock first: batches updating the same groups
        in different orders deadlocked (PostgreSQL then rolled one back after a second, and its
        entries were written again one by one), and two workers could each open a new group for
        the same question."""
        xact_lock(s, GROUPS_LOCK_KEY)
        name = self._embedder_name()
        candidates = s.exec(select(UnansweredQuestion).where(UnansweredQuestion.status == "open")
                            .order_by(UnansweredQuestion.last_asked.desc()).limit(CANDIDATES)).all()
        best, best_score = None, 0.0
        for group in candidates:
            score = paraphrase.similarity(text, vector, unpack(group.phrasings or [], group.vectors, group.embedder, name),
                                          name)
            if score > best_score:
                best, best_score = group, score
        mine = paraphrase.centred(vector, name)
        if best is not None and paraphrase.is_same(best_score):
            kinds = dict(best.kinds or {})
            kinds[kind] = kinds.get(kind, 0) + 1
            values = dict(count=UnansweredQuestion.count + 1, last_asked=at, kind=kind, kinds=kinds)
            phrasings = list(best.phrasings or [])
            if best_score < 1.0 and len(phrasings) < MAX_PHRASINGS:  # a new way of asking it
                known = unpack(phrasings, best.vectors, best.embedder, name)
                vectors = [p.vector for p in known] + [mine]
                values.update(phrasings=phrasings + [text], vectors=pack(vectors, _dim(vectors)),
                              embedder=name or best.embedder)
            s.exec(update(UnansweredQuestion).where(UnansweredQuestion.id == best.id).values(**values))
            return best.id
        group = UnansweredQuestion(question=text, kind=kind, kinds={kind: 1}, count=1, first_asked=at, last_asked=at,
                                   phrasings=[text], vectors=pack([mine], _dim([mine])), embedder=name or "")
        s.add(group)
        s.flush()
        return group.id

    # ------------------------------------------------------------------ reading
    def items(self, limit: int = 200, kind: str | None = None) -> list[dict]:
        """The open groups, most asked first (then the latest)."""
        with session_scope(self.settings.db_url) as s:
            stmt = select(UnansweredQuestion).where(UnansweredQuestion.status == "open")
            if kind:
                stmt = stmt.where(UnansweredQuestion.kind == kind)
            rows = s.exec(stmt.order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_asked.desc(),
                                        UnansweredQuestion.id.desc()).limit(limit)).all()
            return [item(r) for r in rows]

    def get(self, group_id: int) -> dict | None:
        with session_scope(self.settings.db_url) as s:
            row = s.get(UnansweredQuestion, group_id)
            return item(row) if row is not None else None


def _dim(vectors: list[np.ndarray | None]) -> int | None:
    return next((len(v) for v in vectors if v is not None), None)


def item(row: UnansweredQuestion) -> dict:
    """The JSON of one group (GET /api/unanswered's items; the console shows the same)."""
    return {"id": row.id, "question": row.question, "count": row.count,
            "last_asked": _aware(row.last_asked).isoformat(), "kind": row.kind,
            "kinds": dict(row.kinds or {}), "phrasings": list(row.phrasings or []), "status": row.status,
            "taught_id": row.taught_id}


def _aware(moment: datetime) -> datetime:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
