"""Normalise a question as typed or dictated on a phone before it is parsed.

Why: WeChat voice-to-text and phone keyboards produce "嗯那个请问一下以工代训补贴补贴多少钱😀",
full-width digits ("５００元"), traditional characters (培訓補貼) and no punctuation at all. The
notices are simplified Chinese with half-width digits, and a filler word the notices never use
counts against the question's coverage (so a clean question answered would be refused when
spoken). Dialect and chat spellings (俺, 咋, 啥, 中不中) are rewritten to standard Mandarin for the
same reason: the notices, the tokeniser and the dense model know 我, 怎么, 什么. The filler list
is data (`fillers` in synonyms.yaml). The width, script and spacing steps are the product's one
normaliser (core/text.py: `fold` first, `clean_inline` last); what lies between is the
question's own. Extremely long input (a pasted article, a 5,000-character voice message) is cut
to its first MAX_QUESTION characters after cleaning — its first words (who is asking, about
what) and its last (people end with the question) — so the cost of a question stays bounded
(the dense model's cost grows with length).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from core.text import clean_inline, fold
from knowledge.lexical import load_synonyms

MAX_RAW = 4000  # characters looked at at all
MAX_QUESTION = 120  # characters kept after cleaning: its head (who asks) and tail (the question)
_HEAD = 40
_KEEP_SYMBOLS = set("+%-./:~<>=#@&*·、，。？！：；（）《》〔〕“”‘’")
_REPEATED_WORD = re.compile(r"([\u4e00-\u9fff]{2,4})\1+")
_REPEATED_CHAR = re.compile(r"([\u4e00-\u9fff])\1{2,}")
_SPACES = re.compile(r"\s+")


@lru_cache
def _filler_pattern() -> re.Pattern | None:
    fillers = sorted(load_synonyms().fillers, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in fillers)) if fillers else None


@lru_cache
def _colloquial() -> tuple[re.Pattern | None, dict[str, str]]:
    table = dict(load_synonyms().colloquial)
    if not table:
        return None, table
    return re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))), table


def standard_spelling(text: str) -> str:
    """俺/咋/啥/中不中 as 我/怎么/什么/行不行 (the `colloquial` table in synonyms.yaml)."""
    pattern, table = _colloquial()
    return pattern.sub(lambda m: table[m.group(0)], text) if pattern is not None else text


def _drop_symbols(text: str) -> str:
    """Emoji, pictographs, control and format characters (zero-width joiners, variation
    selectors) become spaces; letters, digits, CJK and ordinary punctuation stay."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or ch.isspace() or ch in _KEEP_SYMBOLS or (cat[0] == "P"):
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def normalise_question(text: str) -> str:
    text = text or ""
    if len(text) > MAX_RAW:  # keep both ends: who asks comes first, the question comes last
        text = text[: MAX_RAW // 2] + " " + text[-MAX_RAW // 2:]
    text = fold(text)  # full-width letters and digits to half-width, traditional to simplified
    text = _drop_symbols(text)
    pattern = _filler_pattern()
    if pattern is not None:
        text = pattern.sub(" ", text)
    text = standard_spelling(text)
    text = _REPEATED_WORD.sub(r"\1", text)  # "补贴补贴" (a voice stutter) -> "补贴"
    text = _REPEATED_CHAR.sub(r"\1", text)
    text = clean_inline(_SPACES.sub(" ", text))
    if len(text) > MAX_QUESTION:
        text = text[:_HEAD] + " " + text[-(MAX_QUESTION - _HEAD):]
    return text.strip()
