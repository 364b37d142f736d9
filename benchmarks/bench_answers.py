"""Answer quality of a textbook anchor next to the product, on the same questions, in one run.

    python benchmarks/bench_answers.py                                   # the default dev set
    python benchmarks/bench_answers.py --set QA.jsonl[:REFUSE.jsonl] [--set QA2.jsonl[:R2.jsonl] ...]
    add -v to list the questions the anchor and the product score differently

Why it exists: `policybot eval` says how often the product is right, but not whether its
machinery (the structure parser, clause chunking, the synonym list, dense vectors, reranking, the
refusal threshold, answer composition) earns its keep. The anchor answers the same questions
the way a textbook would, and the gap between the two rows is what the machinery is worth on this
set. A product row that does not clearly beat the anchor means the machinery adds nothing there.

The anchor (deliberately plain, nothing tuned to this corpus or these questions):
  * the bundled notices, knowledge/corpus/*.txt, read with knowledge.loaders.load_text;
  * each file cut into naive 300-character windows (stride 300, no overlap, per file);
  * tokenised with jieba.cut_for_search from a fresh jieba.Tokenizer (the default dictionary: the
    product's custom words, which it adds to the global jieba, never reach it; no synonym list),
    dropping tokens without a letter or digit (whitespace, punctuation);
  * ranked with rank_bm25.BM25Okapi. Its answer is the top window's text, citing that window's
    file; it refuses when no window scores above zero.
It is scored with the product's own rule, knowledge.evaluation.is_right, on a
knowledge.types.Answer built from that window.

The product: knowledge.service.KnowledgeBase.opened(settings) (as the CLI builds it: settings from
core.config.get_settings, init_db, ensure_indexed) in a throw-away POLICYBOT_DATA_DIR, warmed with
one question, scored with knowledge.evaluation.run_eval.

hit@1 / hit@3: whether a passage from a gold file that contains every `must` string is among the
first 1 / 3 ranked passages (the anchor's windows with a positive score; the product's hits from
KnowledgeBase.retrieve on the question as ask() normalises it). The product figures are skipped,
with a note, when retrieve() does not answer in the (query, hits) shape.

Latency is the wall time of each ask (answerable and out-of-scope questions alike), after warm-up.
Speed figures are printed, never asserted: the script always exits 0 once it has printed.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SET = (ROOT.parent / "shared" / "eval" / "dev_qa.jsonl", ROOT.parent / "shared" / "eval" / "dev_refuse.jsonl")
WINDOW = 300
STRIDE = 300
USAGE = __doc__.split("\n\n")[1]


# ---------------------------------------------------------------------------- arguments
@dataclass
class QuestionSet:
    qa_path: Path
    refuse_path: Path | None = None
    qa: list[dict] = field(default_factory=list)
    refuse: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.qa_path.name + (f" + {self.refuse_path.name}" if self.refuse_path else "")


def _path(text: str) -> Path:
    p = Path(text).expanduser()
    if not p.is_absolute() and not p.exists() and (ROOT / p).exists():
        p = ROOT / p  # the documented defaults are relative to the repo root
    return p


def parse_args(argv: list[str]) -> tuple[list[QuestionSet], bool]:
    import argparse

    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], metavar="QA.jsonl[:REFUSE.jsonl]",
                    help="a question set and, after a colon, its refusal set (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the questions only one side gets right")
    args = ap.parse_args(argv)
    sets = []
    for spec in args.set:
        qa, _sep, refuse = spec.partition(":")
        sets.append(QuestionSet(_path(qa), _path(refuse) if refuse else None))
    sets = sets or [QuestionSet(*DEFAULT_SET)]
    for s in sets:
        for p in (s.qa_path, s.refuse_path):
            if p is not None and not p.exists():
                sys.exit(f"no such question file: {p}")
    return sets, args.verbose


# ---------------------------------------------------------------------------- the anchor
class Anchor:
    """Naive 300-character windows + plain jieba + BM25Okapi; answers with the top window."""

    def __init__(self, corpus_dir: Path):
        import logging

        import jieba
        from rank_bm25 import BM25Okapi

        from knowledge.loaders import load_text

        jieba.setLogLevel(logging.WARNING)
        self._tok = jieba.Tokenizer()  # default dictionary only, whatever the product adds globally
        self.windows: list[tuple[str, str]] = []  # (file stem, text)
        docs: list[list[str]] = []
        self.files = sorted(corpus_dir.glob("*.txt"))
        for path in self.files:
            text = load_text(path)
            for start in range(0, len(text), STRIDE):
                window = text[start:start + WINDOW]
                tokens = self.tokens(window)
                if tokens:
                    self.windows.append((path.stem, window))
                    docs.append(tokens)
        self.bm25 = BM25Okapi(docs)

    def tokens(self, text: str) -> list[str]:
        return [t for t in self._tok.cut_for_search(text) if any(ch.isalnum() for ch in t)]

    def ranked(self, question: str) -> list[int]:
        """Window indices with a positive score, best first (ties keep corpus order)."""
        q = self.tokens(question)
        if not q:
            return []
        scores = self.bm25.get_scores(q)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in order if scores[i] > 0]

    def ask(self, question: str):
        from knowledge.types import Answer, Source

        ranked = self.ranked(question)
        if not ranked:
            return Answer(answer="", refused=True, sources=[]), ranked
        stem, text = self.windows[ranked[0]]
        return Answer(answer=text, refused=False,
                      sources=[Source(file=stem, title=stem, excerpt=text)]), ranked


def passage_hits(item: dict, passages: list[tuple[str, str]], k: int) -> bool:
    """A passage (file stem, text) among the first k is from a gold file and states every must."""
    gold = set(item.get("gold", []))
    must = item.get("must", [])
    return any((not gold or stem in gold) and all(m in text for m in must) for stem, text in passages[:k])


def run_anchor(anchor: Anchor, qs: QuestionSet):
    from knowledge.evaluation import EvalReport, is_right

    report = EvalReport()
    refused_answerable = 0
    hit1 = hit3 = 0
    verdicts: list[bool] = []
    for item in qs.qa:
        t = time.perf_counter()
        ans, ranked = anchor.ask(item["q"])
        report.latencies_ms.append((time.perf_counter() - t) * 1000)
        report.total += 1
        refused_answerable += int(ans.refused)
        ok = is_right(item, ans)
        verdicts.append(ok)
        report.right += int(ok)
        top = [anchor.windows[i] for i in ranked[:3]]
        hit1 += passage_hits(item, top, 1)
        hit3 += passage_hits(item, top, 3)
    for item in qs.refuse:
        t = time.perf_counter()
        ans, _ = anchor.ask(item["q"])
        report.latencies_ms.append((time.perf_counter() - t) * 1000)
        report.refuse_total += 1
        report.refused_ok += int(ans.refused)
    report.refused_answerable = refused_answerable
    return report, (hit1, hit3), verdicts


# ---------------------------------------------------------------------------- the product
def make_product():
    """KnowledgeBase as the CLI builds it (the env is set by main() beforehand)."""
    from core.config import get_settings
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.opened(get_settings())
    kb.wait_for_vectors(timeout=120)
    kb.ask("预热")  # load the models before timing
    return kb, kb.settings


def run_product(kb, qs: QuestionSet):
    from knowledge.evaluation import run_eval

    report = run_eval(kb, qs.qa, qs.refuse)
    missed = {(m.get("id"), m.get("q")) for m in report.misses}
    verdicts = [(item.get("id"), item["q"]) not in missed for item in qs.qa]
    return report, verdicts


def product_hits(kb, qs: QuestionSet) -> tuple[tuple[int, int] | None, str]:
    """(hit@1, hit@3) from kb.retrieve, or None and why not."""
    try:
        from knowledge.normalise import normalise_question
    except Exception:  # noqa: BLE001 - only a nicety: ask() normalises before retrieving
        def normalise_question(q: str) -> str:
            return q
    hit1 = hit3 = 0
    try:
        for item in qs.qa:
            _query, hits = kb.retrieve(normalise_question(item["q"]), item.get("region"))
            top = [(h.notice.file, h.chunk.text) for h in list(hits)[:3]]
            hit1 += passage_hits(item, top, 1)
            hit3 += passage_hits(item, top, 3)
    except Exception as exc:  # noqa: BLE001 - colleagues change retrieve(); the table must still print
        return None, f"product hit@k skipped: kb.retrieve(question, region) -> (query, hits) failed: " \
                     f"{type(exc).__name__}: {exc}"
    return (hit1, hit3), ""


# ---------------------------------------------------------------------------- printing
def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "-"


def print_table(qs: QuestionSet, rows: list[tuple[str, object, tuple[int, int] | None]], notes: list[str]) -> None:
    head = ["", "right/total (%)", "answerable refused", "out-of-scope refused", "p50 ms", "p95 ms",
            "hit@1", "hit@3"]
    lines = [head]
    for label, r, hits in rows:
        lines.append([
            label,
            pct(r.right, r.total),
            pct(r.refused_answerable, r.total),
            pct(r.refused_ok, r.refuse_total),
            f"{r.percentile(50):.1f}",
            f"{r.percentile(95):.1f}",
            pct(hits[0], r.total) if hits else "n/a",
            pct(hits[1], r.total) if hits else "n/a",
        ])
    widths = [max(len(row[c]) for row in lines) for c in range(len(head))]
    print(f"\n== {qs.name}: {len(qs.qa)} answerable, {len(qs.refuse)} out-of-scope ==")
    for n, row in enumerate(lines):
        print("  " + "  ".join(cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c])
                               for c, cell in enumerate(row)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    for note in notes:
        print(f"  note: {note}")


def main(argv: list[str]) -> int:
    sets, verbose = parse_args(argv)
    for s in sets:
        from knowledge.evaluation import read_jsonl

        s.qa = read_jsonl(s.qa_path)
        s.refuse = read_jsonl(s.refuse_path) if s.refuse_path else []

    work = Path(tempfile.mkdtemp(prefix="pb-bench-answers-"))
    os.environ["POLICYBOT_DATA_DIR"] = str(work / "data")  # before core.config is imported
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    kb = None
    try:
        from knowledge.service import BUNDLED_CORPUS

        t = time.perf_counter()
        anchor = Anchor(BUNDLED_CORPUS)
        anchor_build = time.perf_counter() - t
        t = time.perf_counter()
        kb, settings = make_product()
        product_build = time.perf_counter() - t

        print("policybot answer benchmark: textbook anchor vs product")
        print(f"  anchor : {len(anchor.files)} bundled files -> {len(anchor.windows)} windows of {WINDOW} chars "
              f"(stride {STRIDE}), plain jieba.cut_for_search + BM25Okapi; built in {anchor_build:.1f} s")
        print(f"  product: KnowledgeBase (embedder {settings.embedder}, refuse threshold {settings.refuse_threshold or 'calibrated'}, "
              f"LLM {'on' if settings.llm.enabled else 'off'}), data dir {settings.data_dir}; "
              f"indexed + warmed in {product_build:.1f} s")

        for qs in sets:
            a_report, a_hits, a_ok = run_anchor(anchor, qs)
            p_report, p_ok = run_product(kb, qs)
            p_hits, note = product_hits(kb, qs)
            print_table(qs, [("anchor", a_report, a_hits), ("product", p_report, p_hits)],
                        [note] if note else [])
            if verbose:
                for item, a, p in zip(qs.qa, a_ok, p_ok):
                    if a != p:
                        who = "anchor only" if a else "product only"
                        print(f"    right for {who}: {item.get('id', '')} {item['q']}")
        print("\n(speed figures are informative only; nothing here is asserted)")
    finally:
        if kb is not None:
            try:
                kb.close()
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
