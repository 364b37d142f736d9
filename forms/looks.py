"""What an answer looks like: telling an answer that belongs to another question of the form.

Why: followers answer out of order. The complaint form took the description as 发生时间 and
“2021年5月” as 发生地区 (a place slot keeps unknown text as 其他地区), because a free-text slot
takes anything. Each slot expects a kind of answer (its `looks_like`, else its parser's); the
kinds and how each is recognised are data (forms/rules/looks_like.yaml), this module only reads them.
`misplaced` names the other slot an answer clearly belongs to; the walk (forms/walk.py) then
asks the current slot again, saying what it wants, and stores nothing. It is only asked about an
answer the current slot took by its fallback (`Parsed.confident` false): a real date for a date
slot, a known choice, a phone number for the phone slot are never second-guessed.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

import yaml

from core.pii import MOBILE
from core.regions import resolve_place
from forms.datafiles import AnswerKind, AnswerKinds
from forms.parsers import parse_date_text
from forms.parsing import clean

LOOKS_FILE = Path(__file__).parent / "rules" / "looks_like.yaml"
SENTENCE = re.compile(r"[，,。；;！!？?]")
PLACE_SUFFIX = "(?:省|市|县|区|州|地区|自治州|自治县)?"


@lru_cache
def answer_kinds() -> AnswerKinds:
    return AnswerKinds.model_validate(yaml.safe_load(LOOKS_FILE.read_text(encoding="utf-8")))


def kind_names() -> set[str]:
    return set(answer_kinds().kinds)


def expected(slot) -> Optional[str]:
    """The kind of answer `slot` (a forms.definition.Slot) expects, if any."""
    return slot.looks_like or answer_kinds().parsers.get(slot.parser)


# ------------------------------------------------------------------ the parse tests

def _is_date(t: str, today: date) -> bool:
    return parse_date_text(t, today) is not None


def _is_phone(t: str, today: date) -> bool:
    return bool(MOBILE.fullmatch(re.sub(r"[\s\-－—]", "", t)))


def _is_place(t: str, today: date) -> bool:
    """Only a place's names ('临清', '山东省聊城市'), not a text that starts with one ('聊城阳光职校')."""
    path = resolve_place(t)
    if not path:
        return False
    rest = t.replace(" ", "")
    for name in path.split():
        rest = re.sub(re.escape(name) + PLACE_SUFFIX, "", rest, count=1)
    return not rest


PARSES = {"date": _is_date, "phone": _is_phone, "place": _is_place}


def _found(patterns: Iterable[str], t: str) -> bool:
    return any(re.search(p, t) for p in patterns)


def clearly(name: str, text: str, today: date, seen: frozenset = frozenset()) -> bool:
    """Whether the whole answer is plainly of kind `name`."""
    kind: AnswerKind = answer_kinds().kinds[name]
    t = clean(text)
    if not t:
        return False
    if kind.parse and PARSES[kind.parse](t, today):
        return True
    inner = SENTENCE.search(t) is not None
    if kind.words and len(t) <= kind.max_chars and not inner and _found(kind.words, t):
        rest = t
        for pattern in kind.words:
            rest = re.sub(pattern, "", rest)
        if kind.rest_max is None or len(rest) <= kind.rest_max:
            return True
    if kind.min_chars and len(t) >= kind.min_chars:
        return True
    if kind.min_chars_punctuated and len(t) >= kind.min_chars_punctuated and inner:
        return True
    return any(clearly(k, text, today, seen | {name}) for k in kind.include if k not in seen)


def mentions(name: str, text: str, today: date) -> bool:
    """Whether the answer shows anything of kind `name` (then it is taken as meant for it)."""
    kind = answer_kinds().kinds[name]
    t = clean(text)
    if _found(kind.mentions, t) or (kind.parse == "place" and resolve_place(t)):
        return True
    return clearly(name, text, today) or any(mentions(k, text, today) for k in kind.include if k != name)


def misplaced(form, slot, text: str, today: date):
    """The other slot of `form` that `text`, given to `slot`, clearly answers; None when it may
    well be `slot`'s answer."""
    own = expected(slot)
    if own and mentions(own, text, today):
        return None
    for other in form.slots:
        theirs = expected(other)
        if other.name != slot.name and theirs and theirs != own and clearly(theirs, text, today):
            return other
    return None
