"""Text as people type it and as notices print it, brought to one form before anything compares it.

Why one normaliser: a follower types on a phone (full-width digits "５００元", traditional
characters 培訓補貼, spaces anywhere) and notices arrive as converted Word/PDF text (spaces
between Chinese characters, "通  知", markdown emphasis). Every part that matches text — the
answering pipeline, the form parsers, the command router — starts from the same two steps:

- `fold`: characters to one spelling — full-width letters, digits and punctuation to half-width
  (NFKC), traditional to simplified (OpenCC t2s, when installed);
- `clean_inline`: one line of display text — no markdown emphasis, no html tags, runs of spaces
  to one, no spaces between Chinese characters.

`normalise` is the two together. What is particular to one purpose is built on them where that
purpose lives: the question's fillers and dialect words (knowledge/normalise.py), a form answer's
edge punctuation (forms/parsing.py), a command's case and trailing punctuation.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from datetime import date
from functools import lru_cache

log = logging.getLogger(__name__)

CJK = r"\u3400-\u9fff\uf900-\ufaff"
CJK_PUNCT = r"\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026\u2014"
_SPACE_BETWEEN = re.compile(
    rf"(?<=[{CJK}{CJK_PUNCT}()（）《》〈〉“”])[ \t\u3000\xa0]+(?=[{CJK}{CJK_PUNCT}()（）《》〈〉“”])"
)
_MULTISPACE = re.compile(r"[ \t\u3000\xa0]+")


@lru_cache
def _to_simplified():
    try:
        import opencc

        return opencc.OpenCC("t2s").convert
    except Exception:  # the converter is optional: without it traditional text passes through
        log.warning("opencc unavailable: traditional characters are not converted")
        return lambda s: s


def half_width(text: str) -> str:
    """Full-width letters, digits and punctuation as half-width ("５００元" → "500元"), NFKC."""
    return unicodedata.normalize("NFKC", text or "")


def fold(text: str) -> str:
    """Half-width (NFKC), then simplified characters (培訓補貼 → 培训补贴)."""
    return _to_simplified()(half_width(text))


def clean_inline(text: str) -> str:
    """One line of display text: no markdown emphasis, no html tags, no spaces between CJK."""
    text = text.replace("**", "")
    text = re.sub(r"</?\w+[^>]*>", " ", text)
    text = _MULTISPACE.sub(" ", text).strip()
    return _SPACE_BETWEEN.sub("", text)


def normalise(text: str) -> str:
    """The one normaliser: `fold`, then `clean_inline`."""
    return clean_inline(fold(text))


def squash(text: str) -> str:
    """All whitespace removed: for matching patterns that page breaks may have split."""
    return re.sub(r"\s+", "", text or "")


def cn_date(d: date | None) -> str:
    """date(2021, 12, 31) → "2021年12月31日" (the inverse of knowledge.textutil.parse_cn_date)."""
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis where it was cut (a chart label, a template value)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
