"""The channel when something dies or collides: a claim left by a crashed worker, pushes WeChat
refused for a while, two workers refreshing the access token at once.

Against real servers over /wechat and the fake WeChat API; the de-dup rows of a crashed worker
are written straight into the server's database, as the dead worker would have left them.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from storage.db import get_engine, session_scope
from storage.models import Follower, ProcessedMessage, utcnow
from tests.conftest import TEST_APPID, TEST_SECRET, database_settings
from tests.console_helpers import server_settings
from tests.wechat_util import WECHAT_ENV, new_msg_id, new_openid, platform_for, text_xml, wait_for

pytestmark = pytest.mark.db

SEND = "/cgi-bin/message/custom/send"
INSTITUTION = "聊城市某某职业培训学校"


# ---------------------------------------------------------------- a crashed worker's claim

@pytest.fixture(scope="module")
def claims(live_server):
    return live_server("wx-claims", POLICYBOT_REPLY_DEADLINE="2", POLICYBOT_CLAIM_STALE_SECONDS="5",
                       **WECHAT_ENV)


def left_by_a_crash(srv, openid: str, age: timedelta) -> str:
    """A de-dup row 'processing' since `age` ago — what a worker killed mid-turn leaves."""
    msg_id = new_msg_id()
    with session_scope(server_settings(srv).db_url) as s:
        s.add(ProcessedMessage(key=f"msg:{openid}:{msg_id}", openid=openid, created_at=utcnow() - age))
    return msg_id


def form_state(srv, openid: str) -> dict:
    with session_scope(server_settings(srv).db_url) as s:
        return dict(s.get(Follower, openid).form_state or {})


def record(srv, openid: str, msg_id: str) -> ProcessedMessage:
    with session_scope(server_settings(srv).db_url) as s:
        return s.get(ProcessedMessage, f"msg:{openid}:{msg_id}")


def test_a_stale_claim_is_taken_over_by_a_retry_exactly_once(claims):
    wx = platform_for(claims)
    openid = new_openid("ostale")
    assert "哪家培训机构" in wx.say(openid, "我要投诉")
    msg_id = left_by_a_crash(claims, openid, timedelta(minutes=1))
    xml = text_xml(openid, INSTITUTION, msg_id=msg_id)
    # WeChat's retries, three at once: one takes the message over, the others get its reply
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(3) as pool:
        replies = [wx.open(r) for r in pool.map(lambda _: wx.post(xml, client=client), range(3))]
    answers = [r["Content"] for r in replies if r]
    assert answers and all("1. 虚假宣传" in a for a in answers)  # the next question: a real answer
    state = form_state(claims, openid)
    assert state["slots"].get("institution") == INSTITUTION
    assert state["pending"] == "category" and state["misses"] == 0  # applied once, not twice
    assert record(claims, openid, msg_id).status == "done"
    assert wx.send(xml) == answers[0]  # a later retry: the stored reply, no new handling
    assert form_state(claims, openid)["misses"] == 0


def test_a_live_claim_is_not_taken_over(claims):
    wx = platform_for(claims)
    openid = new_openid("olive")
    wx.say(openid, "你好")
    msg_id = left_by_a_crash(claims, openid, timedelta(seconds=0))  # still within its time
    # ... and alive: on PostgreSQL a live handling holds its de-dup row's lock for its turn
    with get_engine(server_settings(claims).db_url).connect() as live:
        if live.dialect.name == "postgresql":
            live.execute(select(ProcessedMessage.key).where(
                ProcessedMessage.key == f"msg:{openid}:{msg_id}").with_for_update())
        assert wx.send(text_xml(openid, "我在聊城", msg_id=msg_id)) is None  # "success": not ours
    assert record(claims, openid, msg_id).status == "processing"
    with session_scope(server_settings(claims).db_url) as s:
        assert s.get(Follower, openid).region is None  # the message was not handled a second time


# ---------------------------------------------------------------- the periodic push retry

@pytest.fixture(scope="module")
def sweeping(live_server):
    """Two workers on one database, every reply pushed, kept pushes retried every second."""
    env = dict(WECHAT_ENV, POLICYBOT_REPLY_DEADLINE="0", POLICYBOT_PUSH_RETRY_SECONDS="1")
    first = live_server("wx-sweep", **env)
    second = live_server("wx-sweep-2", DATABASE_URL=first.database_url, **env)
    return first, second


def attempts(fake, openid):
    return [c for c in fake.calls if c["path"] == SEND and (c["json"] or {}).get("touser") == openid]


def test_quota_refusals_are_retried_without_waiting_for_the_follower(sweeping, fake_wechat):
    wx = platform_for(sweeping[0])
    openid = new_openid("oquota")
    fake_wechat.fail_next(SEND, 45047)
    assert wx.say(openid, "帮助") is None
    sent = wait_for(lambda: fake_wechat.sent_messages(openid), timeout=20)  # the follower is silent
    assert sent and "政策问答" in sent[0]["text"]["content"]
    time.sleep(3)  # a few more sweeps of both workers
    assert len(fake_wechat.sent_messages(openid)) == 1
    assert len(attempts(fake_wechat, openid)) == 2  # refused once, delivered once


def test_busy_refusals_are_retried(sweeping, fake_wechat):
    wx = platform_for(sweeping[1])
    openid = new_openid("onet")
    fake_wechat.fail_next(SEND, -1)  # WeChat's "system busy"
    assert wx.say(openid, "帮助") is None
    assert wait_for(lambda: fake_wechat.sent_messages(openid), timeout=20)
    time.sleep(2)
    assert len(fake_wechat.sent_messages(openid)) == 1


def test_outside_the_window_waits_for_the_followers_next_message(sweeping, fake_wechat):
    wx = platform_for(sweeping[0])
    openid = new_openid("owin")
    fake_wechat.fail_next(SEND, 45015)
    assert wx.say(openid, "帮助") is None
    assert wait_for(lambda: attempts(fake_wechat, openid))
    time.sleep(3)  # sweeps come and go: 45015 is not theirs to retry
    assert len(attempts(fake_wechat, openid)) == 1 and fake_wechat.sent_messages(openid) == []
    assert wx.say(openid, "你好") is None
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2 and fake_wechat.sent_messages(openid))
    assert sent and any("政策问答" in m["text"]["content"] for m in sent)


# ---------------------------------------------------------------- the access token

@pytest.fixture
def token_settings(request, tmp_path, fake_wechat):
    fake_wechat.token_delay = 0.5  # a slow token endpoint: a refresh race would show
    yield database_settings(request.config, tmp_path / "data", wechat={"appid": TEST_APPID,
                            "secret": TEST_SECRET, "api_base": fake_wechat.base_url})
    fake_wechat.token_delay = 0.0


def at_once(n: int, fn) -> list:
    """Run fn() in n threads released together (each its own client: workers share only the DB)."""
    gate = threading.Barrier(n)

    def run(_):
        gate.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_first_token_is_fetched_once_for_all_workers(token_settings, fake_wechat):
    from bot.wechat.client import make_client

    before = fake_wechat.token_counter
    tokens = at_once(4, lambda: make_client(token_settings).access_token)
    assert fake_wechat.token_counter == before + 1
    assert len(set(tokens)) == 1


def test_a_rejected_token_is_refreshed_once_for_all_workers(token_settings, fake_wechat):
    from bot.wechat.client import make_client, send_text

    make_client(token_settings).access_token  # a cached token …
    fake_wechat.expire_tokens()  # … that WeChat no longer accepts
    before = fake_wechat.token_counter
    openids = [new_openid("otok") for _ in range(4)]
    gate = threading.Barrier(len(openids))

    def send(openid):
        gate.wait()
        send_text(token_settings, openid, "你好")

    with ThreadPoolExecutor(len(openids)) as pool:
        list(pool.map(send, openids))
    assert fake_wechat.token_counter == before + 1  # one refresh; the others re-read its token
    assert all(len(fake_wechat.sent_messages(o)) == 1 for o in openids)
