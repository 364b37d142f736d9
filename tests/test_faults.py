"""The stack under faults (issue 13, "degrade, never lose"): PostgreSQL stopped and started
again under traffic, and a worker killed with `kill -9` in the middle of a message.

One `scripts/cluster.sh up --workers 2` stack (its own PostgreSQL, Chroma, nginx) with WeChat's
own 5-second-ish reply deadline, driven only through nginx with signed, encrypted /wechat
messages. What must hold:
- no 500 and no silence while PostgreSQL is down: a message that could not even be claimed gets
  inbox.DB_DOWN_APOLOGY passively and is never applied later; one that was claimed is answered,
  passively or by a push (the fake WeChat API records pushes);
- no complaint whose confirmation said 投诉编号 is lost, none is filed twice;
- the workers recover by themselves (same pids) and answer normally once PostgreSQL is back;
- a worker killed while it holds a message (its turn waits on a row lock the test holds, so
  the kill lands mid-turn for sure): nginx answers that attempt 502 — the one exception, it
  never reached a live worker —, and WeChat's retry of the same MsgId, passed by nginx to the
  other worker, takes the dead claim over at once (its row lock died with the worker's
  connection) and is answered exactly once: one ticket, one stored reply.
Not marked `db`, like tests/test_cluster.py: it runs once and has a PostgreSQL of its own.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.wechat.inbox import DB_DOWN_APOLOGY
from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_TOKEN
from tests.test_cluster import QUESTION, running_cluster
from tests.test_complaints_wechat import NUMBER_RE, file_complaint
from tests.wechat_util import Platform, new_msg_id, new_openid, text_xml, wait_for


@pytest.fixture(scope="module")
def stack(fake_wechat):
    with running_cluster(fake_wechat, POLICYBOT_REPLY_DEADLINE="6") as c:
        yield c


def platform(stack) -> Platform:
    return Platform(stack.url, TEST_TOKEN, TEST_AES_KEY, TEST_APPID)


def pg(stack) -> psycopg.Connection:
    return psycopg.connect(f"postgresql://postgres@127.0.0.1:{stack.settings()['PG_PORT']}/policybot",
                           autocommit=True)


def tickets_of(stack, openid: str) -> list[str]:
    with pg(stack) as conn:
        return [r[0] for r in conn.execute("SELECT number FROM ticket WHERE openid = %s", (openid,))]


def stop_postgres(stack) -> None:
    pgdir = stack.settings()["PGDIR"]
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    cmd = [str(pg_ctl), "-D", f"{pgdir}/data", "-m", "fast", "-w", "-t", "60", "stop"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=90)


def worker_pids(stack) -> dict[str, int]:
    return {f"w{i}": stack.pid(f"worker-{i}") for i in (1, 2)}


def answer(wx: Platform, fake_wechat, openid: str, response: httpx.Response) -> str:
    """What the follower ends up reading: the passive reply, or the push that follows "success"."""
    assert response.status_code == 200, (response.status_code, response.text)
    reply = wx.open(response)
    if reply is not None:
        return reply["Content"]
    pushed = wait_for(lambda: fake_wechat.sent_messages(openid), timeout=90)
    assert len(pushed) == 1, (openid, pushed)
    return pushed[0]["text"]["content"]


def test_postgresql_stopped_and_started_under_traffic(stack, fake_wechat):
    wx = platform(stack)
    before = worker_pids(stack)
    waiting = [new_openid("opgc") for _ in range(3)]  # complaints waiting for their 确认
    for openid in waiting:
        assert "1. 确认" in file_complaint(wx, openid, confirm=False)

    stop_postgres(stack)
    # down: nothing can be claimed, so both get the apology passively (never a 500, never "success")
    asker = new_openid("opgq")
    with ThreadPoolExecutor(2) as pool:
        down = list(pool.map(lambda a: wx.post(text_xml(*a)), [(asker, QUESTION), (waiting[0], "1")]))
    for r in down:
        assert r.status_code == 200, r.text
        assert wx.open(r)["Content"] == DB_DOWN_APOLOGY

    # traffic while `cluster.sh up` starts PostgreSQL again (it starts only what is not running)
    restarted: dict[str, subprocess.CompletedProcess] = {}
    starter = threading.Thread(target=lambda: restarted.setdefault("up", stack.run("up", timeout=180)))
    starter.start()
    sent: list[tuple[str, str, httpx.Response]] = []
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(lambda o=o: (o, "1", wx.post(text_xml(o, "1")))) for o in waiting[1:]]
        while starter.is_alive() or len(sent) < 4:
            o = new_openid("opgq")
            sent.append((o, QUESTION, wx.post(text_xml(o, QUESTION))))
        sent += [f.result() for f in futures]
    starter.join()
    assert restarted["up"].returncode == 0, restarted["up"].stderr + stack.logs()
    assert "starting postgres" in restarted["up"].stderr and "starting worker" not in restarted["up"].stderr

    confirmed: dict[str, str] = {}
    for openid, text, response in sent:
        got = answer(wx, fake_wechat, openid, response)
        if got == DB_DOWN_APOLOGY:  # not taken: the follower sends it again
            assert openid not in confirmed and not (text == "1" and tickets_of(stack, openid))
            continue
        if text == "1":
            confirmed[openid] = NUMBER_RE.search(got).group(1)
        else:
            assert "40分钟" in got, got

    # recovered by themselves: the same processes, each answering normally
    assert worker_pids(stack) == before
    served = set()
    for _ in range(4):
        r = wx.post(text_xml(new_openid("opgafter"), QUESTION))
        assert "40分钟" in wx.open(r)["Content"]
        served.add(r.headers["X-Policybot-Worker"].split(":")[0])
    assert served == {"w1", "w2"}
    # the apologised confirmations were not applied: sent again, they file the complaint now
    for openid in waiting:
        if openid not in confirmed:
            confirmed[openid] = NUMBER_RE.search(wx.say(openid, "1")).group(1)
    # every confirmed complaint is there, once
    assert {o: tickets_of(stack, o) for o in waiting} == {o: [n] for o, n in confirmed.items()}


def blocked_worker(stack, openid: str) -> str | None:
    """The worker whose turn for `openid` waits on the follower row's lock (pg_stat_activity)."""
    with pg(stack) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name LIKE 'policybot-w%%' AND query ILIKE '%%FROM follower%%FOR UPDATE%%'").fetchall()
    return rows[0][0].removeprefix("policybot-") if len(rows) == 1 else None


def test_a_worker_killed_mid_message_is_answered_once_by_the_other(stack, fake_wechat):
    wx = platform(stack)
    openid = new_openid("okill")
    assert "1. 确认" in file_complaint(wx, openid, confirm=False)
    xml = text_xml(openid, "1", msg_id=new_msg_id())
    key = f"msg:{openid}:{xml.split('<MsgId>')[1].split('</MsgId>')[0]}"

    holder = pg(stack)
    holder.autocommit = False
    holder.execute("SELECT 1 FROM follower WHERE openid = %s FOR UPDATE", (openid,))  # the turn will wait
    first: dict[str, httpx.Response] = {}
    sender = threading.Thread(target=lambda: first.setdefault("r", wx.post(xml)))
    sender.start()
    try:
        victim = wait_for(lambda: blocked_worker(stack, openid), timeout=30)
        assert victim in ("w1", "w2"), victim
        os.kill(stack.pid(f"worker-{victim[1]}"), signal.SIGKILL)
        sender.join(30)
    finally:
        holder.rollback()  # the dead worker's backend gets the lock, finds its client gone, aborts
        holder.close()
    assert first["r"].status_code == 502  # nginx: the worker died after the request was passed on

    retry = wx.post(xml)  # WeChat's retry: same MsgId; nginx passes it to the live worker
    assert retry.headers["X-Policybot-Worker"].split(":")[0] != victim
    done = answer(wx, fake_wechat, openid, retry)
    number = NUMBER_RE.search(done).group(1)
    assert tickets_of(stack, openid) == [number]
    with pg(stack) as conn:
        status, reply = conn.execute("SELECT status, reply FROM processedmessage WHERE key = %s", (key,)).fetchone()
    assert status == "done" and number in reply
    again = wx.post(xml)  # a later retry: the stored reply (or "success" if it went as a push)
    assert again.status_code == 200 and (wx.open(again) is None or number in wx.open(again)["Content"])
    assert tickets_of(stack, openid) == [number]
