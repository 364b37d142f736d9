"""Numbered choices: the shared sets (rules/choices.yaml) and matching an answer to a choice.

Why its own module: the chat parsers, the engine's `implies` / `goto` jumps and the JSON checks
of /api/check/* all pick a choice the same way, by digit or by word; one matcher keeps them
agreeing. A slot's data is a plain mapping here, as the parsers see it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

from core.text import fold
from forms.datafiles import CHOICE_SETS, validated
from forms.parsing import clean, cn_number
from knowledge.vocabulary import everyday_words

CHOICE_SETS_FILE = Path(__file__).parent / "rules" / "choices.yaml"


@lru_cache
def choice_sets() -> dict[str, list[dict]]:
    data = yaml.safe_load(CHOICE_SETS_FILE.read_text(encoding="utf-8"))
    return validated(CHOICE_SETS, data, str(CHOICE_SETS_FILE))


def choice_options(slot: Mapping) -> list[dict]:
    """All choices of a slot; `choices: "@name"` refers to a shared set in choices.yaml."""
    choices = slot.get("choices") or []
    if isinstance(choices, str):
        return choice_sets()[choices.lstrip("@")]
    return choices


def numbered(choices: list[dict]) -> list[dict]:
    """The choices shown with a number (hidden ones match by word only)."""
    return [c for c in choices if not c.get("hidden")]


def match_choice(text: str, choices: list[dict], digits: bool = True) -> dict | None:
    """By digit ('2', '２', '第2个') or by word: the longest label, alias or value word found in
    the text (so '聊城' picks the choice labelled '山东聊城' whose value is 聊城), or an everyday
    word of the shared vocabulary for the label or value ('饭馆' → 住宿餐饮, knowledge/vocabulary.py)."""
    t = clean(text)
    m = re.fullmatch(r"第?([0-9]+|[一二三四五六七八九十]+)(?:个|项|条)?", t)
    if m and digits:
        shown = numbered(choices)
        n = cn_number(m.group(1))
        if n is not None and 1 <= n <= len(shown):
            return shown[n - 1]
        return None
    best, best_len = None, 0
    low = t.lower()
    for choice in choices:
        value = choice.get("value")
        words = [choice["label"], *choice.get("aliases", []), *([value] if isinstance(value, str) else []),
                 *everyday_words(choice["label"]), *(everyday_words(value) if isinstance(value, str) else ())]
        for word in words:
            w = fold(str(word)).lower()  # spelt as `clean` spells the answer: "（" as "("
            if w and w in low and len(w) > best_len:
                best, best_len = choice, len(w)
    return best
