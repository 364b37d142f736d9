"""Hybrid retrieval: BM25 over jieba tokens + dense vectors in Chroma, fused by reciprocal rank.

Why both: BM25 nails exact policy words and numbers ("以工代训", "第26项"), the dense model
bridges paraphrase ("饭馆" ~ "住宿餐饮"); reciprocal-rank fusion needs no score calibration
between the two. Why the lexical index is rebuilt from the database: chunks and their tokens
live in SQL, so any worker can rebuild its in-memory BM25 when IndexState.version moves.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlmodel import Session, select

from knowledge.embeddings import Embedder
from knowledge.lexical import BM25, Query, coverage
from knowledge.textutil import sentences, squash
from knowledge.vectors import VectorStore
from storage.models import Chunk, IndexState, Notice

log = logging.getLogger(__name__)
RRF_K = 60
_NO_TOKENS: frozenset[str] = frozenset()
RERANK = 48  # fused candidates re-scored sentence by sentence
REGION_WEIGHT = 10.0  # region bonus (reciprocal-rank units) into rerank units


@dataclass
class NoticeInfo:
    id: int
    file: str
    seq: int
    title: str
    doc_number: str | None
    issuer: str | None
    date: date | None
    region: str | None
    valid_until: date | None


@dataclass
class ChunkInfo:
    id: int
    notice_id: int
    kind: str
    heading_path: str
    text: str
    valid_until: date | None
    tokens: frozenset[str]
    haystack: str = ""
    has_vector: bool = True  # False while a fresh upload's vector is still being computed


@dataclass
class Hit:
    chunk: ChunkInfo
    notice: NoticeInfo
    score: float
    coverage: float
    lexical_rank: int | None
    dense_rank: int | None
    dense_sim: float
    sentence_scores: list[tuple[str, float]] | None = None

    @property
    def best_sentence_coverage(self) -> float:
        return max((sc for _s, sc in self.sentence_scores or []), default=0.0)


@dataclass
class _State:
    chunks: list[ChunkInfo]
    by_id: dict[int, int]
    notices: dict[int, NoticeInfo]
    bm25: BM25


class HybridIndex:
    def __init__(self, embedder: Embedder, vectors: VectorStore | None):
        self.embedder = embedder
        self.vectors = vectors
        self.version = -1
        self._state = _State([], {}, {}, BM25([]))
        self._sentence_cache: dict[int, list] = {}

    @staticmethod
    def db_version(session: Session) -> int:
        state = session.get(IndexState, 1)
        return state.version if state else 0

    def load(self, session: Session) -> None:
        version = self.db_version(session)
        notices = {n.id: NoticeInfo(n.id, n.file, n.seq, n.title, n.doc_number, n.issuer, n.date, n.region,
                                    n.valid_until)
                   for n in session.exec(select(Notice))}
        chunks, docs = [], []
        for c in session.exec(select(Chunk).order_by(Chunk.id)):
            toks = c.tokens.split()
            docs.append(toks)
            n = notices.get(c.notice_id)
            haystack = squash(" ".join(x or "" for x in ((n.title, n.doc_number, n.issuer, n.region) if n else ())
                                       ) + c.heading_path + c.text).lower()
            chunks.append(ChunkInfo(c.id, c.notice_id, c.kind, c.heading_path, c.text, c.valid_until,
                                    frozenset(toks), haystack, has_vector=bool(c.text_hash)))
        # one assignment: a search running in another thread sees the old state or the new one
        self._state = _State(chunks, {c.id: i for i, c in enumerate(chunks)}, notices, BM25(docs))
        self._sentence_cache = {}
        if self.vectors is not None and self.version != -1:
            self.vectors.reopen()
        self.version = version
        log.info("index loaded: %d notices, %d chunks (version %d)", len(notices), len(chunks), version)

    def search(self, query: Query, k: int = 8, dense_text: str | None = None,
               region_bonus: dict[int, float] | None = None, pool: int = 60) -> list[Hit]:
        st = self._state
        if not st.chunks:
            return []
        lex = st.bm25.scores(query.weights)
        lex_order = [int(i) for i in np.argsort(-lex)[:pool] if lex[i] > 0]
        lexical_rank = {i: r for r, i in enumerate(lex_order)}
        dense_rank: dict[int, int] = {}
        dense_sim: dict[int, float] = {}
        if self.vectors is not None:
            try:
                qv = self.embedder.queries([dense_text or query.text])[0]
                for r, (cid, sim) in enumerate(self.vectors.query(qv, pool)):
                    i = st.by_id.get(cid)
                    if i is not None:
                        dense_rank[i], dense_sim[i] = r, sim
            except Exception:  # the lexical half still answers
                log.exception("dense search failed; answering from BM25 only")
        fused: dict[int, float] = {}
        for i, r in lexical_rank.items():
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r + 1)
        for i, r in dense_rank.items():
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r + 1)
        # a chunk whose vector is not computed yet (just uploaded) cannot be ranked by the dense
        # half: let its lexical rank stand in, so a new notice is not outranked by old ones
        for i, r in lexical_rank.items():
            if i not in dense_rank and not st.chunks[i].has_vector:
                fused[i] += 1.0 / (RRF_K + r + 1)
        top = sorted(fused.items(), key=lambda kv: -kv[1])[:RERANK]
        best_fused = top[0][1] if top else 1.0
        hits = []
        for i, fused_score in top:
            c = st.chunks[i]
            bonus = (region_bonus or {}).get(c.notice_id, 0.0)
            hit = Hit(c, st.notices[c.notice_id], 0.0, coverage(query, c.tokens, st.bm25, c.haystack),
                      lexical_rank.get(i), dense_rank.get(i), dense_sim.get(i, 0.0))
            hit.sentence_scores = self._sentence_scores(query, c, st)
            # rerank: does one sentence answer (most of) the question, does the clause, how
            # high both retrievers put it, and is it the asker's region
            hit.score = (0.45 * hit.best_sentence_coverage + 0.25 * hit.coverage
                         + 0.30 * fused_score / best_fused + REGION_WEIGHT * bonus)
            hits.append(hit)
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    @staticmethod
    def _context(c: ChunkInfo, st: "_State") -> str:
        n = st.notices.get(c.notice_id)
        ctx = " ".join(x for x in (n.title if n else "", n.issuer or "" if n else "", n.region or "" if n else "",
                                   c.heading_path) if x)
        return squash(ctx).lower()

    def _sentence_scores(self, query: Query, c: ChunkInfo, st: "_State") -> list[tuple[str, float]]:
        """Coverage of the question by each sentence of the clause (read with the clause's
        title, issuer, region and headings, which the sentence itself does not repeat)."""
        cached = self._sentence_cache.get(c.id)
        if cached is None:
            # substring matching only: no tokenising at question time (it cost more than the
            # whole rest of the search at 16,000 chunks)
            parts = [c.text] if (len(c.text) <= 120 or " | " in c.text) else sentences(c.text)
            ctx_hay = self._context(c, st)
            cached = [(p, _NO_TOKENS, ctx_hay + squash(p).lower()) for p in parts]
            if len(self._sentence_cache) > 20000:
                self._sentence_cache.clear()
            self._sentence_cache[c.id] = cached
        return [(p, coverage(query, toks, st.bm25, hay)) for p, toks, hay in cached]

    # read-only views for callers (service, benchmarks)
    @property
    def chunks(self) -> list[ChunkInfo]:
        return self._state.chunks

    @property
    def notices(self) -> dict[int, NoticeInfo]:
        return self._state.notices
