"""The work-order API over HTTP against a live server (SQLite, and PostgreSQL under --db=postgres):
a forwarded complaint filed, routed and timed like the chat's, once per source + external_id;
the list and the detail masked, with the timeline; every staff action by the console's rules
(403 for another region or role, 409 for a wrong state, 422 {detail, field} for bad input);
staff tokens made and revoked on the console and with `policybot tokens`; and a reply reaching
a WeChat follower through the fake WeChat API after the commit."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from bot.tickets.delivery import DELIVERED, NO_FOLLOWER
from storage.db import session_scope
from storage.models import RevealLog, Ticket
from tests.conftest import ROOT, TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN
from tests.console_helpers import add_staff, login, server_settings
from tests.test_complaints_wechat import NUMBER_RE, file_complaint
from tests.wechat_util import new_openid, platform_for

pytestmark = pytest.mark.db

ADMIN_TOKEN = "orders-admin-token-123"
TOKEN_RE = re.compile(r'<code id="token">([^<]+)</code>')


@pytest.fixture(scope="module")
def server(live_server):
    """This module's server: WeChat credentials (replies are pushed to the fake API), an admin
    account for the console, and the admin token."""
    return live_server("orders", WECHAT_TOKEN=TEST_TOKEN, WECHAT_AES_KEY=TEST_AES_KEY, WECHAT_APPID=TEST_APPID,
                       WECHAT_SECRET=TEST_SECRET, POLICYBOT_ADMIN_USER="admin", POLICYBOT_ADMIN_PASSWORD="admin-pass-123",
                       POLICYBOT_ADMIN_TOKEN=ADMIN_TOKEN)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)


def case(**kw) -> dict:
    body = dict(source="12345", external_id=uuid.uuid4().hex[:12], institution="阳光职业培训学校", category="乱收费",
                region="临清", description="报名时承诺免费培训，结业时每人收取八百元材料费，不给收据。",
                happened="2026年11月", place="临清市新华路8号", phone="13912345678")
    body.update(kw)
    return body


def staff_token(srv, role="staff", regions=("济源",)) -> tuple[str, str]:
    """An account made on the admin page and a token for it made on the tokens page: (username, token)."""
    username, _ = add_staff(srv, role, regions)
    with srv.client(follow_redirects=False) as c:
        csrf = login(c)
        page = c.get("/console/tokens")
        assert page.status_code == 200 and username in page.text
        made = c.post("/console/tokens", data={"username": username, "name": "12345 平台", "csrf_token": csrf})
        assert made.status_code == 200, made.text
        token = TOKEN_RE.search(made.text).group(1)
        listing = c.get("/console/tokens").text
        assert token not in listing and token[:8] + "…" in listing  # shown once, then masked
    return username, token


def forward(c, headers=ADMIN, **kw):
    return c.post("/api/tickets", json=case(**kw), headers=headers)


def test_forwarded_complaint_is_filed_once(server):
    with server.client() as c:
        body = case()
        first = c.post("/api/tickets", json=body, headers=ADMIN)
        assert first.status_code == 201, first.text
        t = first.json()
        assert t["number"].startswith("TS") and t["status"] == "待受理"
        # routed like the chat's: 临清 is 聊城's, 乱收费 goes to the inspectors; timed in working days
        assert (t["region"], t["team"], t["source"], t["external_id"]) == ("聊城", "lc-inspection", "12345",
                                                                           body["external_id"])
        assert t["accept_due"] > datetime.now(timezone.utc).date().isoformat()
        assert t["phone"] == "139****5678" and "13912345678" not in first.text
        assert [(e["kind"], e["actor"]) for e in t["timeline"]] == [("created", "管理口令（API）")]
        assert "来自12345" in t["timeline"][0]["text"] and t["timeline"][0]["at"]

        again = c.post("/api/tickets", json={**body, "description": "同一案件再次推送，内容略有不同也不另立。"}, headers=ADMIN)
        assert again.status_code == 200 and again.json()["number"] == t["number"]
        assert again.json()["description"] == first.json()["description"]
        other = forward(c, external_id=body["external_id"], source="信件")  # another system's number space
        assert other.status_code == 201 and other.json()["number"] != t["number"]
    with session_scope(server_settings(server).db_url) as s:
        rows = s.exec(select(Ticket).where(Ticket.external_id == body["external_id"])).all()
        assert sorted(r.source for r in rows) == ["12345", "信件"]
        mine = next(r for r in rows if r.source == "12345")
        assert (mine.phone, mine.openid, mine.region_text) == ("13912345678", "", "山东聊城临清 临清市新华路8号")


def test_the_same_case_forwarded_at_once_is_filed_once(server):
    body = case()

    def post(_):
        with server.client() as c:
            return c.post("/api/tickets", json=body, headers=ADMIN)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(post, range(6)))
    assert sorted(r.status_code for r in answers) == [200] * 5 + [201], [r.text for r in answers]
    assert len({r.json()["number"] for r in answers}) == 1
    with session_scope(server_settings(server).db_url) as s:
        assert len(s.exec(select(Ticket).where(Ticket.external_id == body["external_id"])).all()) == 1


def test_forwarding_refuses_bad_input_and_bad_tokens(server):
    with server.client() as c:
        for fields, field, words in [
            (dict(description="太短了"), "description", "至少 10 字"),
            (dict(description="            十个空格不算描述"), "description", "至少10个字"),
            (dict(category="随便"), "category", ""),
            (dict(phone="12345"), "phone", ""),
            (dict(institution="  x "), "institution", "被投诉机构"),
            (dict(place="x"), "place", "具体地点"),
            (dict(source=""), "source", ""),
            (dict(external_id="a\x00b"), "external_id", "空字符"),
        ]:
            r = forward(c, **fields)
            assert r.status_code == 422, (fields, r.text)
            assert r.json()["field"] == field and re.search(r"[\u4e00-\u9fff]", r.json()["detail"]), r.json()
            assert words in r.json()["detail"], r.json()
        assert c.post("/api/tickets", json=case()).status_code == 401
        wrong = c.post("/api/tickets", json=case(), headers=bearer("pbt_not-a-token"))
        assert wrong.status_code == 401 and "令牌" in wrong.json()["detail"]
        assert c.get("/api/tickets", headers=bearer("wrong")).status_code == 401
    with session_scope(server_settings(server).db_url) as s:
        assert s.exec(select(Ticket).where(Ticket.institution == "x")).first() is None


def test_a_staff_token_sees_and_files_in_its_regions_only(server):
    _, token = staff_token(server, regions=("济源",))
    mine = bearer(token)
    with server.client() as c:
        liaocheng = forward(c).json()["number"]
        jiyuan = forward(c, headers=mine, region="济源", place="济源市北海街道").json()
        assert jiyuan["region"] == "济源" and jiyuan["team"] == "jy-skills"
        refused = forward(c, headers=mine, region="聊城")
        assert refused.status_code == 403 and "负责的地区" in refused.json()["detail"]
        assert c.get(f"/api/tickets/{liaocheng}", headers=mine).status_code == 403
        seen = c.get("/api/tickets", headers=mine, params={"per_page": 200}).json()
        assert {t["region"] for t in seen["items"]} == {"济源"} and jiyuan["number"] in {t["number"] for t in seen["items"]}
        # the admin token sees all; filters and pages
        everything = c.get("/api/tickets", headers=ADMIN, params={"region": "聊城", "status": "待受理"}).json()
        assert liaocheng in [t["number"] for t in everything["items"]]
        assert all(t["region"] == "聊城" and t["status"] == "待受理" for t in everything["items"])
        assert all(t["phone"] in ("139****5678", "匿名") for t in everything["items"])
        assert "13912345678" not in c.get("/api/tickets", headers=ADMIN).text
        paged = c.get("/api/tickets", headers=ADMIN, params={"per_page": 1, "page": 2}).json()
        assert len(paged["items"]) == 1 and paged["pages"] == paged["total"] >= 3
        later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        assert c.get("/api/tickets", headers=ADMIN, params={"since": later}).json()["total"] == 0
        bad = c.get("/api/tickets", headers=ADMIN, params={"status": "随便"})
        assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_the_full_phone_only_on_a_logged_reveal(server):
    """`?reveal=phone` shows the full number to an account that may reveal it (the console's rule:
    a ticket of its regions), logged in RevealLog and on the timeline as the console's reveal;
    masked otherwise, and nothing logged."""
    username, token = staff_token(server, regions=("济源",))
    mine = bearer(token)
    with server.client() as c:
        number = forward(c, region="济源", place="济源市北海街道", phone="13712345678").json()["number"]
        anonymous = forward(c, region="济源", place="济源市北海街道", phone=None).json()["number"]
        elsewhere = forward(c).json()["number"]  # 聊城's: not this account's region
        plain = c.get(f"/api/tickets/{number}", headers=mine)
        assert plain.json()["phone"] == "137****5678" and "13712345678" not in plain.text
        assert c.get(f"/api/tickets/{elsewhere}", headers=mine, params={"reveal": "phone"}).status_code == 403
        bad = c.get(f"/api/tickets/{number}", headers=mine, params={"reveal": "id_number"})
        assert bad.status_code == 422 and bad.json()["field"] == "reveal"
        assert c.get(f"/api/tickets/{anonymous}", headers=mine, params={"reveal": "phone"}).json()["phone"] == "匿名"
        shown = c.get(f"/api/tickets/{number}", headers=mine, params={"reveal": "phone"}).json()
        assert shown["phone"] == "13712345678"
        assert [(e["kind"], e["text"], e["actor"]) for e in shown["timeline"] if e["kind"] == "revealed"] == [
            ("revealed", "查看了完整手机号", f"{username}（API）")]
        assert c.get(f"/api/tickets/{number}", headers=mine).json()["phone"] == "137****5678"  # one reveal, one answer
    with session_scope(server_settings(server).db_url) as s:
        logged = s.exec(select(RevealLog, Ticket).where(RevealLog.ticket_id == Ticket.id,
                                                        Ticket.number.in_((number, anonymous, elsewhere)))).all()
        assert [(row.username, t.number) for row, t in logged] == [(username, number)]
        assert logged[0][0].ip == "127.0.0.1"


def test_every_action_by_the_consoles_rules(server):
    staff, token = staff_token(server, regions=("聊城",))
    mine = bearer(token)
    _, supervisor = staff_token(server, role="supervisor", regions=())
    with server.client() as c:
        number = forward(c, phone=None).json()["number"]

        def do(action, headers=mine, **fields):
            return c.post(f"/api/tickets/{number}/actions", json={"action": action, **fields}, headers=headers)

        early = do("reply", text="还没受理就答复")
        assert early.status_code == 409 and "不能执行此操作" in early.json()["detail"]
        accepted = do("accept")
        assert accepted.status_code == 200 and accepted.json()["status"] == "已受理"
        assert "reply" in accepted.json()["actions"] and "return" not in accepted.json()["actions"]
        stranger = do("assign", assignee="nobody-here")
        assert stranger.status_code == 422 and stranger.json()["field"] == "assignee"
        assert do("assign", assignee=staff).json()["assignee"] == staff
        assert do("note", text="").json()["field"] == "text"
        assert do("note", text="已电话联系机构负责人").status_code == 200
        assert do("transfer", team="no-such-team", text="转错").json()["field"] == "team"
        asked = do("ask", text="是否保留了押金收据？")  # forwarded with no WeChat contact: nobody to ask
        assert asked.status_code == 422 and "无法向投诉人提问" in asked.json()["detail"]
        assert asked.json()["field"] == "action"
        assert do("dance").status_code == 422
        replied = do("reply", text="经核查属实，已责令该校退还材料费。")
        assert replied.json()["status"] == "已答复"
        returned = do("return", text="请补充退费凭证")
        assert returned.status_code == 403 and "角色" in returned.json()["detail"]
        assert do("return", headers=bearer(supervisor), text="请补充退费凭证").json()["status"] == "退回"
        assert do("reply", text="已退还全部材料费，附凭证。").json()["status"] == "已答复"
        closed = do("close", text="机构已退费，办结。")
        assert closed.json()["status"] == "已办结" and closed.json()["closed_at"]
        assert do("accept").status_code == 409
        assert c.post("/api/tickets/TS20990101-000000/actions", json={"action": "accept"}, headers=mine).status_code == 404

        detail = c.get(f"/api/tickets/{number}", headers=mine).json()
        kinds = [e["kind"] for e in detail["timeline"]]
        assert kinds[:4] == ["created", "accepted", "assigned", "note"]
        assert kinds.count("reply") == 2 and "returned" in kinds and "closed" in kinds
        assert NO_FOLLOWER in [e["text"] for e in detail["timeline"] if e["kind"] == "delivery"]  # no openid
        note = next(e for e in detail["timeline"] if e["kind"] == "note")
        assert (note["text"], note["actor"], note["label"], note["public"]) == ("已电话联系机构负责人", f"{staff}（API）",
                                                                              "内部备注", False)
        assert detail["actions"] == ["note"] and detail["phone"] == "匿名"
    # the console shows the same ticket and its API-made trail
    with server.client(follow_redirects=False) as c:
        login(c)
        page = c.get(f"/console/t/{number}").text
        assert "已办结" in page and "已电话联系机构负责人" in page and f"{staff}（API）" in page


def test_a_revoked_token_stops_working(server):
    _, token = staff_token(server, regions=("济源",))
    with server.client(follow_redirects=False) as c:
        assert c.get("/api/tickets", headers=bearer(token)).status_code == 200
        csrf = login(c)
        page = c.get("/console/tokens").text
        token_id = re.search(rf'<code>{re.escape(token[:8])}…</code>.*?/console/tokens/(\d+)/revoke', page, re.S).group(1)
        assert c.post(f"/console/tokens/{token_id}/revoke", data={"csrf_token": "wrong"}).status_code == 403
        assert c.get("/api/tickets", headers=bearer(token)).status_code == 200
        assert c.post(f"/console/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 303
        assert "已于" in c.get("/console/tokens").text
        gone = c.get("/api/tickets", headers=bearer(token))
        assert gone.status_code == 401 and "已撤销" in gone.json()["detail"]


def test_tokens_from_the_command_line(server):
    username, _ = add_staff(server, "staff", ("文水",))
    env = {**server.env, "PYTHONPATH": str(ROOT)}

    def policybot(*args):
        return subprocess.run([sys.executable, "-m", "bot.cli", "tokens", *args], env=env, cwd=server.data_dir,
                              capture_output=True, text=True, timeout=60)

    made = policybot("create", "--user", username, "--name", "案件系统")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("pbt_") and "只显示这一次" in made.stderr
    with server.client() as c:
        assert c.get("/api/tickets", headers=bearer(token)).status_code == 200
        listing = policybot("list")
        assert token not in listing.stdout and token[:8] + "…" in listing.stdout and username in listing.stdout
        row = next(line for line in listing.stdout.splitlines() if token[:8] in line)
        assert policybot("revoke", row.split("\t")[0]).returncode == 0
        assert c.get("/api/tickets", headers=bearer(token)).status_code == 401
    refused = policybot("create", "--user", "no-such-user")
    assert refused.returncode == 1 and "没有账号" in refused.stderr


def test_a_reply_reaches_the_wechat_follower_after_the_commit(server, fake_wechat):
    p = platform_for(server)
    openid = new_openid("oorder")
    number = NUMBER_RE.search(file_complaint(p, openid)).group(1)
    with server.client() as c:
        listed = c.get("/api/tickets", headers=ADMIN, params={"region": "聊城"}).json()["items"]
        assert number in [t["number"] for t in listed]
        detail = c.get(f"/api/tickets/{number}", headers=ADMIN).json()
        assert detail["source"] is None and detail["openid"] == openid[:6] + "…" and openid not in str(detail)
        assert c.post(f"/api/tickets/{number}/actions", json={"action": "accept"}, headers=ADMIN).status_code == 200
        note = c.post(f"/api/tickets/{number}/actions", json={"action": "note", "text": "内部：机构电话已核实"}, headers=ADMIN)
        assert note.status_code == 200
        reply = c.post(f"/api/tickets/{number}/actions", json={"action": "reply", "text": "经12345转办核查，已责令退费。"},
                       headers=ADMIN)
        assert reply.status_code == 200
        delivery = [e["text"] for e in reply.json()["timeline"] if e["kind"] == "delivery"]
        assert delivery == [DELIVERED]  # delivered before the response: after the commit, as the console does
        asked = c.post(f"/api/tickets/{number}/actions", json={"action": "ask", "text": "是否保留了押金收据？"},
                       headers=ADMIN)
        assert asked.status_code == 200
        assert [e["kind"] for e in asked.json()["timeline"]][-2:] == ["asked", "delivery"]
    sent = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
    assert any("是否保留了押金收据？" in x for x in sent)
    assert "已补充到投诉 " + number in p.say(openid, "收据还在，我拍照了")
    assert any(number in x and "经12345转办核查，已责令退费。" in x for x in sent)
    assert not any("内部：机构电话已核实" in x for x in sent)
    assert "经12345转办核查" in p.say(openid, f"进度 {number}")


def test_the_admin_token_unset_still_takes_staff_tokens(live_server):
    srv = live_server("orders-notoken", POLICYBOT_ADMIN_USER="admin", POLICYBOT_ADMIN_PASSWORD="admin-pass-123")
    _, token = staff_token(srv, regions=("临沂",))
    with srv.client() as c:
        assert c.get("/api/tickets", headers=bearer(token)).status_code == 200
        assert c.get("/api/tickets", headers=bearer("orders-admin-token-123")).status_code == 401  # not set here
        made = forward(c, headers=bearer(token), region="临沂", place="兰山区", phone=None)
        assert made.status_code == 201 and made.json()["team"] == "ly-skills"
