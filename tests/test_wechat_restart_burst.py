"""Issue 14, defect 4: messages that arrive together right after a start all find the forms.

A server is stopped and started again on the same data, and 20 followers send “我要投诉” at
the same moment: every one of them must get the complaint form's first question, not a Q&A
answer (before the fix, 3 in 88 went to the policy Q&A).
"""
from __future__ import annotations

import threading

import pytest

from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN
from tests.wechat_util import new_openid, platform_for

pytestmark = pytest.mark.db


def test_twenty_simultaneous_complaints_after_a_restart_all_start_the_form(live_server):
    env = dict(WECHAT_TOKEN=TEST_TOKEN, WECHAT_AES_KEY=TEST_AES_KEY, WECHAT_APPID=TEST_APPID,
               WECHAT_SECRET=TEST_SECRET)
    srv = live_server("restart-burst", **env)
    srv.stop()
    srv.start()
    wx = platform_for(srv)
    replies: list[str | None] = []
    gate = threading.Barrier(20)

    def complain():
        gate.wait()
        replies.append(wx.say(new_openid("burst"), "我要投诉"))

    threads = [threading.Thread(target=complain) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(replies) == 20
    assert all(r and "哪家培训机构" in r for r in replies), replies
