"""The 5-second deadline and customer-service pushes, against the fake WeChat API.

The server here has POLICYBOT_REPLY_DEADLINE=0, i.e. no answer is ever "ready in time": every
reply takes the slow path ("success" now, the answer pushed when ready) — what happens on a real
account when a configured LLM is slow. Covers 45015 (outside the 48-hour window), 45047
(quota), token expiry (40001/42001 → one refresh, one retry), and the retry storm.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.wechat_util import WECHAT_ENV, new_openid, platform_for, text_xml, wait_for

pytestmark = pytest.mark.db

SEND = "/cgi-bin/message/custom/send"


@pytest.fixture(scope="module")
def slow(live_server):
    return live_server("wx-slow", POLICYBOT_REPLY_DEADLINE="0", **WECHAT_ENV)


@pytest.fixture
def wx(slow):
    return platform_for(slow)


def attempts(fake, openid):
    return [c for c in fake.calls if c["path"] == SEND and (c["json"] or {}).get("touser") == openid]


def test_slow_answer_is_pushed(wx, fake_wechat):
    openid = new_openid()
    assert wx.say(openid, "帮助") is None  # "success" within the deadline
    sent = wait_for(lambda: fake_wechat.sent_messages(openid))
    assert len(sent) == 1
    assert sent[0]["msgtype"] == "text" and "1 " in sent[0]["text"]["content"]
    assert len(sent[0]["text"]["content"].encode()) <= 2048


def test_outside_48h_window_is_kept_and_delivered_on_next_message(wx, fake_wechat):
    openid = new_openid()
    fake_wechat.fail_next(SEND, 45015)
    assert wx.say(openid, "帮助") is None
    assert wait_for(lambda: attempts(fake_wechat, openid))  # tried once, refused
    time.sleep(0.5)
    assert fake_wechat.sent_messages(openid) == []
    assert wx.say(openid, "我在聊城") is None  # the follower writes again: the window is open
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2 and fake_wechat.sent_messages(openid))
    contents = [m["text"]["content"] for m in sent]
    assert any("1 " in c and "政策问答" in c for c in contents)  # the kept menu
    assert any("山东 聊城" in c for c in contents)  # and the new answer
    assert len(contents) == 2


def test_quota_is_kept_and_retried_later(wx, fake_wechat):
    openid = new_openid()
    fake_wechat.fail_next(SEND, 45047)
    assert wx.say(openid, "帮助") is None
    assert wait_for(lambda: attempts(fake_wechat, openid))
    time.sleep(0.5)
    assert fake_wechat.sent_messages(openid) == []
    wx.say(openid, "地区")
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2 and fake_wechat.sent_messages(openid))
    assert sent and any("政策问答" in m["text"]["content"] for m in sent)


@pytest.mark.parametrize("how", ["expire_all", 40001, 42001])
def test_expired_token_is_refreshed_once(wx, fake_wechat, how):
    openid = new_openid()
    wx.say(openid, "你好")  # make sure a token is cached first
    wait_for(lambda: fake_wechat.sent_messages(openid))
    tokens_before = fake_wechat.token_counter
    if how == "expire_all":
        fake_wechat.expire_tokens()
    else:
        fake_wechat.fail_next(SEND, how)
    wx.say(openid, "帮助")
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2 and fake_wechat.sent_messages(openid))
    assert sent and len(sent) == 2
    assert fake_wechat.token_counter == tokens_before + 1  # exactly one refresh


def test_token_refused_twice_is_kept_not_looped(wx, fake_wechat):
    openid = new_openid()
    wx.say(openid, "你好")
    wait_for(lambda: fake_wechat.sent_messages(openid))
    fake_wechat.fail_next(SEND, 40001, times=2)
    wx.say(openid, "帮助")
    assert wait_for(lambda: len(attempts(fake_wechat, openid)) >= 3)
    time.sleep(0.5)
    assert len(attempts(fake_wechat, openid)) == 3  # sent, refused, refreshed + refused: no loop
    wx.say(openid, "菜单")
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 3 and fake_wechat.sent_messages(openid))
    assert sent and len(sent) == 3


def test_retry_storm_is_handled_once(wx, fake_wechat):
    """The same MsgId three times at once and once more later: one handling, one push."""
    openid = new_openid()
    xml = text_xml(openid, "帮助")
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: wx.post(xml, client=client), range(3)))
    assert all(r.status_code == 200 and r.text == "success" for r in responses)
    assert wait_for(lambda: fake_wechat.sent_messages(openid))
    time.sleep(1.0)
    late = wx.post(xml)
    assert late.status_code == 200 and late.text == "success"  # already pushed: not again
    time.sleep(1.0)
    assert len(fake_wechat.sent_messages(openid)) == 1


def test_event_retries_are_handled_once(wx, fake_wechat):
    """Events have no MsgId: FromUserName + CreateTime + Event (+ EventKey) identify a retry."""
    from tests.wechat_util import event_xml

    openid = new_openid()
    created = int(time.time())
    click = event_xml(openid, "CLICK", "POLICY_QA", create_time=created)
    for _ in range(3):
        assert wx.send(click) is None
    other_click = event_xml(openid, "CLICK", "QUERY_PROGRESS", create_time=created)
    assert wx.send(other_click) is None  # a different menu item in the same second is new
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2 and fake_wechat.sent_messages(openid))
    time.sleep(1.0)
    assert sent and len(fake_wechat.sent_messages(openid)) == 2


def test_retry_storm_across_two_workers_on_one_database(live_server, slow, fake_wechat):
    """WeChat's retries may reach different workers: a second server process on the same
    database must not handle (or push) the message again."""
    shared_db = slow.env.get("DATABASE_URL") or f"sqlite:///{slow.data_dir / 'data' / 'policybot.db'}"
    second = live_server("wx-slow-2", POLICYBOT_REPLY_DEADLINE="0", DATABASE_URL=shared_db, **WECHAT_ENV)
    first, other = platform_for(slow), platform_for(second)
    openid = new_openid()
    xml = text_xml(openid, "帮助")
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(4) as pool:
        targets = [first, other, first, other]
        responses = list(pool.map(lambda p: p.post(xml, client=client), targets))
    assert all(r.status_code == 200 and r.text == "success" for r in responses)
    assert wait_for(lambda: fake_wechat.sent_messages(openid))
    time.sleep(1.0)
    assert len(fake_wechat.sent_messages(openid)) == 1
    # the follower's next message, on the other worker, sees the same state
    assert other.say(openid, "我在聊城") is None
    assert wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 2)
    assert first.say(openid, "地区") is None
    sent = wait_for(lambda: len(fake_wechat.sent_messages(openid)) >= 3 and fake_wechat.sent_messages(openid))
    assert sent and "山东 聊城" in sent[-1]["text"]["content"]
