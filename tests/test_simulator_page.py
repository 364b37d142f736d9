"""/simulator: a phone-sized chat page that reaches the bot through the real /wechat protocol.

Driven in Debian's chromium with Playwright; plus the switch (on without WECHAT_TOKEN or with
POLICYBOT_SIMULATOR=1, 404 otherwise) and the local-trial mode where the token is generated.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.wechat_util import WECHAT_ENV, text_xml



@pytest.fixture(scope="module")
def sim_server(live_server):
    return live_server("wx-sim", POLICYBOT_SIMULATOR="1", **WECHAT_ENV)


@contextmanager
def sim_page(server, browser):
    """The simulator at 390 px, a new follower welcomed: (page, the bot's bubbles)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 800})
    try:
        page.goto(server.base_url + "/simulator")
        bot = page.locator(".row.bot .bubble")
        expect(bot.first).to_contain_text("我在", timeout=15000)  # the subscribe welcome
        yield page, bot
    finally:
        page.close()


@pytest.mark.browser
def test_chat_in_the_browser(sim_server, browser):
    from playwright.sync_api import expect

    with sim_page(sim_server, browser) as (page, bot):

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


CONTRAST_JS = """() => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  function background(el) {  // the first opaque background behind el
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  }
  const out = [];
  for (const el of document.querySelectorAll("#phone *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || !box.width || getComputedStyle(el).visibility === "hidden") continue;
    if (el.closest(".sr-only")) continue;
    out.push({what: (el.id || el.className || el.tagName) + ": " + el.textContent.trim().slice(0, 12),
              fg: rgba(getComputedStyle(el).color).slice(0, 3), bg: background(el)});
  }
  const input = document.getElementById("input");
  out.push({what: "placeholder", fg: rgba(getComputedStyle(input, "::placeholder").color).slice(0, 3), bg: background(input)});
  return out;
}"""

LINES_JS = """(el) => {  // how many line boxes the button's text takes, and its height against one line
  const r = document.createRange();
  r.selectNodeContents(el);
  const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
  const s = getComputedStyle(el);
  const one = parseFloat(s.lineHeight) || parseFloat(s.fontSize) * 1.2;
  const frame = parseFloat(s.paddingTop) + parseFloat(s.paddingBottom) + parseFloat(s.borderTopWidth) + parseFloat(s.borderBottomWidth);
  return {lines: tops.size, height: el.getBoundingClientRect().height, one: one, frame: frame,
          text: el.textContent.trim(), stretched: !!el.closest("#composer")};
}"""


def _luminance(rgb) -> float:
    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula():
    assert round(contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast((0x99, 0x99, 0x99), (0xED, 0xED, 0xED)), 2) == 2.43  # the old note colour failed


@pytest.mark.browser
def test_the_page_at_390px_buttons_label_contrast_and_reload(sim_server, browser):
    from playwright.sync_api import expect

    with sim_page(sim_server, browser) as (page, bot):
        expect(page.locator("nav#menu button.top")).to_have_count(3, timeout=15000)

        # the text box is labelled
        box = page.get_by_label("输入消息")
        assert box.evaluate("(el) => el.id") == "input"

        # every button keeps its text on one line: one line box, and the height of one line
        page.get_by_role("button", name="更多").click()  # its sub-menu open, so its buttons are measured too
        buttons = page.locator("button:visible")
        assert buttons.count() >= 10
        for i in range(buttons.count()):
            m = buttons.nth(i).evaluate(LINES_JS)
            assert m["lines"] == 1, m
            if not m["stretched"]:  # the composer's buttons are as tall as the text box beside them
                assert m["height"] <= m["frame"] + m["one"] * 1.5, m
        page.get_by_role("button", name="更多").click()

        # text against its background: WCAG AA, 4.5:1
        low = [(c["what"], round(contrast(c["fg"], c["bg"]), 2)) for c in page.evaluate(CONTRAST_JS)
               if contrast(c["fg"], c["bg"]) < 4.5]
        assert low == []

        # the conversation survives a reload (kept on the server, not in the page)
        count = bot.count()
        page.fill("#input", "帮助")
        page.click("#send")
        expect(bot.nth(count)).to_contain_text("请回复数字选择", timeout=15000)
        before = page.locator(".row .bubble").all_inner_texts()
        page.reload()
        expect(page.locator(".row .bubble")).to_have_count(len(before), timeout=15000)
        assert page.locator(".row .bubble").all_inner_texts() == before
        assert page.locator(".row.me .bubble").last.inner_text() == "帮助"
        assert "欢迎回来" not in page.locator("#messages").inner_text()


def test_the_history_is_kept_per_follower(sim_server):
    with sim_server.client() as c:
        c.post("/simulator/api/send", json={"openid": "sim_history01", "kind": "text", "content": "帮助", "shown": "帮助"})
        kept = c.get("/simulator/api/history", params={"openid": "sim_history01"}).json()["messages"]
        assert kept[0] == {"who": "me", "text": "帮助"} and kept[1]["who"] == "bot"
        assert "请回复数字选择" in kept[1]["text"] and len(kept) == 2
        assert c.get("/simulator/api/history", params={"openid": "sim_history02"}).json()["messages"] == []
        assert c.get("/simulator/api/history", params={"openid": "not-sim"}).json()["messages"] == []
