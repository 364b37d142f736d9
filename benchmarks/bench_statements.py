"""How many database statements, transactions and connection checkouts one /wechat turn costs.

Why: under load a turn's CPU is spread over the worker, the database server and the pool; the
count of round trips per turn is the figure to bring down (docs/operations.md), and it does not
depend on the machine, unlike a timing. The app runs in this process (the real `create_app`,
signed and encrypted messages as WeChat sends them, bench_wechat's `build`); every statement
the process sends is counted, with the question log's writer thread flushed after each turn.

    python benchmarks/bench_statements.py                       # SQLite in a temporary data dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/x python benchmarks/bench_statements.py
    python benchmarks/bench_statements.py --show                # print each turn's statements
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cluster import COMPLAINT, FORM, QUESTIONS  # noqa: E402  (the load's own scripts)
from bench_wechat import AES_KEY, APPID, TOKEN, build  # noqa: E402


class Counts:
    """Statements, transactions (BEGIN) and pool checkouts, per thread kind, since `reset`."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.lock = threading.Lock()
        self.reset()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", lambda conn: self._add("transactions"))
        event.listen(engine.pool, "checkout", lambda *a: self._add("checkouts"))

    def reset(self) -> None:
        self.counter: Counter = Counter()
        self.statements: list[str] = []

    def _add(self, what: str) -> None:
        with self.lock:
            self.counter[what] += 1

    def _statement(self, conn, cursor, statement, params, context, executemany) -> None:
        with self.lock:
            self.counter["statements"] += 1
            self.statements.append(f"[{threading.current_thread().name}] " + " ".join(statement.split())[:160])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", action="store_true", help="print every statement of each measured turn")
    ap.add_argument("--embedder", default="", help="POLICYBOT_EMBEDDER (default: the bundled one)")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="policybot-statements-"))
    os.environ.update(POLICYBOT_DATA_DIR=str(data), WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY, WECHAT_APPID=APPID,
                      WECHAT_SECRET="bench-secret", WECHAT_API_BASE="http://127.0.0.1:9", ANONYMIZED_TELEMETRY="False")
    if args.embedder:
        os.environ["POLICYBOT_EMBEDDER"] = args.embedder
    from fastapi.testclient import TestClient
    from wechatpy.crypto import WeChatCrypto

    from bot.app import create_app
    from core.config import get_settings
    from storage.db import get_engine

    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    app = create_app()
    with TestClient(app) as client:
        while client.get("/healthz").status_code != 200:
            threading.Event().wait(0.3)
        settings = get_settings()
        counts = Counts(get_engine(settings.db_url))
        kb = app.state.kb

        def turn(openid: str, text: str) -> Counter:
            counts.reset()
            params, body = build(openid, text, "aes", crypto, TOKEN)
            assert client.post("/wechat", params=params, content=body).status_code == 200
            kb.questions.flush(timeout=10)
            if args.show:
                print(f"--- {text}")
                print("\n".join(counts.statements))
            return counts.counter

        prefix = "cnt" + uuid.uuid4().hex[:6]
        turn(prefix + "warm", QUESTIONS[0])  # the model and the caches loaded, as on a busy worker
        for text in FORM:
            turn(prefix + "warmform", text)
        rows = {}
        rows["question (first turn of a follower)"] = turn(prefix + "q1", QUESTIONS[1])
        rows["question (a known follower)"] = turn(prefix + "q1", QUESTIONS[2])
        form = [turn(prefix + "f1", text) for text in FORM]
        rows[f"form turn (mean of {len(FORM)})"] = sum(form, Counter())
        complaint = [turn(prefix + "c1", text) for text in COMPLAINT]
        rows[f"complaint turn (mean of {len(COMPLAINT)})"] = sum(complaint, Counter())
    shutil.rmtree(data, ignore_errors=True)
    dialect = "PostgreSQL" if settings.db_url.startswith("postgresql") else "SQLite"
    print(f"database work per /wechat turn, {dialect}")
    print(f"{'turn':42}{'statements':>12}{'transactions':>14}{'checkouts':>11}")
    for name, c in rows.items():
        n = len(FORM) if name.startswith("form") else len(COMPLAINT) if name.startswith("complaint") else 1
        print(f"{name:42}{c['statements'] / n:>12.1f}{c['transactions'] / n:>14.1f}{c['checkouts'] / n:>11.1f}")


if __name__ == "__main__":
    main()
