"""Issue 14, defect 3: a large ingest must not cost a WeChat message.

Before the fix a 12 MB upload held SQLite's write lock while it tokenised, messages that came in
meanwhile failed with `database is locked` after "success" had gone out, and one left no trace.
Here a multi-megabyte notice is uploaded while followers keep writing: every message is answered
(passively, or by a push when it missed the deadline), none with the apology, and the server's
log shows no lost future.
"""
from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.wechat.inbox import APOLOGY
from knowledge.service import BUNDLED_CORPUS
from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN
from tests.wechat_util import new_openid, platform_for, wait_for

pytestmark = pytest.mark.db

TOKEN = "burst-admin-token"


def _big_notice(megabytes: float) -> bytes:
    """A long but well-formed notice: the bundled texts again and again under one title."""
    body = "\n".join(p.read_text(encoding="utf-8") for p in sorted(BUNDLED_CORPUS.glob("*.txt")))
    head = "关于印发职业技能提升行动汇编材料的通知\n测人社〔2026〕1号\n"
    data = head.encode("utf-8")
    while len(data) < megabytes * 1_000_000:
        data += body.encode("utf-8")
    return data


def test_messages_sent_during_a_large_ingest_are_all_answered(live_server, fake_wechat):
    srv = live_server("ingest-burst", WECHAT_TOKEN=TEST_TOKEN, WECHAT_AES_KEY=TEST_AES_KEY,
                      WECHAT_APPID=TEST_APPID, WECHAT_SECRET=TEST_SECRET, POLICYBOT_ADMIN_TOKEN=TOKEN)
    wx = platform_for(srv)
    upload = _big_notice(4)
    done: dict[str, object] = {}

    def ingest():
        with httpx.Client(base_url=srv.base_url, timeout=600) as c:
            r = c.post("/api/ingest", headers={"Authorization": f"Bearer {TOKEN}"},
                       files={"files": ("huibian.txt", io.BytesIO(upload), "text/plain")})
        done["status"], done["body"] = r.status_code, r.json()

    loader = threading.Thread(target=ingest)
    loader.start()
    time.sleep(0.3)
    sent: list[tuple[str, str | None]] = []

    def ask(openid: str) -> tuple[str, str | None]:
        return openid, wx.say(openid, "以工代训补贴标准是多少")

    with ThreadPoolExecutor(6) as pool:
        while loader.is_alive() and len(sent) < 36:
            sent.extend(pool.map(ask, [new_openid("ingest") for _ in range(6)]))
            time.sleep(0.5)
    loader.join(600)
    assert done.get("status") == 200, done
    assert done["body"]["report"] == {"huibian": "added"}, done["body"]
    assert len(sent) >= 6
    for openid, passive in sent:
        if passive is None:  # missed the deadline: it must arrive as a push
            pushed = wait_for(lambda: fake_wechat.sent_messages(openid), timeout=90)
            assert pushed, f"{openid}: no passive reply and no push"
            passive = pushed[0]["text"]["content"]
        assert passive and passive != APOLOGY and "以工代训" in passive, (openid, passive)
    log = srv.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Future exception was never retrieved" not in log
    failures = [line for line in log.splitlines()
                if "dialog failed for" in line or ("handling" in line and "failed" in line)]
    assert not failures, failures
    print(f"{len(sent)} messages during the ingest, "
          f"{sum(1 for _o, p in sent if p is None)} answered by push")
