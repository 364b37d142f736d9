"""The shared vocabulary: the everyday words for an official term (synonyms.yaml `expand`).

Why one vocabulary: retrieval expands “饭馆” to 住宿餐饮, the 以工代训 form must take “饭馆” as
the industry 住宿餐饮, and a complaint about “包拿补贴” is the category 许诺补贴. Kept in four
lists, the four drift apart; here the forms, the complaint categories and the topics ask the
same groups retrieval uses.
"""
from __future__ import annotations

from functools import lru_cache

from knowledge.lexical import load_synonyms


@lru_cache
def _everyday() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for triggers, adds in load_synonyms().rules:
        for official in adds:
            words = out.setdefault(official, [])
            words.extend(w for w in triggers if w not in words)
    return {k: tuple(v) for k, v in out.items()}


def everyday_words(official: str) -> tuple[str, ...]:
    """The everyday words for an official term ('住宿餐饮' → 饭馆, 饭店, …); () when none."""
    return _everyday().get(official, ())
