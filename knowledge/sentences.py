"""Sentence units of every clause, with their vectors: the max-sim leg and the quote picker.

Why sentences: a clause of 300 characters answers through one of its sentences; its single
vector blurs that sentence with the rest, and its word coverage credits words spread over
unrelated sentences. Each unit carries its clause's heading (embedded as “heading｜sentence”,
the same text shape as the chunk vectors), so “以工代训补贴：按吸纳人数…” keeps its subject.
Vectors come from the shared embedding cache (database) and the bundled vectors; a unit of a
fresh upload has none until the background filler computes it (`missing`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlmodel import Session, select

from core.text import squash
from knowledge.embeddings import Embedder, bundled_vectors
from knowledge.ingest import embed_text
from knowledge.lexical import BM25, Query, concept_fit
from knowledge.textutil import sentences, sha1

_NO_TOKENS: frozenset[str] = frozenset()
WHOLE = 120  # a clause this short (or a table row) is one unit
SENTENCE_POOL = 200  # best sentences looked at per question


def units_of(kind: str, text: str) -> list[str]:
    if kind == "table_row" or len(text) <= WHOLE:
        return [text]
    return sentences(text) or [text]


@dataclass
class SentenceIndex:
    units: list[str]
    hay: list[str]  # squashed lower-case unit text with its notice's title and headings
    owner: np.ndarray  # unit -> chunk position
    spans: list[tuple[int, int]]  # chunk position -> [start, end) of its units
    matrix: np.ndarray
    has: np.ndarray  # unit has a vector
    missing: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls) -> "SentenceIndex":
        return cls([], [], np.zeros(0, np.int32), [], np.zeros((0, 1), np.float32), np.zeros(0, bool))

    @classmethod
    def build(cls, session: Session, embedder: Embedder, chunks: list, contexts: list[str] | None = None
              ) -> "SentenceIndex":
        from storage.models import EmbeddingCache

        units, hay, owner, spans, texts = [], [], [], [], []
        for pos, c in enumerate(chunks):
            start = len(units)
            ctx = contexts[pos] if contexts else squash(c.heading_path).lower()
            for u in units_of(c.kind, c.text):
                units.append(u)
                hay.append(ctx + squash(u).lower())
                owner.append(pos)
                texts.append(embed_text(c.heading_path, u))
            spans.append((start, len(units)))
        keys = [f"{embedder.name}:{sha1(t)}" for t in texts]
        found: dict[str, np.ndarray] = {}
        bundled = bundled_vectors()
        unique = [k for k in dict.fromkeys(keys) if k not in bundled]
        for start in range(0, len(unique), 500):
            batch = unique[start:start + 500]
            for row in session.exec(select(EmbeddingCache).where(EmbeddingCache.key.in_(batch))):
                found[row.key] = np.frombuffer(row.vector, dtype=np.float32)
        dim = embedder.dim
        matrix = np.zeros((len(units), dim), np.float32)
        has = np.zeros(len(units), bool)
        missing = []
        for j, k in enumerate(keys):
            v = found.get(k)
            if v is None:
                v = bundled.get(k)
            if v is not None and len(v) == dim:
                matrix[j], has[j] = v, True
            else:
                missing.append(texts[j])
        return cls(units, hay, np.array(owner, np.int32), spans, matrix, has, list(dict.fromkeys(missing)))

    def best_per_chunk(self, qv: np.ndarray, n_chunks: int) -> dict[int, tuple[float, int]]:
        """chunk position -> (best sentence similarity, that unit), for chunks with vectors."""
        if not len(self.units):
            return {}
        sims = self.matrix @ qv.astype(np.float32)
        sims[~self.has] = -1.0
        best: dict[int, tuple[float, int]] = {}
        # the best sentences of the corpus, and the clause each belongs to (a clause whose best
        # sentence is not among them falls back to its chunk vector's similarity)
        order = np.argsort(-sims)
        for j in order[:SENTENCE_POOL]:
            pos = int(self.owner[j])
            if pos not in best and self.has[j]:
                best[pos] = (float(sims[j]), int(j))
        return best

    def sims(self, pos: int, qv: np.ndarray | None) -> list[float]:
        if pos < 0 or pos >= len(self.spans) or qv is None:
            return []
        a, b = self.spans[pos]
        out = self.matrix[a:b] @ qv.astype(np.float32)
        return [float(s) if self.has[a + i] else 0.0 for i, s in enumerate(out)]

    def fits(self, pos: int, query: Query, bm25: BM25) -> list[tuple[str, float, float]]:
        """(unit, coverage, rarest missed) of the question for each unit of the clause (read with
        its headings), in one pass each."""
        if pos >= len(self.spans):
            return []
        a, b = self.spans[pos]
        return [(self.units[j], *concept_fit(query, _NO_TOKENS, bm25, self.hay[j])) for j in range(a, b)]
