"""/simulator: a phone-sized chat page that reaches the bot through the real /wechat protocol.

Driven in Debian's chromium with Playwright; plus the switch (on without WECHAT_TOKEN or with
POLICYBOT_SIMULATOR=1, 404 otherwise) and the local-trial mode where the token is generated.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.wechat_util import WECHAT_ENV, text_xml



@pytest.fixture(scope="module")
def sim_server(live_server):
    return live_server("wx-sim", POLICYBOT_SIMULATOR="1", **WECHAT_ENV)


@pytest.mark.browser
def test_chat_in_the_browser(sim_server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 800})
    try:
        page.goto(sim_server.base_url + "/simulator")
        bot = page.locator(".row.bot .bubble")
        expect(bot.first).to_contain_text("我在", timeout=15000)  # the subscribe welcome

        def ask(text: str, expected: str):
            count = bot.count()
            page.fill("#input", text)
            page.click("#send")
            expect(bot.nth(count)).to_contain_text(expected, timeout=15000)
            return bot.nth(count).inner_text()

        menu = ask("帮助", "请回复数字选择")
        qa_digit = re.search(r"(\d) 政策问答", menu).group(1)
        ask(qa_digit, "例如")
        ask("我在聊城", "山东 聊城")

        count = bot.count()
        page.get_by_role("button", name="政策问答").click()  # a menu CLICK event
        expect(bot.nth(count)).to_contain_text("例如", timeout=15000)

        count = bot.count()
        page.get_by_role("button", name="更多").click()
        page.get_by_role("button", name="投诉举报").click()
        expect(bot.nth(count)).not_to_be_empty(timeout=15000)
        ask("取消", "取消")

        count = bot.count()
        page.click("#image")
        expect(bot.nth(count)).to_contain_text("图片", timeout=15000)

        page.click("#toggle-debug")
        expect(page.locator("#debug")).to_contain_text("aes")  # safe mode, as configured

        box = page.locator("#phone").bounding_box()
        assert box["width"] <= 420
    finally:
        page.close()


def test_simulator_api_uses_the_protocol(sim_server):
    with sim_server.client() as c:
        r = c.post("/simulator/api/send", json={"openid": "sim_apitest01", "kind": "text", "content": "帮助"})
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == 200 and body["mode"] == "aes"
        assert "请回复数字选择" in body["reply"]
        assert "<MsgId>" in body["request_xml"]
        assert c.post("/simulator/api/send", json={"openid": "not-a-sim-id", "content": "x"}).status_code == 422
        menu = c.get("/simulator/api/menu").json()
        assert [b["name"] for b in menu["button"]] == ["政策问答", "资格自测", "更多"]


def test_local_trial_without_token(live_server):
    srv = live_server("wx-trial", WECHAT_TOKEN=None, POLICYBOT_EMBEDDER="hash")
    with srv.client() as c:
        assert c.get("/simulator").status_code == 200
        r = c.post("/simulator/api/send", json={"openid": "sim_trial001", "kind": "text", "content": "我在济源"})
        assert r.json()["mode"] == "raw" and "河南 济源" in r.json()["reply"]
        # /wechat still checks signatures (with the generated token, which nobody outside knows)
        r = c.post("/wechat", params={"signature": "0" * 40, "timestamp": "1", "nonce": "1"},
                   content=text_xml("o1", "hi").encode())
        assert r.status_code == 403


def test_simulator_off_in_a_real_deployment(live_server):
    srv = live_server("wx-prod", **WECHAT_ENV)  # WECHAT_TOKEN set, POLICYBOT_SIMULATOR unset
    with srv.client() as c:
        assert c.get("/simulator").status_code == 404
        assert c.post("/simulator/api/send", json={"openid": "sim_x12345", "content": "帮助"}).status_code == 404
        assert c.get("/simulator/api/inbox", params={"openid": "sim_x12345"}).status_code == 404


def test_pushed_answers_reach_the_simulator_page(live_server):
    """Without an AppSecret (local trial) a slow answer cannot be pushed through WeChat: it is
    kept, and the simulator page collects it from its inbox."""
    import time

    srv = live_server("wx-trial-slow", WECHAT_TOKEN=None, POLICYBOT_REPLY_DEADLINE="0", POLICYBOT_EMBEDDER="hash")
    with srv.client() as c:
        r = c.post("/simulator/api/send", json={"openid": "sim_slow0001", "kind": "text", "content": "帮助"})
        assert r.status_code == 200 and r.json()["reply"] is None  # "success": the push comes later
        got: list[str] = []
        deadline = time.monotonic() + 15
        while not got and time.monotonic() < deadline:
            got = c.get("/simulator/api/inbox", params={"openid": "sim_slow0001"}).json()["messages"]
            time.sleep(0.2)
        assert len(got) == 1 and "请回复数字选择" in got[0]
        assert c.get("/simulator/api/inbox", params={"openid": "sim_slow0001"}).json()["messages"] == []
