"""The admins' pages of the question loop: the unanswered list and an item's forms (CSRF, admin
only; a standard answer without a clause is refused on the page), the insights page with its
server-drawn SVG charts and its CSV export — over HTTP, and in Debian's Chromium at desktop and
phone width (390 px: nothing scrolls sideways)."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import SHOTS, add_staff, console_in_chromium, fits, login
from tests.wechat_util import wait_for

pytestmark = pytest.mark.db

GAP = "培训期间管吃住吗"
CLAUSE = "7个工作日内完成受理及审核"


@pytest.fixture(scope="module")
def server(live_server):
    return live_server("console-unanswered", POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def asked(server):
    """A few questions through /api/ask: answered, refused, and the gap the tests teach."""
    with server.client() as c:
        for q in ("以工代训补贴标准是多少", "电子培训券怎么领取", "聊城职业技能培训补贴标准是多少", GAP,
                  "今天天气怎么样", "补贴审核要多长时间"):
            assert c.post("/api/ask", json={"question": q}).status_code == 200
    return server


@pytest.fixture
def admin(asked):
    """(client, CSRF token) of the logged-in admin."""
    with asked.client(follow_redirects=False) as c:
        yield c, login(c)


def wait_page_has(c, url: str, text: str) -> str:
    page = wait_for(lambda: (r := c.get(url)).status_code == 200 and text in r.text and r.text, timeout=20)
    assert page, f"{text} not on {url}"
    return page


def test_the_list_the_item_and_its_forms(admin):
    c, csrf = admin
    page = wait_page_has(c, "/console/unanswered", GAP)
    item_id = re.search(rf'data-id="(\d+)">\s*<a href="/console/unanswered/\d+">\s*<span class="q">{GAP}', page).group(1)
    detail = c.get(f"/console/unanswered/{item_id}")
    assert detail.status_code == 200 and 'name="chunk_id"' in detail.text and "12333" in detail.text
    # CSRF and the clause rule
    r = c.post(f"/console/unanswered/{item_id}/answer", data={"text": "管吃住。", "chunk_ids": ""})
    assert r.status_code == 403
    r = c.post(f"/console/unanswered/{item_id}/answer", data={"text": "管吃住。", "chunk_ids": "", "csrf_token": csrf})
    assert r.status_code == 400 and "至少一条政策条款" in r.text
    r = c.post(f"/console/unanswered/{item_id}/answer", data={"text": "管吃住。", "chunk_ids": "x1", "csrf_token": csrf})
    assert r.status_code == 400 and "条款编号只能是数字" in r.text
    chunk = next(ch for ch in c.get("/api/chunks").json()["chunks"] if CLAUSE in ch["text"])
    r = c.post(f"/console/unanswered/{item_id}/link", data={"chunk_id": str(chunk["id"]), "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/console/unanswered?done=link"
    page = c.get("/console/unanswered?done=link").text
    assert "已关联条款" in page and f"条款 {chunk['id']}" in page
    ans = c.post("/api/ask", json={"question": GAP}).json()
    assert not ans["refused"] and CLAUSE in ans["answer"]
    taught_id = re.search(r'action="/console/taught/(\d+)/delete"', page).group(1)
    r = c.post(f"/console/taught/{taught_id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert c.post("/api/ask", json={"question": GAP}).json()["refused"]
    assert c.get("/console/unanswered/99999999").status_code == 404


def test_staff_and_strangers_do_not_see_the_pages(asked):
    with asked.client(follow_redirects=False) as c:
        assert c.get("/console/unanswered").status_code == 303  # to the login
        assert c.get("/console/insights.csv").status_code == 401
    user, pw = add_staff(asked, "supervisor", ("聊城",))
    with asked.client(follow_redirects=False) as c:
        login(c, user, pw)
        assert c.get("/console/unanswered").status_code == 403
        assert c.get("/console/insights").status_code == 403


def test_insights_figures_charts_and_csv(admin):
    c, _csrf = admin
    page = wait_page_has(c, "/console/insights", "共 ")
    assert page.count("<svg") == 5 and "<script" not in page
    assert "已回答" in page and "未能回答" in page and "以工代训" in page
    assert c.get("/console/insights?weeks=0").status_code == 400
    r = c.get("/console/insights.csv?weeks=4")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["图表", "项目", "分类", "数量", "占比(%)"]
    figures = {row[0] for row in rows[1:]}
    assert figures >= {"每周提问", "回答情况", "话题", "地区", "引用最多的通知"}
    weekly = [row for row in rows if row[0] == "每周提问" and row[2] == "合计"]
    assert len(weekly) == 4 and sum(int(row[3]) for row in weekly) >= 6
    outcomes = {row[1]: int(row[3]) for row in rows if row[0] == "回答情况"}
    assert outcomes["已回答"] >= 2 and outcomes["未能回答"] >= 2


# ---------------------------------------------------------------- in Chromium



@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_pages_in_chromium(asked, browser, width):
    with console_in_chromium(browser, asked.base_url, width) as page:
        page.click("nav >> text=未解答")
        page.wait_for_url(asked.base_url + "/console/unanswered")
        assert page.locator("#unanswered .asked-row").count() >= 2
        assert fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/unanswered-{width}.png", full_page=True)
        page.locator("#unanswered .asked-row a", has_text="今天天气怎么样").click()
        page.wait_for_selector("form[data-action=dismiss]")
        assert fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/unanswered-item-{width}.png", full_page=True)
        page.click("nav >> text=提问概况")
        page.wait_for_url(asked.base_url + "/console/insights")
        assert page.locator("svg.chart").count() == 5
        box = page.locator("#chart-weeks svg").bounding_box()
        assert box["width"] > 300 and box["width"] <= width
        assert fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/insights-{width}.png", full_page=True)
        assert page.errors == []
