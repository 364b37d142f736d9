"""The notices pages of the console: over HTTP (roles, CSRF, refusals) and in Debian's Chromium at
desktop and phone width (390 px) — the list grouped by file, newest upload first, with status;
a notice's chunks as quoted, versions and audit trail; edit, withdraw (reason required),
restore, supersede and a confirmed suggestion, each reaching the answers at once."""
from __future__ import annotations

import io
import os

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import add_staff, login

pytestmark = pytest.mark.db
TOKEN = "console-notices-token"
NOTICE = """东营市人力资源和社会保障局文件

东人社字〔{year}〕{no}号

关于做好{year}年{job}培训补贴发放工作的通知

各县区人力资源和社会保障局：

一、补贴标准

取得{job}职业技能等级证书的学员，每人补贴{amount}元。
{extra}
东营市人力资源和社会保障局

{year}年4月1日
"""


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("notices-console", POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_EMBEDDER="hash",
                       POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


def upload(srv, name, **kw) -> dict:
    text = NOTICE.format(**{"year": 2024, "no": 5, "extra": "", **kw})
    with srv.client() as c:
        r = c.post("/api/ingest", headers={"Authorization": f"Bearer {TOKEN}"},
                   files={"files": (name, io.BytesIO(text.encode()), "text/plain")})
        assert r.status_code == 200, r.text
        return next(n for n in c.get("/api/notices").json()["notices"] if n["file"] == name.rsplit(".", 1)[0])


def answer(srv, question: str) -> dict:
    with srv.client() as c:
        return c.post("/api/ask", json={"question": question}).json()


# ---------------------------------------------------------------- over HTTP

def test_staff_read_admins_change_with_csrf(srv):
    n = upload(srv, "dy_http.txt", job="茶艺师", amount=900, no=3)
    user, pw = add_staff(srv, "staff", ("济源",))
    with srv.client(follow_redirects=False) as c:
        csrf = login(c, user, pw)
        page = c.get(f"/console/notices/{n['id']}")
        assert page.status_code == 200 and "每人补贴900元" in page.text and 'data-action="withdraw"' not in page.text
        r = c.post(f"/console/notices/{n['id']}/withdraw", data={"csrf_token": csrf, "reason": "x"})
        assert r.status_code == 403
    with srv.client(follow_redirects=False) as c:
        csrf = login(c)
        r = c.post(f"/console/notices/{n['id']}/withdraw", data={"csrf_token": "forged", "reason": "x"})
        assert r.status_code == 403
        r = c.post(f"/console/notices/{n['id']}/withdraw", data={"csrf_token": csrf, "reason": "  "})
        assert r.status_code == 422 and "请填写撤回原因" in r.text
        assert c.get("/console/notices/999999").status_code == 404
        assert c.get(f"/console/notices/{2**40}").status_code == 404
        r = c.post(f"/console/notices/{n['id']}/supersede", data={"csrf_token": csrf, "by": "abc"})
        assert r.status_code == 422 and "请选择替代它的通知" in r.text
        r = c.post(f"/console/notices/{n['id']}/withdraw", data={"csrf_token": csrf, "reason": "测试"})
        assert r.status_code == 303 and r.headers["location"] == f"/console/notices/{n['id']}?done=withdrawn"
        assert "900元" not in answer(srv, "东营茶艺师补贴多少钱")["answer"]
        page = c.get(r.headers["location"])
        assert "已撤回：从现在起任何回答都不会引用该通知" in page.text and "原因：测试" in page.text
        listing = c.get("/console/notices").text
        assert f'data-id="{n["id"]}" data-status="已撤回"' in listing


# ---------------------------------------------------------------- in Chromium





def _page(browser, phone: bool):
    options = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) if phone else \
        dict(viewport={"width": 1280, "height": 900})
    ctx = browser.new_context(locale="zh-CN", **options)
    return ctx, ctx.new_page()


def _log_in(page, base_url):
    page.goto(base_url + "/console/login")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/console/")


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_notices_pages_in_chromium(srv, browser, phone):
    from playwright.sync_api import expect

    job = "保育师" if phone else "育婴员"
    no = 6 if phone else 5
    old = upload(srv, f"dy_old_{int(phone)}.txt", job=job, amount=1200, no=no)
    repeal = f"\n二、《{old['title']}》（东人社字〔2024〕{no}号）同时废止。\n"
    new = upload(srv, f"dy_new_{int(phone)}.txt", job=job, amount=1500, year=2025, no=no + 10, extra=repeal)
    ctx, page = _page(browser, phone)
    try:
        _log_in(page, srv.base_url)
        page.click("nav >> text=政策文件")
        page.wait_for_url(srv.base_url + "/console/notices")
        assert _fits(page)
        groups = page.locator(".file-group")
        assert groups.first.get_attribute("data-file") == new["file"]  # the newest upload first
        three = page.locator(".file-group[data-file='003_a712d972baa709d7'] .notice-row")
        expect(three).to_have_count(3)
        row = page.locator(f".notice-row[data-id='{new['id']}']")
        expect(row).to_contain_text("生效")
        expect(row).to_contain_text(f"东人社字〔2025〕{no + 10}号")
        expect(row).to_contain_text("建议替代 1 份")

        # the new notice suggests replacing the old one; the admin confirms
        row.locator("a").click()
        page.wait_for_url(f"**/console/notices/{new['id']}")
        assert _fits(page)
        expect(page.locator("#chunks li").first).to_be_visible()
        assert "每人补贴1500元" in page.locator("#chunks").inner_text()
        page.click(f".suggestion[data-old='{old['id']}'] button")
        page.wait_for_url(f"**/console/notices/{old['id']}?done=superseded")
        expect(page.locator("#status")).to_have_text("已被替代")
        expect(page.locator("#replaced-by")).to_contain_text(new["title"])
        assert "1500元" in answer(srv, f"东营{job}补贴多少钱")["answer"]
        noted = answer(srv, f"东人社字〔2024〕{no}号{job}补贴多少钱")
        assert "1200元" in noted["answer"] and f"已被《{new['title']}》替代" in noted["answer"]

        # undo the supersession, then withdraw the new one: the browser will not send it without a reason
        page.click("form[data-action=restore] button")
        expect(page.locator("#status")).to_have_text("生效")
        page.goto(f"{srv.base_url}/console/notices/{new['id']}")
        page.click("form[data-action=withdraw] button")
        expect(page.locator("#status")).to_have_text("生效")  # `required`: nothing was sent
        page.fill("form[data-action=withdraw] textarea", "印发有误，待重新发布")
        page.click("form[data-action=withdraw] button")
        expect(page.locator("#status")).to_have_text("已撤回")
        expect(page.locator("#withdrawn")).to_contain_text("印发有误，待重新发布")
        expect(page.locator("#events tr[data-action=withdrawn]")).to_contain_text(ADMIN_USER)
        assert "1500元" not in answer(srv, f"东营{job}补贴多少钱")["answer"]
        assert _fits(page)
        page.fill("form[data-action=restore] input[name=reason]", "已重新印发")
        page.click("form[data-action=restore] button")
        expect(page.locator("#status")).to_have_text("生效")
        assert "1500元" in answer(srv, f"东营{job}补贴多少钱")["answer"]

        # supersede through the form's list
        page.goto(f"{srv.base_url}/console/notices/{old['id']}")
        page.select_option("form[data-action=supersede] select", str(new["id"]))
        page.click("form[data-action=supersede] button")
        expect(page.locator("#status")).to_have_text("已被替代")
        expect(page.locator("#versions details")).to_have_count(1)
        assert _fits(page)

        # edit the new one's title: the citation follows at once; the file's title stays on the page
        page.goto(f"{srv.base_url}/console/notices/{new['id']}")
        edited = f"东营市{job}补贴通知（管理员修订）"
        page.fill("form[data-action=edit] input[name=title]", edited)
        page.fill("form[data-action=edit] input[name=reason]", "标题过长")
        page.click("form[data-action=edit] button")
        page.wait_for_url(f"**/console/notices/{new['id']}?done=edited")
        expect(page.locator("#title")).to_contain_text(edited)
        expect(page.locator(".was").first).to_contain_text(new["title"])
        expect(page.locator("#events tr[data-action=edited]").first).to_contain_text("标题过长")
        cited = answer(srv, f"东营{job}补贴多少钱")
        assert cited["sources"][0]["title"] == edited and f"《{edited}》" in cited["answer"]
        assert _fits(page)
        page.goto(f"{srv.base_url}/console/notices/1")  # a bundled notice: a long 评分表 of table rows
        assert _fits(page)
    finally:
        ctx.close()
