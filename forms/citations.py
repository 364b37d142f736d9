"""Which eligibility rules cite a notice: what an admin is told when withdrawing it.

Why here and not in the knowledge layer: the rules are the forms' data (rules/*.yaml cite
notices by a key of rules/notices.yaml, by 文号, or by file when the notice has none), and the
knowledge layer must not read the layer above it. A withdrawn notice is not cited any more
(forms/rules.py asks the knowledge base); the rules that relied on it need the admin's eye.
"""
from __future__ import annotations

from functools import lru_cache

from forms.notices import RULES_DIR, notices
from knowledge.lifecycle import normal_doc_number

NOT_RULE_SETS = {"notices", "choices", "looks_like"}


@lru_cache
def rule_sets() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in RULES_DIR.glob("*.yaml") if p.stem not in NOT_RULE_SETS))


def notice_keys(doc_numbers: list[str | None], file: str, first_in_file: bool) -> list[str]:
    """The notices.yaml keys meaning this notice: the same 文号 (its current or its extracted
    one), or — for a key without 文号 — the same file, when it is the file's first notice (the
    one `source_for_file` cites)."""
    wanted = {normal_doc_number(d) for d in doc_numbers if d}
    keys = []
    for key, meta in notices().items():
        if meta.get("doc_number"):
            if normal_doc_number(meta["doc_number"]) in wanted:
                keys.append(key)
        elif meta.get("file") == file and first_in_file:
            keys.append(key)
    return keys


def rules_citing(doc_numbers: list[str | None], file: str, first_in_file: bool) -> list[dict]:
    """[{rule_set, rule, notice_key, text}] for every rule with a clause citing the notice."""
    from forms.rules import load

    keys = set(notice_keys(doc_numbers, file, first_in_file))
    out = []
    if not keys:
        return out
    for name in rule_sets():
        for rule in load(name).get("rules", []):
            cited = sorted({c["notice"] for c in rule.get("clauses", []) if c.get("notice") in keys})
            for key in cited:
                text = rule.get("text", "")
                out.append({"rule_set": name, "rule": rule["id"], "notice_key": key,
                            "text": text if len(text) <= 80 else text[:79] + "…"})
    return out
