"""Measure answers on a question set (JSONL: q, must, gold) — right/total, refusals, latency.

Why in the product: retrieval changes (the synonym list, the refusal threshold, chunking) are
judged by numbers, not by a few tries. An answer is right when it states every `must` string,
cites a `gold` file among its sources, and is not a refusal.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EvalReport:
    right: int = 0
    total: int = 0
    refused_ok: int = 0
    refuse_total: int = 0
    refused_answerable: int = 0  # answerable questions the bot refused
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[dict] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    def summary(self, label: str = "") -> str:
        head = f"[{label}] " if label else ""
        out = f"{head}right {self.right}/{self.total}  answerable refused {self.refused_answerable}/{self.total}"
        if self.refuse_total:
            out += f"  out-of-scope refused {self.refused_ok}/{self.refuse_total}"
        out += f"  latency p50 {self.percentile(50):.0f} ms  p95 {self.percentile(95):.0f} ms"
        return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def is_right(item: dict, answer) -> bool:
    if answer.refused:
        return False
    text = answer.visible_text()
    if not all(m in text for m in item.get("must", [])):
        return False
    gold = set(item.get("gold", []))
    return not gold or any(s.file in gold for s in answer.sources)


def run_eval(kb, qa: list[dict], refuse: list[dict] | None = None, use_synonyms: bool = True) -> EvalReport:
    previous = kb.use_synonyms
    kb.use_synonyms = use_synonyms
    report = EvalReport()
    try:
        for item in qa:
            t = time.perf_counter()
            ans = kb.ask(item["q"], region=item.get("region"))
            report.latencies_ms.append((time.perf_counter() - t) * 1000)
            report.total += 1
            report.refused_answerable += int(ans.refused)
            if is_right(item, ans):
                report.right += 1
            else:
                report.misses.append({"id": item.get("id"), "q": item["q"], "must": item.get("must"),
                                      "gold": item.get("gold"), "refused": ans.refused,
                                      "got": [s.file for s in ans.sources], "answer": ans.answer[:200]})
        for item in refuse or []:
            t = time.perf_counter()
            ans = kb.ask(item["q"])
            report.latencies_ms.append((time.perf_counter() - t) * 1000)
            report.refuse_total += 1
            if ans.refused:
                report.refused_ok += 1
            else:
                report.misses.append({"id": item.get("id"), "q": item["q"], "expected": "refusal",
                                      "answer": ans.answer[:200]})
    finally:
        kb.use_synonyms = previous
    return report
