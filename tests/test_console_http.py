"""The staff console over HTTP against the real app: login, CSRF, roles and regions, masking and
logged reveals, actions reaching the follower through the fake WeChat API, filters, CSV."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import PendingPush, RevealLog, StaffSession, Ticket, TicketEvent
from tests.console_helpers import act, add_staff, file_ticket, login, server_settings

pytestmark = pytest.mark.db


@pytest.fixture
def admin(server):
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        yield c, csrf


def test_pages_need_a_login(server):
    t = file_ticket(server)
    with server.client(follow_redirects=False) as c:
        r = c.get("/console/")
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
        assert c.get(f"/console/t/{t.number}").status_code == 303
        assert act(c, "x", t.number, "accept").status_code == 401
        assert c.get("/console/export.csv").status_code == 401


def test_login_rejects_bad_password_and_missing_csrf(server):
    with server.client(follow_redirects=False) as c:
        page = c.get("/console/login")
        assert "HttpOnly" in page.headers["set-cookie"]
        r = c.post("/console/login", data={"username": "admin", "password": "wrong", "login_csrf": "x"})
        assert r.status_code == 403  # no matching login-csrf cookie
        import re
        token = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/console/login").text).group(1)
        r = c.post("/console/login", data={"username": "admin", "password": "wrong", "login_csrf": token})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
        assert "pb_console" not in c.cookies


def test_authenticate_says_why_a_login_failed(request, tmp_path):
    """The reason goes to the audit trail, so the login route need not look the account up again."""
    from bot.console import auth
    from tests.conftest import database_settings

    settings = database_settings(request.config, tmp_path / "data")
    with session_scope(settings.db_url) as s:
        auth.create_user(s, "li", "li-pass-123", "staff", ["济源"])
        gone = auth.create_user(s, "gone", "gone-pass-123", "staff", ["济源"])
        gone.active = False
    with session_scope(settings.db_url) as s:
        found = auth.authenticate(s, " li ", "li-pass-123")
        assert found.user is not None and found.user.username == "li" and found.reason == ""
        outcomes = {name: auth.authenticate(s, name, pw) for name, pw in
                    (("li", "wrong-pass"), ("nobody", "li-pass-123"), ("gone", "gone-pass-123"))}
    assert {name: (r.user, r.reason, r.audit_detail) for name, r in outcomes.items()} == {
        "li": (None, "bad_password", ""), "nobody": (None, "unknown", "无此账号"),
        "gone": (None, "inactive", "账号已停用")}


def test_session_cookie_is_httponly_samesite_and_stored_hashed(server):
    with server.client(follow_redirects=False) as c:
        login(c)
        token = c.cookies["pb_console"]
    with server.client(follow_redirects=False) as c:
        import re
        lt = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/console/login").text).group(1)
        r = c.post("/console/login", data={"username": "admin", "password": "admin-pass-123", "login_csrf": lt})
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    with session_scope(server_settings(server).db_url) as s:
        hashes = [row.token_hash for row in s.exec(select(StaffSession))]
        assert token not in hashes and len(hashes) >= 2


def test_post_without_csrf_token_changes_nothing(server, admin):
    c, csrf = admin
    t = file_ticket(server)
    r = act(c, "forged", t.number, "accept")
    assert r.status_code == 403
    with session_scope(server_settings(server).db_url) as s:
        assert s.get(Ticket, t.id).status == "待受理"
    assert act(c, csrf, t.number, "accept").status_code == 303
    with session_scope(server_settings(server).db_url) as s:
        assert s.get(Ticket, t.id).status == "已受理"


def test_staff_see_only_their_regions(server):
    jiyuan = file_ticket(server, place="济源", institution="济源甲培训中心")
    liaocheng = file_ticket(server, place="聊城", institution="聊城乙培训学校", description="<b>粗体</b>乙学校乱收费很多钱")
    user, pw = add_staff(server, "staff", ("济源",))
    with server.client(follow_redirects=False) as c:
        csrf = login(c, user, pw)
        queue = c.get("/console/").text
        assert jiyuan.number in queue and liaocheng.number not in queue
        assert c.get(f"/console/t/{jiyuan.number}").status_code == 200
        r = c.get(f"/console/t/{liaocheng.number}")
        assert r.status_code == 403 and "乙学校" not in r.text
        assert act(c, csrf, liaocheng.number, "accept").status_code == 403
        assert c.post(f"/console/t/{liaocheng.number}/reveal", data={"csrf_token": csrf}).status_code == 403
        assert c.get("/console/?region=聊城").text.count(liaocheng.number) == 0
        assert c.get("/console/export.csv").status_code == 403  # supervisors and admins only
        assert c.get("/console/staff").status_code == 403
    with session_scope(server_settings(server).db_url) as s:
        assert s.get(Ticket, liaocheng.id).status == "待受理"


def test_phone_masked_until_a_logged_reveal(server, admin):
    c, csrf = admin
    t = file_ticket(server, phone="13912345678")
    assert "139****5678" in c.get("/console/").text
    page = c.get(f"/console/t/{t.number}").text
    assert "139****5678" in page and "13912345678" not in page
    r = c.post(f"/console/t/{t.number}/reveal", data={"csrf_token": csrf})
    assert r.status_code == 200 and "13912345678" in r.text
    assert r.headers["cache-control"] == "no-store"
    with session_scope(server_settings(server).db_url) as s:
        logs = s.exec(select(RevealLog).where(RevealLog.ticket_id == t.id)).all()
        assert [x.username for x in logs] == ["admin"]
        ev = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "revealed")).one()
        assert ev.public is False
    assert "13912345678" not in c.get(f"/console/t/{t.number}").text


def test_complaint_text_is_escaped(server, admin):
    c, _ = admin
    t = file_ticket(server, institution="<script>alert(1)</script>学校", description="<img src=x onerror=alert(2)>乱收费")
    r = c.get(f"/console/t/{t.number}")
    page = r.text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src 'none'" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    assert "<img src=x" not in page
    assert "<script>alert(1)" not in c.get("/console/").text
    assert c.get("/console/", params={"page": "abc", "status": "<x>"}).status_code == 200  # junk: no 500


def test_reply_and_close_reach_the_follower(server, admin, fake_wechat):
    c, csrf = admin
    openid = "o-reply-" + str(id(c))
    t = file_ticket(server, openid=openid)
    assert act(c, csrf, t.number, "accept").status_code == 303
    assert act(c, csrf, t.number, "note", text="内部：机构负责人电话已核实").status_code == 303
    assert act(c, csrf, t.number, "reply", text="已约谈机构，责令整改。").status_code == 303
    sent = fake_wechat.sent_messages(openid)
    assert len(sent) == 1 and "已约谈机构，责令整改。" in sent[0]["text"]["content"] and t.number in sent[0]["text"]["content"]
    assert all("内部" not in m["text"]["content"] for m in sent)
    assert act(c, csrf, t.number, "close", text="").status_code == 303
    sent = fake_wechat.sent_messages(openid)
    assert len(sent) == 2 and "已办结" in sent[1]["text"]["content"] and "5" in sent[1]["text"]["content"]
    page = c.get(f"/console/t/{t.number}").text
    assert "已办结" in page and "内部：机构负责人电话已核实" in page and "已通过客服消息送达投诉人" in page
    # a closed ticket cannot be replied to again
    r = act(c, csrf, t.number, "reply", text="再答复一次")
    assert r.status_code == 409 and "不能执行此操作" in r.text


def test_reply_outside_the_48h_window_is_kept(server, admin, fake_wechat):
    c, csrf = admin
    openid = "o-window-" + str(id(c))
    t = file_ticket(server, openid=openid)
    act(c, csrf, t.number, "accept")
    fake_wechat.fail_next("/cgi-bin/message/custom/send", 45015)
    assert act(c, csrf, t.number, "reply", text="窗口外的答复").status_code == 303
    assert fake_wechat.sent_messages(openid) == []
    with session_scope(server_settings(server).db_url) as s:
        kept = s.exec(select(PendingPush).where(PendingPush.openid == openid)).all()
        assert len(kept) == 1 and "窗口外的答复" in kept[0].text and kept[0].delivered_at is None
        assert s.get(Ticket, t.id).status == "已答复"
    assert "暂未送达" in c.get(f"/console/t/{t.number}").text  # staff see it is not delivered yet


def test_transfer_assign_and_filters(server, admin):
    c, csrf = admin
    t = file_ticket(server, place="济源", category="擅自开班", institution="筛选测试机构")
    assert act(c, csrf, t.number, "transfer", team="lc-skills", text="").status_code == 409
    assert act(c, csrf, t.number, "transfer", team="lc-skills", text="机构注册地在聊城").status_code == 303
    assert act(c, csrf, t.number, "accept").status_code == 303
    assert act(c, csrf, t.number, "assign", assignee="no-such-user").status_code == 409
    assert act(c, csrf, t.number, "assign", assignee="admin").status_code == 303
    with session_scope(server_settings(server).db_url) as s:
        row = s.get(Ticket, t.id)
        assert (row.status, row.team, row.region, row.assignee) == ("办理中", "lc-skills", "聊城", "admin")
    assert t.number in c.get("/console/", params={"status": "办理中", "region": "聊城", "category": "擅自开班"}).text
    assert t.number not in c.get("/console/", params={"status": "待受理"}).text
    assert t.number not in c.get("/console/", params={"region": "济源"}).text
    assert t.number in c.get("/console/", params={"mine": "1"}).text
    assert t.number not in c.get("/console/", params={"overdue": "1"}).text
    with session_scope(server_settings(server).db_url) as s:
        row = s.get(Ticket, t.id)
        row.answer_due = date(2020, 1, 1)
        s.add(row)
    r = c.get("/console/", params={"overdue": "1"})
    assert t.number in r.text and "逾期" in r.text


def test_csv_export_for_supervisors_masks_phones(server):
    t = file_ticket(server, institution="=HYPERLINK(\"http://evil\")", phone="13700001111")
    user, pw = add_staff(server, "supervisor", ())
    with server.client(follow_redirects=False) as c:
        login(c, user, pw)
        r = c.get("/console/export.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0][0] == "编号"
        mine = [row for row in rows if row[0] == t.number]
        assert len(mine) == 1
        assert "137****1111" in mine[0] and "13700001111" not in r.text
        assert mine[0][5].startswith("'=")  # no formula injection


def test_admin_adds_staff_and_validates(server, admin):
    c, csrf = admin
    r = c.post("/console/staff", data={"username": "nobody", "password": "short", "role": "staff",
                                       "regions": ["济源"], "csrf_token": csrf})
    assert r.status_code == 400 and "密码至少" in r.text
    r = c.post("/console/staff", data={"username": "noregion", "password": "long-enough-1", "role": "staff",
                                       "csrf_token": csrf})
    assert r.status_code == 400 and "地区" in r.text
    r = c.post("/console/staff", data={"username": "forged", "password": "long-enough-1", "role": "admin",
                                       "csrf_token": "nope"})
    assert r.status_code == 403
    user, pw = add_staff(server, "staff", ("聊城", "临沂"))
    with server.client(follow_redirects=False) as s:
        login(s, user, pw)


def test_logout_ends_the_session_in_the_database(server):
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        token = c.cookies["pb_console"]
        assert c.post("/console/logout", data={"csrf_token": csrf}).status_code == 303
    with server.client(follow_redirects=False, cookies={"pb_console": token}) as c:
        assert c.get("/console/").status_code == 303


def test_two_staff_accepting_at_once_accept_once(server):
    import concurrent.futures as cf

    t = file_ticket(server)
    clients = []
    for _ in range(5):
        c = server.client(follow_redirects=False)
        clients.append((c, login(c)))
    try:
        with cf.ThreadPoolExecutor(len(clients)) as pool:
            codes = list(pool.map(lambda cc: act(cc[0], cc[1], t.number, "accept").status_code, clients))
    finally:
        for c, _ in clients:
            c.close()
    assert sorted(codes) == [303, 409, 409, 409, 409]
    with session_scope(server_settings(server).db_url) as s:
        actions = s.exec(select(TicketEvent.action).where(TicketEvent.ticket_id == t.id)).all()
        assert actions.count("accepted") == 1
