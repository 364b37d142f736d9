"""Taught answers: what an admin decided for a group of unanswered questions, and how the bot
then answers those questions and their close paraphrases.

Three kinds, all kept in the database (TaughtAnswer, every worker; a worker notices a change
within a second): `link` (the clause that answers it: quoted and cited as any answer),
`answer` (a standard text, which must cite at least one clause: the text, then those clauses'
citations) and `dismiss` (out of scope: a refusal with the admin's pointer, e.g. 12333).
`KnowledgeBase.ask` looks them up before retrieval, by paraphrase (knowledge/paraphrase.py: the
same calibrated rule that groups the unanswered list). A taught answer never overrides a
withdrawal: when a cited clause is gone from the index or its notice is withdrawn, the taught
answer is skipped and the question is answered as if it had never been taught. Until the
notice lifecycle lands, "withdrawn" is `getattr(notice, "withdrawn", False)` or a `status` of
withdrawn/已撤回 on the Notice row, whichever the lifecycle adds.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import select

from knowledge import answer as answering
from knowledge import paraphrase
from knowledge.index import Hit
from knowledge.lexical import parse_query
from knowledge.normalise import normalise_question
from knowledge.qtypes import asked_types
from core.text import squash
from knowledge.textutil import sentences, sha1
from knowledge.topics import hints_for
from knowledge.types import Answer
from knowledge.unanswered import item as group_item, unpack
from storage.db import session_scope
from storage.models import Chunk, Notice, TaughtAnswer, UnansweredQuestion, utcnow

log = logging.getLogger(__name__)

ACTIONS = ("link", "answer", "dismiss")
ACTION_LABELS = {"link": "关联条款", "answer": "标准答复", "dismiss": "不在范围"}
WITHDRAWN_STATUSES = {"withdrawn", "已撤回"}
MAX_TEXT = 1000
MAX_POINTER = 300
RELOAD_SECONDS = 1.0
DISMISS_HEAD = "这个问题不在本助手收录的职业技能提升政策范围内。"


class TeachError(ValueError):
    """An admin action refused: `status` (404 no such item/clause, 422 invalid) and a Chinese reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def withdrawn(notice) -> bool:
    return bool(getattr(notice, "withdrawn", False)) or getattr(notice, "status", None) in WITHDRAWN_STATUSES


@dataclass
class _Entry:
    id: int
    action: str
    text: str
    chunks: list[dict]
    phrasings: list[paraphrase.Phrasing]


class TaughtAnswers:
    def __init__(self, kb):
        self.kb = kb
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._stamp: tuple | None = None
        self._checked = 0.0

    @property
    def _url(self) -> str:
        return self.kb.settings.db_url

    def _name(self) -> str | None:
        return self.kb.embedder_name()

    # ------------------------------------------------------------------ answering
    def _current(self) -> list[_Entry]:
        now = time.monotonic()
        if now - self._checked < RELOAD_SECONDS:
            return self._entries
        with self._lock:
            self._checked = now
            with session_scope(self._url) as s:
                stamp = tuple(s.exec(select(func.count(TaughtAnswer.id), func.max(TaughtAnswer.id))).one())
                if stamp != self._stamp:
                    name = self._name()
                    self._entries = [_Entry(r.id, r.action, r.text, list(r.chunks or []),
                                            unpack(list(r.phrasings or []), r.vectors, r.embedder, name))
                                     for r in s.exec(select(TaughtAnswer).order_by(TaughtAnswer.id))]
                    self._stamp = stamp
        return self._entries

    def _changed(self) -> None:
        self._checked = 0.0

    def lookup(self, question: str, region: str | None) -> tuple[Answer, int] | None:
        """The taught answer for this question, with its id; None when none applies."""
        entries = self._current()
        if not entries:
            return None
        text = normalise_question(question or "")
        if not squash(text):
            return None
        name = self._name()
        vector = None
        if paraphrase.vectors_usable(name) and any(p.vector is not None for e in entries for p in e.phrasings):
            vector = self.kb.question_vector(text)
        ranked = sorted(((paraphrase.similarity(text, vector, e.phrasings, name), e) for e in entries),
                        key=lambda pair: -pair[0])
        for score, entry in ranked:
            if not paraphrase.is_same(score):
                break
            ans = self._compose(entry, text, region)
            if ans is not None:
                return ans, entry.id
        return None

    def _compose(self, entry: _Entry, question: str, region: str | None) -> Answer | None:
        if entry.action == "dismiss":
            return Answer(answer=DISMISS_HEAD + entry.text, refused=True)
        hits = self._hits(entry.chunks, question)
        if hits is None:
            return None
        today = self.kb.today()
        if entry.action == "link":
            from knowledge import responder

            place = responder.asker_place(question, region, self.kb.covered_regions())
            lead = responder.region_lead(self.kb, place, hits[0].notice.region)
            ans = answering.compose(parse_query(question), hits[:1], today, asked_types(question), lead=lead,
                                    tail=hints_for(question))
            ans.confidence = None  # not the ranker's: an admin chose this clause
            return ans
        sources = [answering.to_source(h, answering.best_quote(h.chunk.text, h.sentence_scores, limit=120), today)
                   for h in hits]
        return Answer(answer=entry.text, sources=sources)

    def _hits(self, refs: list[dict], question: str) -> list[Hit] | None:
        """The cited clauses as hits on the loaded index, or None when one is gone (re-ingested
        away, withdrawn): the taught answer must not outlive its clause."""
        index = self.kb._reload()
        by_id = {c.id: c for c in index.chunks}
        hits = []
        for ref in refs:
            chunk = by_id.get(ref.get("id"))
            if chunk is None or sha1(chunk.text) != ref.get("sha1"):
                chunk = next((c for c in index.chunks if sha1(c.text) == ref.get("sha1")
                              and index.notices[c.notice_id].file == ref.get("file")), None)
            if chunk is None:
                return None
            hits.append(Hit(chunk, index.notices[chunk.notice_id], 1.0, sentence_scores=_units(chunk.text, question)))
        with session_scope(self._url) as s:
            if any(withdrawn(s.get(Notice, h.notice.id)) for h in hits):
                return None
        return hits or None

    # ------------------------------------------------------------------ teaching
    def link(self, group_id: int, chunk_id: int, by: str = "") -> dict:
        return self._teach(group_id, "link", "", [chunk_id], by)

    def answer(self, group_id: int, text: str, chunk_ids: list[int], by: str = "") -> dict:
        text = (text or "").strip()
        if not text:
            raise TeachError(422, "标准答复的内容不能为空")
        if len(text) > MAX_TEXT:
            raise TeachError(422, f"标准答复不能超过{MAX_TEXT}字")
        if not chunk_ids:
            raise TeachError(422, "标准答复必须引用至少一条政策条款（chunk_ids），答复时会附上这些条款的出处")
        return self._teach(group_id, "answer", text, chunk_ids, by)

    def dismiss(self, group_id: int, pointer: str, by: str = "") -> dict:
        pointer = " ".join((pointer or "").split())
        if not pointer:
            raise TeachError(422, "请写明去处，例如：请拨打12333人社服务热线咨询。")
        if len(pointer) > MAX_POINTER:
            raise TeachError(422, f"去处说明不能超过{MAX_POINTER}字")
        return self._teach(group_id, "dismiss", pointer, [], by)

    def _teach(self, group_id: int, action: str, text: str, chunk_ids: list[int], by: str) -> dict:
        with session_scope(self._url) as s:
            group = s.get(UnansweredQuestion, group_id) if 0 < group_id < 2**31 else None
            if group is None:
                raise TeachError(404, "没有这个未解答问题")
            refs = []
            for cid in dict.fromkeys(chunk_ids):
                chunk = s.get(Chunk, cid) if isinstance(cid, int) and 0 < cid < 2**31 else None
                if chunk is None:
                    raise TeachError(422, f"没有编号为 {cid} 的政策条款")
                if withdrawn(s.get(Notice, chunk.notice_id)):
                    raise TeachError(422, f"条款 {cid} 所在的通知已撤回，不能引用")
                refs.append({"id": chunk.id, "file": chunk.file, "sha1": sha1(chunk.text)})
            for old in s.exec(select(TaughtAnswer).where(TaughtAnswer.group_id == group.id)):
                s.delete(old)  # taught again: the new decision replaces the old one
            taught = TaughtAnswer(group_id=group.id, action=action, question=group.question,
                                  phrasings=list(group.phrasings or [group.question]), vectors=group.vectors,
                                  embedder=group.embedder, text=text, chunks=refs, created_by=by[:100],
                                  created_at=utcnow())
            s.add(taught)
            s.flush()
            group.status, group.taught_id = "taught", taught.id
            s.add(group)
            result = self._item(taught, group)
        self._changed()
        return result

    # ------------------------------------------------------------------ listing
    def items(self) -> list[dict]:
        with session_scope(self._url) as s:
            rows = s.exec(select(TaughtAnswer).order_by(TaughtAnswer.created_at.desc(), TaughtAnswer.id.desc())).all()
            return [self._item(r, None) for r in rows]

    def remove(self, taught_id: int) -> bool:
        """Forget a taught answer; its group opens again (the question is counted anew)."""
        with session_scope(self._url) as s:
            row = s.get(TaughtAnswer, taught_id) if 0 < taught_id < 2**31 else None
            if row is None:
                return False
            group = s.get(UnansweredQuestion, row.group_id) if row.group_id else None
            if group is not None and group.taught_id == row.id:
                group.status, group.taught_id = "open", None
                s.add(group)
            s.delete(row)
        self._changed()
        return True

    def _item(self, row: TaughtAnswer, group: UnansweredQuestion | None) -> dict:
        ids = [ref["id"] for ref in row.chunks or []]
        active = row.action == "dismiss" or self._hits(list(row.chunks or []), row.question) is not None
        out = {"id": row.id, "action": row.action, "question": row.question, "phrasings": list(row.phrasings or []),
               "text": row.text, "chunk_ids": ids, "group_id": row.group_id, "created_by": row.created_by,
               "created_at": _iso(row.created_at), "active": active}
        if group is not None:
            out["item"] = group_item(group)
        return out


def _units(text: str, question: str) -> list[tuple[str, float]] | None:
    """The clause's sentences scored by the question's character bigrams (which one to quote)."""
    parts = sentences(answering.readable(text))
    if len(parts) <= 1:
        return None
    asked = set(paraphrase.char_grams(question))
    return [(p, len(asked & set(paraphrase.char_grams(p))) / (len(asked) or 1)) for p in parts]


def _iso(moment) -> str:
    from datetime import timezone

    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()

