"""The 1-worker embedded default and the N-worker stack of scripts/cluster.sh, side by side,
under the same realistic /wechat load; prints one table.

Why a script and not a test: the figures depend on the machine (docs/operations.md keeps them).
The load plays WeChat with fresh followers, each walking a whole script in order: a question
(70 % of the turns), the 以工代训 self-check form (20 %) or a complaint (10 %), every message
signed and encrypted (safe mode) with a fresh MsgId, with the bundled embedder. With `--storm`
every message is sent three times at once — on the cluster to three different workers, as
WeChat's retries may land — and a message whose copies got different replies counts as a
duplicate. After the run the database is asked how many complaints this run filed, against the
confirmations the followers received (a lost or doubled complaint shows there). The messages are
signed and encrypted before the clock starts and the replies decrypted after it, because the
load generator runs on the same cores as the stack; its own CPU per request is printed too, and
so is each part's (the workers, PostgreSQL, nginx, the Chroma server: their process trees' CPU
over the loaded window, from /proc — benchmarks/proc_cpu.py), the figure a change to a turn's
cost shows in when requests/s moves with whatever else the machine runs.

    python benchmarks/bench_cluster.py                          # both stacks, 60 s each, 50 followers at once
    python benchmarks/bench_cluster.py --stacks embedded --duration 10 --concurrency 4   # a smoke run
    python benchmarks/bench_cluster.py --stacks cluster --workers 4 --storm

Only loopback is loaded. The cluster is started in a temporary POLICYBOT_CLUSTER_DIR and
stopped at the end (`--keep` leaves it up).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import sqlalchemy as sa
import xmltodict
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_wechat import AES_KEY, APPID, ROOT, TOKEN, build, free_port  # noqa: E402  (the same signed messages)
import faults as fault_plan  # noqa: E402
import proc_cpu  # noqa: E402

QUESTIONS = ["职业技能培训补贴标准是多少", "以工代训补贴怎么申请", "电子培训券怎么领取", "济源的培训每课时不能少于多少分钟？",
             "聊城的企业新招了员工能拿什么补贴", "取得职业资格证书后补贴多少钱", "培训补贴多久能到账", "失业人员参加培训有补贴吗"]
FORM = ["以工代训自测", "聊城", "小微", "中央", "2021.5.1", "九个月", "1"]
COMPLAINT = ["我要投诉", "聊城市某某职业培训学校", "7", "2026年10月", "1", "东昌府区光岳路12号",
             "报名时说免费培训，结业前每人收取八百元材料费，不给收据。", "没有", "2", "1"]
SHARE = {"question": 0.7, "form": 0.2, "complaint": 0.1}  # of the turns
PLAN_RATE = 800  # requests a second, over all clients, that the messages built in advance can feed
CONFIRMED = re.compile(r"投诉编号：TS\d{8}-\d{6}")


def scripts() -> tuple[list[str], list[float]]:
    """Follower kinds weighted so that the turns come out in SHARE's proportions."""
    turns = {"question": 1, "form": len(FORM), "complaint": len(COMPLAINT)}
    kinds = list(SHARE)
    return kinds, [SHARE[k] / turns[k] for k in kinds]


def content(reply: str, crypto: WeChatCrypto) -> str:
    if reply == "success":
        return "success"
    outer = xmltodict.parse(reply)["xml"]
    inner = crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    return xmltodict.parse(inner)["xml"].get("Content") or ""


class Stack:
    """A running stack: where to send, which processes are its workers, its database."""

    def __init__(self, name: str, urls: list[str], pids: list[int], db_url: str, stop, workers=None, parts=None,
                 faults=None):
        self.name, self.urls, self.pids, self.db_url, self.stop = name, urls, pids, db_url, stop
        self.faults: list[tuple] = faults or []  # what --faults does to it (benchmarks/faults.py)
        self.workers: list[str] = workers or []  # each worker's own URL (the storm's targets)
        # the process trees whose CPU per request is reported: the workers, then the other parts
        self.groups: dict[str, list[int]] = {"workers": pids, **(parts or {})}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "LLM_", "POLICYBOT_", "DATABASE_URL", "CHROMA_URL"))}
    env.update(PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False", WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY,
               WECHAT_APPID=APPID, WECHAT_SECRET="bench-secret",
               WECHAT_API_BASE="http://127.0.0.1:9")  # pushes fail at once on loopback: nothing leaves
    return env


def _wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise SystemExit("the server exited")
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready in {timeout:.0f} s")


def embedded() -> Stack:
    """`policybot serve` as `scripts/run.sh` starts it: one process, SQLite, embedded Chroma."""
    data = Path(tempfile.mkdtemp(prefix="policybot-bench-embedded-"))
    port = free_port()
    env = {**_env(), "POLICYBOT_DATA_DIR": str(data / "data")}
    log = open(data / "server.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=data, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)

    def stop():
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # still busy with a backlog: the figures are taken already
            proc.kill()
            proc.wait(20)
        shutil.rmtree(data, ignore_errors=True)

    return Stack("embedded, 1 worker, SQLite", [url], [proc.pid], f"sqlite:///{data / 'data' / 'policybot.db'}", stop)


def cluster(workers: int, keep: bool) -> Stack:
    """`scripts/cluster.sh up --workers N` in a state dir of its own."""
    state = Path(tempfile.mkdtemp(prefix="policybot-bench-cluster-"))
    env = {**_env(), "POLICYBOT_CLUSTER_DIR": str(state), "POLICYBOT_VENV": sys.prefix}
    script = ["bash", str(ROOT / "scripts" / "cluster.sh")]
    up = subprocess.run([*script, "up", "--workers", str(workers), "--port", "0"], env=env, capture_output=True,
                        text=True, timeout=900)
    if up.returncode != 0:
        raise SystemExit(f"cluster.sh up failed:\n{up.stderr[-3000:]}")
    url = up.stdout.strip().splitlines()[-1]
    saved = dict(line.split("=", 1) for line in (state / "cluster.env").read_text().split("\n") if "=" in line)
    ports = saved["WORKER_PORTS"].strip('"').split()
    pids = [int((state / "pids" / f"worker-{i}.pid").read_text().split()[0]) for i in range(1, len(ports) + 1)]
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:{saved['PG_PORT']}/policybot"
    parts = {name: [int((state / "pids" / f"{part}.pid").read_text().split()[0])]
             for name, part in (("PostgreSQL", "postgres"), ("nginx", "nginx"), ("Chroma", "chroma"))
             if (state / "pids" / f"{part}.pid").exists()}

    def stop():
        if not keep:
            subprocess.run([*script, "down"], env=env, capture_output=True, timeout=120)
            shutil.rmtree(state, ignore_errors=True)

    faults = fault_plan.cluster_faults(script, env, workers, saved["PGDIR"].strip('"'), pids[0])
    return Stack(f"cluster, {len(ports)} workers, PostgreSQL", [url], pids, db_url, stop,
                 workers=[f"http://127.0.0.1:{p}" for p in ports], parts=parts, faults=faults)


def planned_turns(args, prefix: str, crypto: WeChatCrypto) -> list[list[tuple]]:
    """Every client's followers and their turns, signed and encrypted before the clock starts:
    the load generator shares the two cores with the stack, so during the run it only posts
    (the replies are decrypted after it). Enough for PLAN_RATE requests a second in all; a
    client that runs out stops, and the table says so."""
    kinds, weights = scripts()
    rng = random.Random(args.seed)
    plans = []
    for c in range(args.concurrency):
        turns: list[tuple] = []
        n = 0
        while len(turns) < args.duration * PLAN_RATE / args.concurrency:
            kind = rng.choices(kinds, weights)[0]
            openid = f"{prefix}{c:03d}{n:05d}"
            script = [rng.choice(QUESTIONS)] if kind == "question" else FORM if kind == "form" else COMPLAINT
            for text in script:
                turns.append((kind, n, *build(openid, text, "aes", crypto, TOKEN)))
                n += 1
        plans.append(turns)
    return plans


async def load(stack: Stack, args) -> dict:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    kinds, _weights = scripts()
    prefix = "obc" + uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: Counter = Counter()
    turns: Counter = Counter()
    kept: list[tuple[str, list[str | None]]] = []  # replies to decrypt after the run
    # a storm sends every copy to another worker when it can reach them one by one
    targets = stack.workers if args.storm and stack.workers else stack.urls
    copies = 3 if args.storm else 1
    deadline = 0.0
    built = time.perf_counter()
    plans = planned_turns(args, prefix, crypto)
    built = time.perf_counter() - built
    ran_out = 0

    async def send(client: httpx.AsyncClient, url: str, params: dict, body: bytes):
        t0 = time.perf_counter()
        try:
            r = await client.post(url + "/wechat", params=params, content=body)
        except httpx.HTTPError as exc:
            return type(exc).__name__, None, time.perf_counter() - t0
        return str(r.status_code), (r.text if r.status_code == 200 else None), time.perf_counter() - t0

    def own_client() -> httpx.AsyncClient:
        """A follower's own connections, as a phone has: one pool shared by 50 followers cost the
        generator 3-4x the CPU per request (httpcore scans, and polls, every pooled connection on
        each request and hands one idle connection to several waiting requests, which then retry)."""
        return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=copies,
                                                                 max_keepalive_connections=copies))

    async def client_loop(plan: list[tuple], client: httpx.AsyncClient) -> None:
        nonlocal ran_out
        async with client:
            for kind, n, params, body in plan:
                if time.perf_counter() >= deadline:
                    return
                urls = [targets[(n + i) % len(targets)] for i in range(copies)]
                results = await asyncio.gather(*(send(client, u, params, body) for u in urls))
                for _ in range(fault_plan.RETRIES - 1 if args.faults else 0):  # WeChat sends it again
                    if results[0][0] == "200":
                        break
                    await asyncio.sleep(fault_plan.RETRY_AFTER)
                    again = await send(client, urls[0], params, body)
                    results = [(again[0], again[1], results[0][2] + fault_plan.RETRY_AFTER + again[2]), *results[1:]]
                statuses[results[0][0]] += 1
                latencies.append(results[0][2])
                turns[kind] += 1
                if args.storm or kind == "complaint":
                    kept.append((kind, [r[1] for r in results]))
        ran_out += 1

    async with own_client() as warm:
        for url in stack.workers or stack.urls:  # load each worker's model and caches before timing
            for i, text in enumerate(QUESTIONS[:3]):
                await send(warm, url, *build(f"{prefix}warm{i}", text, "aes", crypto, TOKEN))
    clients = [own_client() for _ in plans]  # made before the clock: each builds an SSL context
    deadline = time.perf_counter() + args.duration
    profilers = profile(stack, args)
    cpu, parts = time.process_time(), proc_cpu.snapshot(stack.groups)
    started = time.perf_counter()
    done_faults: list[str] = []
    injected = [fault_plan.run(stack.faults, args.duration, done_faults)] if args.faults and stack.faults else []
    await asyncio.gather(*(client_loop(plan, client) for plan, client in zip(plans, clients)), *injected)
    elapsed = time.perf_counter() - started
    cpu, parts = time.process_time() - cpu, proc_cpu.since(parts, stack.groups)
    for p in profilers:
        p.wait(60)
    found = {"duplicates": 0, "confirmed": 0}
    for kind, raws in kept:
        answers = {content(r, crypto) for r in raws if r is not None} - {"success"}
        found["duplicates"] += len(answers) > 1
        found["confirmed"] += kind == "complaint" and any(CONFIRMED.search(a) for a in answers)
    engine = sa.create_engine(stack.db_url)
    try:
        with engine.connect() as conn:
            filed = conn.execute(sa.text("SELECT count(*) FROM ticket WHERE openid LIKE :p"),
                                 {"p": prefix + "%"}).scalar_one()
    finally:
        engine.dispose()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    per_second = "messages/s (3 requests each)" if args.storm else "requests/s"
    return {per_second: f"{len(latencies) / elapsed:.1f}", "p50 / p99 (ms)": f"{q[49] * 1000:.0f} / {q[98] * 1000:.0f}",
            "status counts": ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
            "turns: question/form/complaint": "/".join(str(turns[k]) for k in kinds),
            "duplicates (must be 0)": str(found["duplicates"] + max(0, filed - found["confirmed"])),
            "replies over 5 s (must be 0)": str(sum(t > 5 for t in latencies)),
            "complaints confirmed / in the db": f"{found['confirmed']} / {filed}",
            "peak memory per worker (MiB)": " ".join(str(peak_mib(p)) for p in stack.pids),
            "CPU per request (ms)": ", ".join(f"{name} {1000 * used / max(1, len(latencies)):.2f}"
                                              for name, used in parts.items()),
            "load generator CPU per request (ms)": f"{1000 * cpu / max(1, len(latencies)):.1f}"
                                                   + (f" ({ran_out} clients ran out of turns)" if ran_out else ""),
            "messages built before the run": f"{sum(len(p) for p in plans)} in {built:.1f} s",
            **({"faults (--faults)": "; ".join(done_faults) or "none for this stack"} if args.faults else {})}


def profile(stack: Stack, args) -> list[subprocess.Popen]:
    """With --profile DIR: py-spy samples every worker (all threads, idle ones left out) for the
    run's duration and leaves one flame graph per worker in DIR (pip install py-spy first)."""
    if not args.profile:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    tag = stack.name.split(",")[0]
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(args.duration)),
                              "--rate", "50", "--format", args.profile_format, "--nonblocking",
                              *(["--gil"] if args.profile_cpu else []),
                              "-o", str(out / f"{tag}-{i}.{'svg' if args.profile_format == 'flamegraph' else 'txt'}")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i, pid in enumerate(stack.pids)]


def peak_mib(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return -1
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stacks", default="embedded,cluster", help="embedded, cluster or both (comma-separated)")
    ap.add_argument("--workers", type=int, default=4, help="the cluster's workers")
    ap.add_argument("--duration", type=float, default=60, help="seconds of load per stack")
    ap.add_argument("--concurrency", type=int, default=50, help="followers writing at once")
    ap.add_argument("--storm", action="store_true", help="send every message three times at once")
    ap.add_argument("--faults", action="store_true",
                    help="on the cluster: kill -9 a worker, stop and start PostgreSQL during the load; retry as WeChat does")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    ap.add_argument("--profile", metavar="DIR", help="py-spy every worker during the load; profiles in DIR")
    ap.add_argument("--profile-cpu", action="store_true",
                    help="sample only the thread holding the GIL: where the CPU goes, not the waits")
    ap.add_argument("--profile-format", default="raw", choices=["raw", "flamegraph", "speedscope"],
                    help="raw: collapsed stacks (one line per stack, count last), for grep and sort")
    args = ap.parse_args()
    args.duration = max(1.0, min(args.duration, 1800.0))
    args.concurrency = max(1, min(args.concurrency, 500))
    results: dict[str, dict] = {}
    for name in [s.strip() for s in args.stacks.split(",") if s.strip()]:
        stack = embedded() if name == "embedded" else cluster(args.workers, args.keep) if name == "cluster" else None
        if stack is None:
            raise SystemExit(f"unknown stack {name!r}: embedded or cluster")
        try:
            for url in stack.urls + stack.workers:
                if httpx.URL(url).host != "127.0.0.1":
                    raise SystemExit("bench_cluster.py only loads servers on loopback")
            results[stack.name] = asyncio.run(load(stack, args))
        finally:
            stack.stop()
    print(f"/wechat under a realistic mix: {args.concurrency} followers at once, {args.duration:.0f} s per stack, "
          f"{'retry storm (every message 3×), ' if args.storm else ''}{os.cpu_count()} CPUs, bundled embedder")
    names = list(results)
    rows = list(next(iter(results.values())))
    width = max(len(r) for r in rows) + 2
    cols = [max(len(n), *(len(results[n][r]) for r in rows)) + 2 for n in names]
    print("".ljust(width) + "".join(n.ljust(c) for n, c in zip(names, cols)))
    for r in rows:
        print(r.ljust(width) + "".join(results[n][r].ljust(c) for n, c in zip(names, cols)))


if __name__ == "__main__":
    main()
