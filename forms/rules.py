"""Evaluate eligibility rules (YAML data) against facts; every reason cites its clause.

The chat forms and `/api/check/*` both call `evaluate()`, so a follower and a program asking
with the same facts get the same outcome and the same reasons. A rule is data (see
rules/yigong.yaml): when it fires, its effect decides the outcome (fail > review > eligible)
and its text becomes a reason whose sources are built from the quoted clause. Sources come
from the knowledge base (`source_for` / `source_for_file`) so they look exactly like
`/api/ask` sources; the notice data here fills any field the knowledge base leaves empty.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import yaml

from core import clock
from core.regions import within
from core.text import squash
from forms import regions
from forms.conditions import holds
from forms.datafiles import RuleSet, validated
from forms.notices import RULES_DIR, notices
from knowledge.types import Source

log = logging.getLogger("policybot.forms")

ELIGIBLE, NOT_ELIGIBLE, NEEDS_REVIEW = "eligible", "not_eligible", "needs_review"
OUTCOME_LABELS = {ELIGIBLE: "符合条件", NOT_ELIGIBLE: "不符合条件", NEEDS_REVIEW: "需要人工确认"}


@lru_cache
def load(name: str) -> dict:
    """A rule set by name ('yigong', 'trainee'), checked against its schema (forms/datafiles.py)."""
    path = RULES_DIR / f"{name}.yaml"
    return validated(RuleSet, yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def normalise(text: str) -> str:
    """Whitespace (core.text.squash) and markdown emphasis removed: how quotes are compared with
    the corpus."""
    return squash(text).replace("**", "")


@dataclass
class Reason:
    rule_id: str
    effect: str
    text: str
    sources: list[Source] = field(default_factory=list)

    def public(self) -> dict:
        return {"text": self.text, "sources": [s.model_dump() for s in self.sources]}


@dataclass
class Verdict:
    outcome: str
    reasons: list[Reason]
    extra: dict[str, Any] = field(default_factory=dict)  # amounts, apply_to …
    ended: date | None = None  # the rule set's `policy_end`, when it has passed: said first

    def public(self) -> dict:
        return {"outcome": self.outcome, "reasons": [r.public() for r in self.reasons], **self.extra}


class _Labels(dict):
    """format_map helper: a missing placeholder stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def evaluate(ruleset: str, facts: dict[str, Any], kb=None, labels: dict[str, str] | None = None,
             extra: dict[str, Any] | None = None, today: date | None = None) -> Verdict:
    """Run the rule set over the facts. `labels` are how answers are shown ('2021年3月');
    `extra` are computed values the texts may use and that go into the public result."""
    data = load(ruleset)
    today = today or clock.china_today()
    facts = {**facts, "today": today.isoformat()}
    region = facts.get("region")
    texts = _Labels({**(extra or {}), **facts})  # the answer as given wins over derived figures
    for k, v in facts.items():
        texts.setdefault(f"{k}_label", str(v))
    texts.update({f"{k}_label": v for k, v in (labels or {}).items()})
    texts["region_label"] = (labels or {}).get("region") or regions.label(region)

    fired: list[tuple[dict, Reason]] = []
    for rule in data["rules"]:
        if rule.get("scope") and not within(region, rule["scope"]):
            continue
        if not holds(rule.get("when"), facts):
            continue
        reason = Reason(rule["id"], rule["effect"], rule["text"].format_map(texts),
                        _sources(rule["clauses"], region, kb, today))
        fired.append((rule, reason))
        if rule.get("stop"):
            break
    effects = {r.effect for _, r in fired}
    outcome = NOT_ELIGIBLE if "fail" in effects else NEEDS_REVIEW if "review" in effects else ELIGIBLE
    reasons = [r for rule, r in fired if outcome in rule.get("show_when", [outcome])]
    end = data.get("policy_end")
    ended = date.fromisoformat(str(end)) if end else None
    return Verdict(outcome, reasons, dict(extra or {}), ended if ended and today > ended else None)


def _sources(clauses: list[dict], region: str | None, kb, today: date) -> list[Source]:
    """The clauses' citations; a clause with a `scope` is cited only to followers in it
    (聊城's own notice for 聊城), unless none would be left; a withdrawn notice's, never."""
    picked = [c for c in clauses if not c.get("scope") or within(region, c["scope"])] or clauses
    return [source_for_clause(c["notice"], c["quote"], kb, today) for c in picked
            if not withdrawn_notice(c["notice"], kb)]


def withdrawn_notice(notice_key: str, kb) -> bool:
    """An admin withdrew the notice (knowledge/lifecycle.py): its clause is no longer quoted."""
    if kb is None or not hasattr(kb, "is_withdrawn"):
        return False
    meta = notices()[notice_key]
    try:
        return kb.is_withdrawn(doc_number=meta.get("doc_number"), file=meta.get("file"))
    except Exception:  # a citation check must never break a verdict
        log.exception("knowledge base could not tell whether %s is withdrawn", notice_key)
        return False


def source_for_clause(notice_key: str, quote: str, kb=None, today: date | None = None) -> Source:
    """A Source for a quoted clause: from the knowledge base if it can, completed from notices.yaml."""
    meta = notices()[notice_key]
    found: Source | None = None
    if kb is not None:
        try:
            if meta.get("doc_number"):
                found = kb.source_for(meta["doc_number"], quote)
            elif hasattr(kb, "source_for_file"):
                found = kb.source_for_file(meta["file"], quote)
        except Exception:  # a citation must never break a verdict
            log.exception("knowledge base could not cite %s", notice_key)
    today = today or clock.china_today()
    fallback_expired = bool(meta.get("valid_until")) and today > date.fromisoformat(meta["valid_until"])
    base = {
        "file": meta["file"], "title": meta["title"], "doc_number": meta.get("doc_number"),
        "issuer": meta.get("issuer"), "date": meta.get("date"), "region": meta.get("region"),
        "excerpt": quote, "expired": fallback_expired,
    }
    if found is not None:
        got = found.model_dump()
        for key in ("file", "title", "doc_number", "issuer", "date", "region"):
            if got.get(key):
                base[key] = got[key]
        if got.get("file") and got.get("title"):  # a real citation: trust its expiry flag
            base["expired"] = bool(got.get("expired"))
    base["excerpt"] = quote  # always the clause itself, never a neighbouring chunk
    return Source(**base)


def cite(source: Source) -> str:
    """Short citation for chat: 《title》文号."""
    title = source.title if len(source.title) <= 30 else source.title[:29] + "…"
    return f"《{title}》" + (source.doc_number or "")
