"""Throughput and latency of /wechat text messages under concurrent load, on loopback.

Why a script and not a test: speed depends on the machine; this prints figures (requests/s,
p50/p90/p99 latency, status counts) for the README or a capacity plan. It plays the WeChat
server: every request is a signed (and, in aes mode, encrypted) text message with a fresh
MsgId, sent with httpx's async client at a fixed concurrency, and every reply is checked (it
must be a passive reply that decrypts, or "success").

    python benchmarks/bench_wechat.py                      # starts its own server (hash embedder)
    python benchmarks/bench_wechat.py --requests 2000 --concurrency 50 --mode raw
    python benchmarks/bench_wechat.py --url http://127.0.0.1:8000 --token T --aes-key K --appid A
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ROOT = Path(__file__).resolve().parents[1]
TOKEN, AES_KEY, APPID = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench000000001"
QUESTIONS = ["帮助", "职业技能培训补贴标准是多少", "以工代训补贴怎么申请", "我在聊城", "电子培训券怎么领取", "更多"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="policybot-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "LLM_", "POLICYBOT_"))}
    env.update(PYTHONPATH=str(ROOT), POLICYBOT_DATA_DIR=str(data / "data"), ANONYMIZED_TELEMETRY="False",
               WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY, WECHAT_APPID=APPID,
               POLICYBOT_EMBEDDER=os.environ.get("POLICYBOT_EMBEDDER", "hash"),
               WECHAT_API_BASE="http://127.0.0.1:9")  # no pushes leave the machine
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], cwd=data, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("server exited")
        time.sleep(0.3)
    raise SystemExit("server not ready")


def build(openid: str, text: str, mode: str, crypto: WeChatCrypto | None, token: str) -> tuple[dict, bytes]:
    ts, nonce = str(int(time.time())), str(random.randint(10**8, 10**9))
    xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
           f"<MsgId>{random.getrandbits(62)}</MsgId></xml>")
    signer = WeChatSigner()
    signer.add_data(token, ts, nonce)
    params = {"signature": signer.signature, "timestamp": ts, "nonce": nonce, "openid": openid}
    if mode == "raw":
        return params, xml.encode()
    body = crypto.encrypt_message(xml, nonce, ts)
    params.update(encrypt_type="aes", msg_signature=xmltodict.parse(body)["xml"]["MsgSignature"])
    return params, body.encode()


def check(reply: str, mode: str, crypto: WeChatCrypto | None) -> str:
    if reply == "success":
        return "success"
    if mode == "aes":
        outer = xmltodict.parse(reply)["xml"]
        reply = crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    content = xmltodict.parse(reply)["xml"]["Content"]
    assert len(content.encode()) <= 2048
    return "apology" if content.startswith("抱歉，系统开小差") else "passive"


async def run(base: str, args) -> None:
    crypto = WeChatCrypto(args.token, args.aes_key, args.appid) if args.mode == "aes" else None
    followers = [f"obench{i:05d}" for i in range(args.followers)]
    latencies: list[float] = []
    outcomes: Counter = Counter()
    queue: asyncio.Queue = asyncio.Queue()
    for i in range(args.requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                params, body = build(followers[i % len(followers)], QUESTIONS[i % len(QUESTIONS)],
                                     args.mode, crypto, args.token)
                t0 = time.perf_counter()
                try:
                    r = await client.post("/wechat", params=params, content=body)
                    latencies.append(time.perf_counter() - t0)
                    outcomes[f"{r.status_code} {check(r.text, args.mode, crypto) if r.status_code == 200 else ''}".strip()] += 1
                except Exception as exc:  # count, don't stop the run
                    outcomes[type(exc).__name__] += 1

        for i in range(min(args.warmup, args.requests)):  # warm caches (index, BM25, DB pool)
            params, body = build(followers[0], QUESTIONS[i % len(QUESTIONS)], args.mode, crypto, args.token)
            await client.post("/wechat", params=params, content=body)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started

    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    print(f"/wechat text messages: {args.requests} requests, concurrency {args.concurrency}, "
          f"mode {args.mode}, {args.followers} followers, {os.cpu_count()} CPUs")
    print(f"  throughput  {len(latencies) / elapsed:8.1f} req/s   ({elapsed:.2f} s)")
    print(f"  latency     p50 {q[49] * 1000:7.1f} ms   p90 {q[89] * 1000:7.1f} ms   "
          f"p99 {q[98] * 1000:7.1f} ms   max {latencies[-1] * 1000:7.1f} ms")
    print("  outcomes    " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="an already running server (default: start one)")
    ap.add_argument("--token", default=TOKEN)
    ap.add_argument("--aes-key", default=AES_KEY)
    ap.add_argument("--appid", default=APPID)
    ap.add_argument("--mode", choices=["aes", "raw"], default="aes")
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--followers", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=12)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the started server")
    args = ap.parse_args()
    args.requests = max(1, min(args.requests, 100_000))
    args.concurrency = max(1, min(args.concurrency, 500))
    proc = None
    base = args.url
    if base and httpx.URL(base).host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("bench_wechat.py only loads a server on this machine (loopback)")
    if not base:
        proc, base = start_server(args.workers)
    try:
        asyncio.run(run(base.rstrip("/"), args))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


if __name__ == "__main__":
    main()
