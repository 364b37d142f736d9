"""The regulators' view of institutions over HTTP against a live server (SQLite, and PostgreSQL
under --db=postgres): the ways one institution is written grouped when a complaint is filed
(through the work-order API), the queue's and the ticket page's “该机构已有N件投诉” counting only
what the viewer may see, an institution's page and its counts, an admin's merge and its undo
(refused for staff, audited), the statistics page's figures (closed on time, late, overdue) and
its CSV, and the pages in Chromium at a phone's 390 px and at 1280 px."""
from __future__ import annotations

import csv
import io
import random
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from bot import tickets
from core.config import Settings
from storage.db import session_scope
from storage.models import Ticket
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import SHOTS, act, add_staff, console_in_chromium, fits, login, server_settings

pytestmark = pytest.mark.db

TOKEN = "inst-admin-token-123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
INST_LINK = re.compile(r'href="/console/institutions/(\d+)">该机构已有(\d+)件投诉')


def _server(live_server, name):
    return live_server(name, POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD,
                       POLICYBOT_ADMIN_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def server(live_server):
    return _server(live_server, "inst")


def brand() -> str:
    """A distinctive part of a name no other test uses (three common characters)."""
    return "".join(random.sample("星辰晨光明华宇泰康博远鸿达新天睿德信诚安盛祥瑞金鼎卓越", 3)) + uuid.uuid4().hex[:2]


def forward(c, institution: str, region: str = "聊城", category: str = "乱收费", **kw) -> dict:
    body = dict(source="12345", external_id=uuid.uuid4().hex[:12], institution=institution, category=category,
                region=region, description="报名时承诺免费培训，结业时每人收取八百元材料费，不给收据。",
                happened="2026年11月", place=region, phone="13912345678", **kw)
    r = c.post("/api/tickets", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def institution_id(c, number: str) -> int:
    page = c.get(f"/console/t/{number}")
    assert page.status_code == 200
    return int(re.search(r'id="others" href="/console/institutions/(\d+)"', page.text).group(1))


def test_variant_names_are_grouped_when_filed(server):
    x, y = brand(), brand()
    variants = [f"{x}职业培训学校", f"{x} 职校", f"（聊城）{x}职业培训学校", f"{x.upper()}培训中心"]
    with server.client(follow_redirects=False) as c:
        login(c)
        filed = [forward(c, name) for name in variants]
        other = forward(c, f"{y}职业培训学校")
        ids = {institution_id(c, t["number"]) for t in filed}
        assert len(ids) == 1 and institution_id(c, other["number"]) not in ids
        inst = ids.pop()
        page = c.get(f"/console/institutions/{inst}")
        assert page.status_code == 200
        names = re.search(r'<ul class="names" id="names">(.*?)</ul>', page.text, re.S).group(1)
        assert all(name.replace(" ", "") in names.replace(" ", "") for name in (f"{x}职业培训学校", f"{x}职校"))
        assert f"{y}职业培训学校" not in names
        assert '<span id="total">4</span>' in page.text
        assert all(t["number"] in page.text for t in filed) and other["number"] not in page.text
        # the list finds it by any of its spellings, most complaints first
        listing = c.get("/console/institutions", params={"q": f"{x}职校"})
        assert f'href="/console/institutions/{inst}"' in listing.text and "共 1 个机构" in listing.text
        assert re.search(rf'/console/institutions/{inst}">\s*<span class="inst">[^<]*</span>\s*'
                         r'<span class="meta"><span class="count">4</span>', listing.text)


def test_a_ticket_filed_before_the_groups_is_grouped_when_the_pages_are_read(server):
    x = brand()
    with server.client(follow_redirects=False) as c:
        login(c)
        old, new = forward(c, f"{x}职业培训学校"), forward(c, f"{x}职校")
        with session_scope(server_settings(server).db_url) as s:  # as revision 0008 left it: no group
            ticket = s.exec(select(Ticket).where(Ticket.number == old["number"])).one()
            ticket.institution_id = None
            s.add(ticket)
        assert c.get("/console/institutions").status_code == 200
        with session_scope(server_settings(server).db_url) as s:
            groups = {t.number: t.institution_id for t in s.exec(
                select(Ticket).where(Ticket.number.in_([old["number"], new["number"]])))}
        assert groups[old["number"]] is not None and groups[old["number"]] == groups[new["number"]]


def test_the_queue_counts_the_institutions_other_complaints_the_viewer_sees(server):
    x = brand()
    with server.client(follow_redirects=False) as c:
        login(c)
        jiyuan = forward(c, f"{x}职校", region="济源")
        liaocheng = [forward(c, f"{x}职业培训学校", region="聊城") for _ in range(2)]
        lone = forward(c, f"{brand()}职校", region="济源")
        queue = c.get("/console/").text
        row = queue[queue.index(jiyuan["number"]):]
        row = row[: row.index("</li>")]
        inst, n = INST_LINK.search(row).groups()
        assert n == "2" and inst == str(institution_id(c, liaocheng[0]["number"]))
        lone_row = queue[queue.index(lone["number"]):]
        assert "该机构已有" not in lone_row[: lone_row.index("</li>")]
        assert "该机构已有2件投诉" in c.get(f"/console/t/{liaocheng[0]['number']}").text
    user, password = add_staff(server, "staff", ("济源",))
    with server.client(follow_redirects=False) as c:
        login(c, user, password)
        queue = c.get("/console/").text
        row = queue[queue.index(jiyuan["number"]):]
        assert "该机构已有" not in row[: row.index("</li>")]  # the two 聊城 ones are not theirs
        page = c.get(f"/console/institutions/{inst}")
        assert page.status_code == 200 and '<span id="total">1</span>' in page.text
        assert liaocheng[0]["number"] not in page.text and jiyuan["number"] in page.text
        ticket = c.get(f"/console/t/{jiyuan['number']}").text
        assert "该机构已有" not in ticket and "机构页面" in ticket


def test_an_institutions_page_counts_categories_and_statuses(server):
    x = brand()
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        first = forward(c, f"{x}职校", category="虚假宣传")
        forward(c, f"{x}职业培训学校", category="虚假宣传")
        forward(c, f"{x}职校", category="乱收费")
        assert act(c, csrf, first["number"], "accept").status_code == 303
        page = c.get(f"/console/institutions/{institution_id(c, first['number'])}").text

    def tally(name):
        block = re.search(rf'id="{name}">(.*?)</table>', page, re.S).group(1)
        return dict(re.findall(r"<td>([^<]+)</td><td class=\"n\">(\d+)</td>", block))

    assert tally("by-category") == {"虚假宣传": "2", "乱收费": "1"}
    assert tally("by-status") == {"待受理": "2", "已受理": "1"}
    assert tally("by-deadline") == {"未到期": "3"}


def test_an_admin_merges_and_splits_and_staff_may_not(server):
    a_name, b_name = f"{brand()}职校", f"{brand()}教育咨询有限公司"
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        a = institution_id(c, forward(c, a_name)["number"])
        b_ticket = forward(c, b_name)
        b = institution_id(c, b_ticket["number"])
        assert a != b
        page = c.get(f"/console/institutions/{a}").text
        assert f'<option value="{b}">' in page  # the merge form offers the other institution
        r = c.post(f"/console/institutions/{a}/merge", data={"into": str(b), "csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == f"/console/institutions/{b}?done=merged"
        merged = c.get(f"/console/institutions/{b}").text
        assert a_name in merged and b_name in merged and '<span id="total">2</span>' in merged
        assert "并入" in merged and ADMIN_USER in merged.split('id="audit"')[1]  # who, when
        assert c.get(f"/console/institutions/{a}").headers["location"] == f"/console/institutions/{b}"
        assert "该机构已有1件投诉" in c.get(f"/console/t/{b_ticket['number']}").text
        again = c.post(f"/console/institutions/{a}/merge", data={"into": str(b), "csrf_token": csrf})
        assert again.status_code == 409 and "已经是同一机构" in again.text
        bad = c.post(f"/console/institutions/{a}/merge", data={"into": "x", "csrf_token": csrf})
        assert bad.status_code == 422 and "请选择要并入的机构" in bad.text
        assert c.post(f"/console/institutions/{a}/merge", data={"into": str(b)}).status_code == 403  # no CSRF

    user, password = add_staff(server, "staff", ("聊城",))
    with server.client(follow_redirects=False) as staff:
        staff_csrf = login(staff, user, password)
        assert 'id="merge"' not in staff.get(f"/console/institutions/{b}").text
        assert staff.post(f"/console/institutions/{a}/split", data={"csrf_token": staff_csrf}).status_code == 403
        assert staff.post(f"/console/institutions/{b}/merge",
                          data={"into": str(a), "csrf_token": staff_csrf}).status_code == 403

    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        r = c.post(f"/console/institutions/{a}/split", data={"csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == f"/console/institutions/{a}?done=split"
        alone = c.get(f"/console/institutions/{a}").text
        assert '<span id="total">1</span>' in alone and b_name not in alone.split('id="names"')[1].split("</ul>")[0]
        back = c.get(f"/console/institutions/{b}").text
        assert '<span id="total">1</span>' in back and "拆分" in back.split('id="audit"')[1]
        assert "该机构已有" not in c.get(f"/console/t/{b_ticket['number']}").text
        twice = c.post(f"/console/institutions/{a}/split", data={"csrf_token": csrf})
        assert twice.status_code == 409 and "无需拆分" in twice.text


# ---------------------------------------------------------------- statistics


@pytest.fixture(scope="module")
def stats_server(live_server):
    """A server of its own: the statistics count every ticket of the database."""
    return _server(live_server, "inst-stats")


def file_due_in_the_past(srv, institution: str, region: str = "聊城") -> str:
    """A complaint filed as if on a day five weeks ago (its deadlines passed) — the lifecycle's
    own filing with the clock set back (POLICYBOT_TODAY's setting)."""
    base = server_settings(srv)
    settings = Settings(data_dir=base.data_dir, database_url=base.database_url,
                        today=tickets.local_today(base) - timedelta(weeks=5))
    with session_scope(settings.db_url) as s:
        return tickets.file_complaint(s, settings, "o-" + uuid.uuid4().hex[:10], tickets.NewComplaint(
            institution=institution, category="虚假宣传", happened="2026年10月", place=region,
            description="宣传说培训后包分配工作，实际没有任何安排。", phone="13800138000")).number


def close(c, csrf, number):
    for action, text in (("accept", ""), ("reply", "经核查，已责令退费。"), ("close", "已退费。")):
        assert act(c, csrf, number, action, text=text).status_code == 303


def test_stats_count_closed_on_time_late_and_overdue_and_export_them(stats_server):
    x = brand()
    late, overdue = file_due_in_the_past(stats_server, f"{x}职校"), file_due_in_the_past(stats_server, f"{x}职业学校")
    with stats_server.client(follow_redirects=False) as c:
        csrf = login(c)
        on_time = forward(c, f"{x}职业培训学校", region="济源", category="乱收费")["number"]
        forward(c, f"{brand()}培训中心", region="济源", category="乱收费")  # open, not yet due
        close(c, csrf, late)
        close(c, csrf, on_time)
        page = c.get("/console/stats")
        assert page.status_code == 200 and page.text.count('<svg class="chart"') == 4
        assert "共 4 件投诉" in page.text and '<strong id="on-time">33.3%</strong>' in page.text
        top = re.search(r'id="top-institutions">(.*?)</ol>', page.text, re.S).group(1)
        assert top.index(f"{x}职校") < top.index("培训中心") and "3 件" in top
        export = c.get("/console/stats.csv")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0] == ["图表", "项目", "分类", "数量", "占比(%)"]
    deadline = {r[1]: (r[3], r[4]) for r in rows if r[0] == "办结时限"}
    assert deadline == {"按期办结": ("1", "33.3"), "超期办结": ("1", "33.3"), "超期未办结": ("1", "33.3"),
                        "未到期": ("1", "")}
    weekly = [r for r in rows if r[0] == "每周投诉（按类别）" and r[2] == "合计"]
    assert len(weekly) == 12 and [int(r[3]) for r in weekly] == [0] * 11 + [4]
    this_week = weekly[-1][1]
    by_category = {r[2]: r[3] for r in rows if r[0] == "每周投诉（按类别）" and r[1] == this_week}
    assert (by_category["虚假宣传"], by_category["乱收费"]) == ("2", "2")
    by_region = {r[2]: r[3] for r in rows if r[0] == "每周投诉（按地区）" and r[1] == this_week}
    assert by_region == {"合计": "4", "聊城": "2", "济源": "2"}
    institutions = [(r[1], r[3]) for r in rows if r[0] == "投诉最多的机构"]
    assert institutions[0] == (f"{x}职校", "3") and len(institutions) == 2

    user, password = add_staff(stats_server, "staff", ("济源",))
    with stats_server.client(follow_redirects=False) as c:
        login(c, user, password)
        mine = c.get("/console/stats").text
        assert "共 2 件投诉" in mine and '<strong id="on-time">100.0%</strong>' in mine and "您负责的地区：济源" in mine
        rows = list(csv.reader(io.StringIO(c.get("/console/stats.csv").text.lstrip("\ufeff"))))
        assert {r[2] for r in rows if r[0] == "每周投诉（按地区）"} == {"合计", "济源"}
    with stats_server.client(follow_redirects=False) as anonymous:
        assert anonymous.get("/console/stats.csv").status_code == 401
        assert anonymous.get("/console/stats").headers["location"] == "/console/login"


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280], ids=["phone", "desktop"])
def test_the_pages_fit_the_screen_in_chromium(stats_server, browser, width):
    with stats_server.client(follow_redirects=False) as c:
        login(c)
        number = forward(c, f"{brand()}职业培训学校（东昌府区分校）")["number"]
        inst = institution_id(c, number)
    with console_in_chromium(browser, stats_server.base_url, width) as page:
        assert fits(page)
        page.click("nav >> text=统计")
        page.wait_for_url(stats_server.base_url + "/console/stats")
        assert page.locator("svg.chart").count() == 4
        for chart in ("#chart-category", "#chart-deadline", "#chart-institutions"):
            box = page.locator(f"{chart} svg").bounding_box()
            assert 250 < box["width"] <= width and box["height"] > 10, (chart, box)
        assert page.locator("#chart-category svg rect").count() > 1
        assert fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/stats-{width}.png", full_page=True)
        page.goto(f"{stats_server.base_url}/console/institutions/{inst}")
        assert page.locator("#complaints .ticket-row").count() == 1
        assert page.locator("#merge select").count() == 1
        assert fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/institution-{width}.png", full_page=True)
        page.click("nav >> text=机构")
        page.wait_for_url(stats_server.base_url + "/console/institutions")
        assert fits(page)
        assert page.errors == []
