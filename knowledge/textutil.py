"""Small text helpers of the notice parser, the index and the answerer.

Why: notices arrive as converted Word/PDF text, so sentences are broken by page breaks and
dates are written in words (二〇二一年五月八日). Matching (dates, 文号, validity) runs on
normalised text (core/text.py: `clean_inline`, `squash`); the quoted text keeps its numbers and
spacing ("1 : 20") so an answer quotes what the notice says.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date

from core.text import CJK, CJK_PUNCT

SENTENCE_END = "。！？；!?;"
_SENTENCE_SPLIT = re.compile(r"(?<=[。！？；!?;])")

CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
DATE_RE = re.compile(r"(\d{4}|[〇零○一二三四五六七八九]{4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*"
                     r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日")


def join_broken(a: str, b: str) -> str:
    """Join two pieces of one sentence broken by a line/page break."""
    if not a:
        return b
    if not b:
        return a
    if re.match(rf"[{CJK}{CJK_PUNCT}]", a[-1]) or re.match(rf"[{CJK}{CJK_PUNCT}]", b[0]):
        return a + b
    return a + " " + b


def ends_sentence(text: str) -> bool:
    t = text.rstrip()
    return bool(t) and (t[-1] in SENTENCE_END or t[-1] in "：:" or t.endswith(("。）", "。)", "。”")))


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_SPLIT.split(text)]
    return [p for p in parts if p]


def _cn_number(s: str) -> int:
    if s.isdigit():
        return int(s)
    if len(s) == 4 and all(c in CN_DIGITS for c in s):  # 二〇二一
        return int("".join(str(CN_DIGITS[c]) for c in s))
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + CN_DIGITS[s[1]]
    if s.endswith("十"):
        return CN_DIGITS[s[0]] * 10
    if "十" in s:
        a, b = s.split("十")
        return CN_DIGITS[a] * 10 + CN_DIGITS[b]
    return CN_DIGITS[s]


def parse_cn_date(text: str) -> date | None:
    """The first Chinese date in `text` (2021年5月8日, 二〇二一年五月八日), or None; the inverse of
    core.text.cn_date."""
    m = DATE_RE.search(text or "")
    if not m:
        return None
    try:
        return date(_cn_number(m.group(1)), _cn_number(m.group(2)), _cn_number(m.group(3)))
    except (ValueError, KeyError):
        return None


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
