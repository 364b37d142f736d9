"""Which neighbouring service a refused question belongs to, by meaning (knowledge/scope.yaml).

Why by similarity to a described scope, not a word list: “俺爹退休了每月能领多少钱” names no
listed word, yet means the pension service; a described scope is general knowledge of what a
人社 office does, written without seeing any question. Only refused questions are pointed
elsewhere, so a training question that mentions 社保 (“以社保缴纳时间为准”) is still answered.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

SCOPE_FILE = Path(__file__).with_name("scope.yaml")
MARGIN = 0.0  # the scope must be at least this much closer than the best clause


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    hint: str


@lru_cache
def load_scopes(path: str | None = None) -> tuple[Scope, ...]:
    data = yaml.safe_load(Path(path or SCOPE_FILE).read_text(encoding="utf-8")) or {}
    return tuple(Scope(name, " ".join(spec["description"].split()), spec["hint"]) for name, spec in data.items())


_vectors: dict[str, np.ndarray] = {}


def _scope_vectors(embedder) -> np.ndarray:
    key = embedder.name
    if key not in _vectors:  # a cache of a pure function of the shipped file: safe per process
        _vectors[key] = embedder.passages([s.description for s in load_scopes()])
    return _vectors[key]


def neighbouring(embedder, query_vector: np.ndarray | None, best_clause_sim: float) -> Scope | None:
    """The described scope nearest the question, when it is nearer than the best clause."""
    scopes = load_scopes()
    if query_vector is None or not scopes:
        return None
    sims = _scope_vectors(embedder) @ query_vector
    i = int(np.argmax(sims))
    return scopes[i] if float(sims[i]) > best_clause_sim + MARGIN else None
