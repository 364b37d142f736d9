"""Hybrid retrieval: four legs pool candidates, a learned ranker orders them.

The legs: BM25 over jieba words (exact policy words and numbers), BM25 over character bigrams
(what segmentation splits differently: “服务期” vs “服务期限”), the chunk vectors in Chroma, and
sentence vectors held here (a clause answers through one of its sentences: max-sim finds it
even when the rest of the clause is about something else). Each candidate gets the features of
knowledge/ranker.py and the model's probability that it answers; the service refuses when the
best probability is under the calibrated threshold.
Why the in-memory parts are rebuilt from the database: chunks, tokens and sentence vectors
(the embedding cache) live in SQL, so any worker rebuilds them when IndexState.version moves.
The notices' lifecycle (knowledge/lifecycle.py) is applied at the load: a withdrawn notice's
clauses are not loaded (so neither BM25 leg, nor Chroma's results, which map through the loaded
ids, can return them), and a superseded notice's clauses leave the pool unless the question
names that notice (then its replacement's leave instead).
"""
from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlmodel import Session, select

from core.text import squash
from knowledge import ranker as ranking
from knowledge.embeddings import Embedder
from knowledge.families import families, quotable_family
from knowledge.lexical import BM25, Query, concept_fit, coverage
from knowledge.lifecycle import names_notice
from knowledge.qtypes import QType, figure_absent, type_match
from knowledge.scope import Scope, nearest
from knowledge.sentences import SentenceIndex
from knowledge.vectors import VectorStore, VectorsUnavailable
from storage.models import Chunk, IndexState, Notice

log = logging.getLogger(__name__)
POOL = 30  # candidates taken from each leg
DENSE_CACHE = 512  # query texts whose vector-store neighbours are remembered (per version)
_CHAR_OK = re.compile(r"[\w\u3400-\u9fff]")
_YEAR = re.compile(r"20\d\d")
_FORM_DATE = re.compile(r"(?<![\d〇零一二三四五六七八九十])年\s*月\s*日")  # a form's blank date: a template, not a rule


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
    superseded_by: int | None = None  # the replacing notice's id (knowledge/lifecycle.py)
    replaced_by: "NoticeInfo | None" = None  # that notice, when it is in force


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
class SearchContext:
    """What the ranker knows about the question besides its words."""

    question: str
    types: list[QType] = field(default_factory=list)
    figures: list[QType] = field(default_factory=list)  # figures asked outright (qtypes.figures_asked)
    region_fit: dict[int, float] = field(default_factory=dict)  # notice id -> fit to the asker's place
    asker_place: bool = False
    query_vector: np.ndarray | None = None  # set by the search
    top_sentence_sim: float = 0.0  # set by the search: the closest sentence of any clause
    nearest_scope: tuple[Scope | None, float] = (None, 0.0)  # set by the search (knowledge/scope.py)


@dataclass
class Hit:
    chunk: ChunkInfo
    notice: NoticeInfo
    score: float  # the ranker's probability that this clause answers
    features: dict[str, float] = field(default_factory=dict)
    logit: float = 0.0  # the listwise scorer's output (orders the candidates)
    sentence_scores: list[tuple[str, float]] | None = None
    family: list[ChunkInfo] = field(default_factory=list)  # the list it belongs to (families.py)


def char_grams(text: str) -> list[str]:
    t = [c for c in squash(text).lower() if _CHAR_OK.match(c)]
    return [t[i] + t[i + 1] for i in range(len(t) - 1)]


@dataclass
class _State:
    chunks: list[ChunkInfo]
    by_id: dict[int, int]
    notices: dict[int, NoticeInfo]
    bm25: BM25
    chars: BM25
    sentences: SentenceIndex
    families: dict[int, tuple[int, ...]] = field(default_factory=dict)  # knowledge/families.py


def _abs_score(bm25: BM25, weights: dict[str, float], best: float) -> float:
    """BM25 score as a share of what a clause holding every query term would score."""
    ceiling = sum(w * bm25.term_weight(t) * (bm25.k1 + 1) for t, w in weights.items())
    return best / ceiling if ceiling > 0 else 0.0


def _unknown_share(bm25: BM25, weights: dict[str, float], idf: bool = True) -> float:
    """How much of the question no clause uses at all (weighted by rarity): words of another
    subject (天气, 公积金) are unknown to a corpus of training notices."""
    total = unknown = 0.0
    for t in weights:
        w = bm25.term_weight(t) if idf else 1.0
        total += w
        if t not in bm25.postings:
            unknown += w
    return unknown / total if total else 1.0


def _ranks(scores: np.ndarray, pool: int) -> dict[int, int]:
    order = [int(i) for i in np.argsort(-scores)[:pool] if scores[i] > 0]
    return {i: r for r, i in enumerate(order)}


class HybridIndex:
    def __init__(self, embedder: Embedder, vectors: VectorStore | None):
        self.embedder = embedder
        self.vectors = vectors
        self.version = -1
        self._dense_cache: dict[tuple[int, str], list[tuple[int, float]]] = {}  # oldest first
        self._dense_lock = threading.Lock()
        self._state = _State([], {}, {}, BM25([]), BM25([]), SentenceIndex.empty())

    @staticmethod
    def db_version(session: Session) -> int:
        state = session.get(IndexState, 1)
        return state.version if state else 0

    def load(self, session: Session) -> None:
        version = self.db_version(session)
        # a withdrawn notice is not loaded at all: no leg, no note, no choice, no overview finds it
        notices = {n.id: NoticeInfo(n.id, n.file, n.seq, n.title, n.doc_number, n.issuer, n.date, n.region,
                                    n.valid_until, n.superseded_by)
                   for n in session.exec(select(Notice).where(Notice.withdrawn_at.is_(None)))}
        for n in notices.values():
            n.replaced_by = notices.get(n.superseded_by) if n.superseded_by is not None else None
        chunks, docs, grams, contexts = [], [], [], []
        for c in session.exec(select(Chunk).order_by(Chunk.id)):
            if c.notice_id not in notices:
                continue
            toks = c.tokens.split()
            docs.append(toks)
            grams.append(char_grams(c.heading_path + c.text))
            n = notices.get(c.notice_id)
            haystack = squash(" ".join(x or "" for x in ((n.title, n.doc_number, n.issuer, n.region) if n else ())
                                       ) + c.heading_path + c.text).lower()
            chunks.append(ChunkInfo(c.id, c.notice_id, c.kind, c.heading_path, c.text, c.valid_until,
                                    frozenset(toks), haystack, has_vector=bool(c.text_hash)))
            # what a sentence of this clause is read with: its notice and its headings
            contexts.append(squash(" ".join(x or "" for x in ((n.title, n.issuer, n.region) if n else ()))
                                   + c.heading_path).lower())
        sents = SentenceIndex.build(session, self.embedder, chunks, contexts)
        # one assignment: a search running in another thread sees the old state or the new one
        self._state = _State(chunks, {c.id: i for i, c in enumerate(chunks)}, notices, BM25(docs), BM25(grams), sents,
                             families(chunks))
        if self.vectors is not None and self.version != -1:
            self.vectors.reopen()
        self.version = version
        with self._dense_lock:
            self._dense_cache = {}  # another version's neighbours are never read again
        log.info("index loaded: %d notices, %d chunks, %d sentences (%d without vectors), version %d",
                 len(notices), len(chunks), len(sents.units), len(sents.missing), version)

    def _dense(self, text: str, qv: np.ndarray) -> list[tuple[int, float]]:
        """The vector store's nearest chunks for this query text, remembered for the loaded
        version (a vector store's contents move only with a version bump: ingests, edits, the
        background filler's batches). A popular question costs the Chroma server one query per
        worker and version, not one per asker. Only while the store is healthy: in an outage
        every query goes to the store as before (VectorsUnavailable: the lexical legs answer)."""
        key = (self.version, text)
        found = self._dense_cache.get(key) if self.vectors.healthy else None
        if found is None:
            found = self.vectors.query(qv, POOL)
            with self._dense_lock:
                self._dense_cache[key] = found
                while len(self._dense_cache) > DENSE_CACHE:
                    self._dense_cache.pop(next(iter(self._dense_cache)))
        return found

    @property
    def missing_sentences(self) -> list[str]:
        """Sentence texts whose vectors are not computed yet (a fresh upload's)."""
        return self._state.sentences.missing

    def search(self, query: Query, ctx: SearchContext, k: int = 8, dense_text: str | None = None) -> list[Hit]:
        st = self._state
        if not st.chunks:
            return []
        lex = st.bm25.scores(query.weights)
        char_weights = {g: 1.0 for g in dict.fromkeys(char_grams(ctx.question))}
        chars = st.chars.scores(char_weights)
        lex_rank, char_rank = _ranks(lex, POOL), _ranks(chars, POOL)
        dense_rank: dict[int, int] = {}
        dense_sim: dict[int, float] = {}
        qv = None
        try:
            qv = self.embedder.queries([dense_text or query.text])[0]
            if self.vectors is not None:
                for r, (cid, sim) in enumerate(self._dense(dense_text or query.text, qv)):
                    i = st.by_id.get(cid)
                    if i is not None:
                        dense_rank[i], dense_sim[i] = r, sim
        except VectorsUnavailable:  # Chroma down (the store logs it once): the other legs answer
            pass
        except Exception:  # the lexical legs still answer
            log.exception("dense search failed; answering from the lexical legs")
        sent_best = st.sentences.best_per_chunk(qv, len(st.chunks)) if qv is not None else {}
        sent_order = sorted(sent_best, key=lambda i: -sent_best[i][0])
        sent_rank = {i: r for r, i in enumerate(sent_order)}
        # "评分表第26项": an explicit row reference is a lookup, not a judgement of relevance
        refs = [tok for tok, _alts in query.concepts if tok.startswith("序号:")]
        referenced = {i for i, c in enumerate(st.chunks) if any(r in c.haystack for r in refs)} if refs else set()
        pool = set(lex_rank) | set(char_rank) | set(dense_rank) | set(sent_order[:POOL]) | referenced
        hidden = self._hidden(st, ctx.question)
        pool = {i for i in pool if st.chunks[i].notice_id not in hidden}
        if not pool:
            return []
        lex_max, char_max = float(lex.max()) or 1.0, float(chars.max()) or 1.0
        lex_abs = _abs_score(st.bm25, query.weights, lex_max)
        char_abs = _abs_score(st.chars, char_weights, char_max)
        top_dense = max(dense_sim.values(), default=0.0)
        top_sent = sent_best[sent_order[0]][0] if sent_order else 0.0
        ctx.query_vector, ctx.top_sentence_sim = qv, top_sent
        years = set(_YEAR.findall(ctx.question))
        oov_words = _unknown_share(st.bm25, {t: 1.0 for t, w in query.weights.items() if w >= 1.0})
        oov_chars = _unknown_share(st.chars, char_weights, idf=False)
        if qv is not None:
            ctx.nearest_scope = nearest(self.embedder, qv)
        neighbour = ctx.nearest_scope[1] - top_sent if qv is not None and top_sent > 0 else 0.0
        unknown = float(sum(1 for t, w in query.weights.items() if w >= 1.0 and t not in st.bm25.postings))
        model = ranking.load()
        hits, rows = [], []
        for i in pool:
            c = st.chunks[i]
            n = st.notices[c.notice_id]
            s_sim = sent_best.get(i, (dense_sim.get(i, 0.0), -1))[0]
            fits = st.sentences.fits(i, query, st.bm25)
            sentence_scores = [(unit, cov) for unit, cov, _missed in fits]
            chunk_coverage, chunk_missed = concept_fit(query, c.tokens, st.bm25, c.haystack)
            typed = type_match(ctx.types, c.text)
            family = [st.chunks[p] for p in st.families.get(i, ())]  # the short list it is an item of
            f = {
                "lex_rel": float(lex[i]) / lex_max, "lex_abs": lex_abs * float(lex[i]) / lex_max,
                "lex_rr": 1.0 / (1 + lex_rank[i]) if i in lex_rank else 0.0,
                "char_rel": float(chars[i]) / char_max, "char_abs": char_abs * float(chars[i]) / char_max,
                "char_rr": 1.0 / (1 + char_rank[i]) if i in char_rank else 0.0,
                "dense_sim": dense_sim.get(i, 0.0), "dense_rel": dense_sim.get(i, top_dense) - top_dense,
                "dense_rr": 1.0 / (1 + dense_rank[i]) if i in dense_rank else 0.0,
                "sent_sim": s_sim, "sent_rel": s_sim - top_sent,
                "sent_rr": 1.0 / (1 + sent_rank[i]) if i in sent_rank else 0.0,
                "coverage": chunk_coverage,
                "sent_coverage": max((sc for _s, sc in sentence_scores), default=0.0),
                "heading": coverage(query, frozenset(), st.bm25, squash(n.title + c.heading_path).lower()),
                "type_match": typed,
                "type_miss": float(bool(ctx.types) and typed == 0.0),
                "region": ctx.region_fit.get(c.notice_id, 0.0),
                "region_other": float(ctx.asker_place and ctx.region_fit.get(c.notice_id, 0.0) == 0.0),
                "year": (1.0 if any(y in c.haystack or (n.date and str(n.date.year) == y) for y in years)
                         else -1.0) if years else 0.0,
                "length": math.log(1 + len(c.text)) / 6.0,
                "table_row": float(c.kind == "table_row"),
                "blank": float("___" in c.text or bool(_FORM_DATE.search(c.text))),
                "no_vector": float(not c.has_vector),
                "oov_words": oov_words, "oov_chars": oov_chars,
                "missed": chunk_missed,
                "sent_missed": min((missed for _u, _c, missed in fits), default=1.0),
                "unknown_count": min(unknown, 4.0), "neighbour": neighbour,
                "figure_absent": figure_absent(ctx.figures, quotable_family(family) or c.text),
            }
            hits.append(Hit(c, n, 0.0, f, sentence_scores=sentence_scores, family=family))
            rows.append([f[name] for name in ranking.FEATURES])
        feats = [h.features for h in hits]
        logits = model.logits(np.array(rows, dtype=np.float64)) if model is not None else ranking.fallback_logits(feats)
        # the best clause's score is the probability that it answers; the others' scores are
        # that probability times their softmax weight relative to the best's
        answerable = (model.answerability(ranking.answer_features(feats, logits)) if model is not None
                      else float(1 / (1 + np.exp(-(float(logits.max()) - 6.0)))))
        rel = np.exp(logits - logits.max())
        for h, r, z in zip(hits, rel, logits):
            h.score, h.logit = float(answerable * r), float(z)
        if referenced:
            ref_ids = {st.chunks[i].id for i in referenced}
            best = max(h.score for h in hits)
            for h in hits:
                if h.chunk.id in ref_ids:
                    h.score = max(h.score, best, 0.99)
        hits.sort(key=lambda h: -h.score)
        hits = hits[:k]
        for h in hits[:4]:
            self._unit_scores(h, qv, ctx)
        return hits

    @staticmethod
    def _hidden(st: _State, question: str) -> set[int]:
        """Notices whose clauses do not rank for this question: a superseded notice, unless the
        question names it (its 文号, title or year) — then its replacement, since the question
        asks about the old rule."""
        hidden: set[int] = set()
        named: set[int] = set()
        for n in st.notices.values():
            if n.replaced_by is not None:
                (named if names_notice(question, n, n.replaced_by) else hidden).add(n.id)
        return (hidden | {st.notices[i].replaced_by.id for i in named}) - named

    def unit_features(self, hit: Hit, qv: np.ndarray | None, ctx: SearchContext) -> np.ndarray:
        """Per sentence of the clause: word coverage (and relative to the clause's best), closeness
        in meaning (and relative), whether it states the fact type asked, where it stands."""
        sims = self.sentence_sims(hit, qv)
        units = hit.sentence_scores or []
        if len(sims) != len(units):
            sims = [0.0] * len(units)
        top_sim, top_cov = max(sims, default=0.0), max((c for _u, c in units), default=0.0)
        n = max(1, len(units) - 1)
        return np.array([[cov, cov - top_cov, sim, sim - top_sim, type_match(ctx.types, u), float(j == 0),
                          j / n, math.log(1 + len(u)) / 6.0] for j, ((u, cov), sim) in enumerate(zip(units, sims))])

    def _unit_scores(self, hit: Hit, qv: np.ndarray | None, ctx: SearchContext) -> None:
        """Which sentence of the clause to quote (the learned quote picker, ranker.json)."""
        units = hit.sentence_scores or []
        if len(units) <= 1:
            return
        U = self.unit_features(hit, qv, ctx)
        model = ranking.load()
        probs = model.unit_probabilities(U) if model is not None else None
        if probs is None:
            probs = U[:, 0] + 4.0 * np.maximum(0.0, U[:, 3] + 0.08) + 0.3 * U[:, 4]
        hit.sentence_scores = [(u, float(p)) for (u, _c), p in zip(units, probs)]

    def sentence_sims(self, hit: Hit, query_vector: np.ndarray | None) -> list[float]:
        return self._state.sentences.sims(self._state.by_id.get(hit.chunk.id, -1), query_vector)

    # read-only views for callers (service, benchmarks)
    @property
    def chunks(self) -> list[ChunkInfo]:
        return self._state.chunks

    @property
    def notices(self) -> dict[int, NoticeInfo]:
        return self._state.notices
