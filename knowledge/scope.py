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

import re

import numpy as np
import yaml

from knowledge.wordlists import SCOPES, parsed

SCOPE_FILE = Path(__file__).with_name("scope.yaml")
MARGIN = 0.0  # the scope must be at least this much closer than the best clause


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    hint: str


@lru_cache
def load_scopes(path: str | None = None) -> tuple[Scope, ...]:
    file = Path(path or SCOPE_FILE)
    data = parsed(SCOPES, yaml.safe_load(file.read_text(encoding="utf-8")), str(file))
    return tuple(Scope(name, " ".join(spec.description.split()), spec.hint) for name, spec in data.items())


_vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _items(scope: Scope) -> list[str]:
    """A description's services one by one: a question is about one of them, not all."""
    head, _, rest = scope.description.partition("：")
    return [f"{head}：{item}" for item in re.split(r"[，,、；;。]", rest) if item.strip()] or [scope.description]


def _scope_vectors(embedder) -> tuple[np.ndarray, np.ndarray]:
    """(one vector per service item, the scope each item belongs to)."""
    key = embedder.name
    if key not in _vectors:  # a cache of a pure function of the shipped file: safe per process
        owners, texts = [], []
        for i, scope in enumerate(load_scopes()):
            for item in _items(scope):
                owners.append(i)
                texts.append(item)
        # "query" on both sides: e5's way for a symmetric comparison (is this question about that)
        _vectors[key] = (embedder.queries(texts), np.array(owners))
    return _vectors[key]


def nearest(embedder, query_vector: np.ndarray | None) -> tuple[Scope | None, float]:
    """The described neighbouring scope nearest the question, and its similarity."""
    scopes = load_scopes()
    if query_vector is None or not scopes:
        return None, 0.0
    vectors, owners = _scope_vectors(embedder)
    sims = vectors @ query_vector
    j = int(np.argmax(sims))
    return scopes[int(owners[j])], float(sims[j])
