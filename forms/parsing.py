"""What every parser shares: the result and error types, the registry, and text clean-up.

Why apart from the parsers themselves: the engine, the choice matching and every parser (built-in
or registered by another part with `@parser("name")`) need these few names, and none of them
needs the others' dates, numbers or places.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping

from core.text import fold


class Invalid(ValueError):
    """The answer does not fit the slot; `hint` says what would."""

    def __init__(self, hint: str):
        super().__init__(hint)
        self.hint = hint


@dataclass
class Parsed:
    value: Any
    display: str
    # False when the parser fell back to "anything goes" (free text, unknown industry): a
    # question-like message is then treated as a side question rather than as the answer.
    confident: bool = True


@dataclass
class Context:
    """What a parser may need besides the text: 'today' for relative dates, the inbound kind."""

    today: date
    kind: str = "text"
    media_id: str | None = None
    pic_url: str | None = None


# fn(text, slot data as a mapping, context) -> Parsed, or raise Invalid
ParserFn = Callable[[str, Mapping, Context], Parsed]
PARSERS: dict[str, ParserFn] = {}


def parser(name: str):
    def deco(fn: ParserFn) -> ParserFn:
        PARSERS[name] = fn
        return fn
    return deco


# ------------------------------------------------------------------ text clean-up

_EDGE_PUNCT = " \t\r\n。，,.!！?？~～、；;:：\"'“”‘’()（）【】[]"


def typed(text: str) -> str:
    """An answer as the follower typed it, edge punctuation and spaces trimmed: how it is shown back."""
    return (text or "").strip().strip(_EDGE_PUNCT).strip()


def clean(text: str) -> str:
    """An answer as the parsers compare it: `typed`, in the one normaliser's `fold` (full-width to
    half-width, traditional to simplified)."""
    return typed(fold(text))


_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_number(token: str) -> int | None:
    """'6' / '六' / '十二' / '二十三' / '三十一' / '两' → int; None if not a number."""
    token = token.strip()
    if not token:
        return None
    if token.isdigit():
        return int(token)
    if all(ch in _CN_DIGITS for ch in token):
        if len(token) == 1:
            return _CN_DIGITS[token]
        return int("".join(str(_CN_DIGITS[ch]) for ch in token))  # 二〇二一
    if "十" in token:
        head, _, tail = token.partition("十")
        if any(ch not in _CN_DIGITS for ch in head + tail):
            return None
        tens = _CN_DIGITS[head] if head else 1
        ones = _CN_DIGITS[tail] if tail else 0
        return tens * 10 + ones
    return None


NUM = r"[0-9]+|[零〇○一二两三四五六七八九十]+"


QUESTION_WORDS = ("吗", "什么", "怎么", "多少", "哪些", "哪里", "哪个", "如何", "能不能", "可不可以", "是否",
                  "为什么", "啥", "咋", "几个", "有没有", "是不是", "要不要", "会不会", "需不需要", "能否")


def has_question_word(text: str) -> bool:
    return any(w in (text or "") for w in QUESTION_WORDS)


def looks_like_question(text: str) -> bool:
    """A policy question asked instead of an answer: ends with '?' or has a question word."""
    t = (text or "").strip()
    if not t:
        return False
    return t.endswith(("?", "？")) or (len(t) >= 3 and has_question_word(t))
