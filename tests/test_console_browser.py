"""The console in Debian's Chromium (Playwright, never `playwright install`): log in, the queue,
reply, close — on a phone-sized screen; a <script> in a complaint shows as text; a 济源 staff
member gets 403 on a 聊城 ticket; a staff member changes their own password on the phone; an
admin makes a work-order API token (shown once) and revokes it."""
from __future__ import annotations

import os

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import add_staff, file_ticket

pytestmark = pytest.mark.browser




@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              locale="zh-CN")
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    ctx.close()


def log_in(page, base_url, user, password):
    page.goto(base_url + "/console/")
    assert page.url.endswith("/console/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/console/")


def test_login_queue_reply_close(server, phone, fake_wechat):
    openid = "o-browser-flow"
    t = file_ticket(server, openid=openid, institution="浏览器测试培训学校", place="聊城东昌府区")
    log_in(phone, server.base_url, ADMIN_USER, ADMIN_PASSWORD)
    # the queue fits a phone screen: no horizontal scrolling
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.select_option("select[name=region]", "聊城")
    phone.click(".filters button[type=submit]")
    row = phone.locator(".ticket-row", has_text=t.number)
    assert "138****8000" in row.inner_text()
    row.locator("a").click()
    phone.wait_for_url(f"**/console/t/{t.number}")
    expect(phone.locator("#status")).to_have_text("待受理")
    phone.click("form[data-action=accept] button")
    expect(phone.locator("#status")).to_have_text("已受理")
    phone.fill("form[data-action=reply] textarea", "经核查，该校已退还多收的费用。")
    phone.click("form[data-action=reply] button")
    expect(phone.locator("#status")).to_have_text("已答复")
    assert "经核查，该校已退还多收的费用。" in phone.locator("#timeline").inner_text()
    phone.click("form[data-action=close] button")
    expect(phone.locator("#status")).to_have_text("已办结")
    texts = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
    assert any("经核查，该校已退还多收的费用。" in x for x in texts) and any("已办结" in x for x in texts)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_script_in_a_complaint_shows_as_text(server, phone):
    payload = "<script>alert('xss')</script>"
    t = file_ticket(server, institution=payload + "机构", description=payload + " 收费不退，态度恶劣。")
    log_in(phone, server.base_url, ADMIN_USER, ADMIN_PASSWORD)
    phone.goto(f"{server.base_url}/console/t/{t.number}")
    assert payload in phone.locator("#description").inner_text()
    assert payload in phone.locator("#institution").inner_text()
    assert phone.locator("#description script").count() == 0
    phone.goto(server.base_url + "/console/")
    assert phone.dialogs == []


def test_jiyuan_staff_gets_403_on_a_liaocheng_ticket(server, phone):
    t = file_ticket(server, place="聊城", institution="聊城某学校")
    user, pw = add_staff(server, "staff", ("济源",))
    log_in(phone, server.base_url, user, pw)
    assert t.number not in phone.locator("#queue").inner_text()
    resp = phone.goto(f"{server.base_url}/console/t/{t.number}")
    assert resp.status == 403
    assert "不属于您负责的地区" in phone.locator("#error").inner_text()
    assert "聊城某学校" not in phone.content()


def test_a_staff_member_changes_their_password_on_a_phone(server, phone):
    user, pw = add_staff(server, "staff", ("济源",))
    log_in(phone, server.base_url, user, pw)
    phone.click("nav >> text=修改密码")
    phone.wait_for_url(server.base_url + "/console/password")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.fill("input[name=current]", pw)
    phone.fill("input[name=new]", "a-new-password-1")
    phone.fill("input[name=again]", "a-new-password-1")
    phone.click("form[action='/console/password'] button[type=submit]")
    expect(phone.locator("#notice")).to_contain_text("密码已修改")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_makes_and_revokes_an_api_token_on_a_phone(server, phone):
    user, _ = add_staff(server, "staff", ("临沂",))
    log_in(phone, server.base_url, ADMIN_USER, ADMIN_PASSWORD)
    phone.click("nav >> text=API 令牌")
    phone.wait_for_url(server.base_url + "/console/tokens")
    phone.select_option("select[name=username]", user)
    phone.fill("input[name=name]", "12345 平台")
    phone.click("form[action='/console/tokens'] button[type=submit]")
    token = phone.locator("#token").inner_text()
    assert token.startswith("pbt_") and phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    api = {"Authorization": f"Bearer {token}"}
    assert httpx.get(server.base_url + "/api/tickets", headers=api).status_code == 200
    phone.goto(server.base_url + "/console/tokens")  # shown once: a new visit lists it masked
    row = phone.locator("#tokens li", has_text=token[:8] + "…")
    assert token not in phone.content() and user in row.inner_text()
    row.locator("button", has_text="撤销").click()
    expect(phone.locator("#tokens li", has_text=token[:8] + "…")).to_contain_text("已于")  # 已于 … 撤销
    assert httpx.get(server.base_url + "/api/tickets", headers=api).status_code == 401
