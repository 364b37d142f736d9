"""The notice lifecycle over HTTP against the real app (SQLite here, PostgreSQL under
`--db=postgres`): an uploaded notice with a changed figure is answered with it and keeps its
earlier version; withdrawn, the figure is gone from every answer and source list (/api/ask
answer, sources, choices, overview) — also after a restart and for `policybot notices` run
beside the server; restored, it is back; superseded, the new notice is quoted and a question
naming the old one gets its clause with “已被《…》替代”; an edited title is the citation at
once; a form rule citing a withdrawn notice is reported and cites it no more; refusals are
Chinese with 401/404/409/422 {detail, field}."""
from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.db
TOKEN = "lifecycle-admin-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

NOTICE = """{city}市人力资源和社会保障局文件

{doc}

关于做好{year}年{job}培训补贴发放工作的通知

各县市区人力资源和社会保障局：

一、补贴标准

（一）取得{job}特种作业操作证的学员，每人补贴{amount}元。

（二）补贴资金在审核通过后15个工作日内拨付到位。
{extra}
{city}市人力资源和社会保障局

{year}年3月1日
"""


def notice_text(city: str, job: str, amount: int, year: int = 2024, doc: str = "", extra: str = "") -> str:
    doc = doc or f"{city[0]}人社字〔{year}〕9号"
    return NOTICE.format(city=city, job=job, amount=amount, year=year, doc=doc, extra=extra)


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("lifecycle", POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_EMBEDDER="hash")


def upload(c, name: str, text: str) -> dict:
    r = c.post("/api/ingest", headers=AUTH, files={"files": (name, io.BytesIO(text.encode()), "text/plain")})
    assert r.status_code == 200, r.text
    return r.json()["report"]


def ask(c, question: str, region: str | None = None) -> dict:
    r = c.post("/api/ask", json={"question": question, **({"region": region} if region else {})})
    assert r.status_code == 200, r.text
    return r.json()


def everything_said(ans: dict) -> str:
    """Every text an answer shows or offers: the answer, 更多, its sources, its choices'."""
    parts = [ans["answer"], ans.get("more", "")]
    for src in ans["sources"] + [s for ch in ans["choices"] for s in ch["sources"]]:
        parts += [src["file"], src["title"], src["excerpt"]]
    for ch in ans["choices"]:
        parts += [ch["label"], ch["answer"]]
    return "\n".join(p or "" for p in parts)


def notice_of(c, file: str, seq: int = 0) -> dict:
    return next(n for n in c.get("/api/notices").json()["notices"] if n["file"] == file and n["seq"] == seq)


def act(c, notice_id: int, action: str, **body):
    return c.post(f"/api/notices/{notice_id}/{action}", json=body, headers=AUTH)


def test_withdraw_removes_a_changed_figure_everywhere_also_after_a_restart(srv):
    question = "潍坊低压电工证培训补贴多少钱？"
    with srv.client() as c:
        assert upload(c, "wf_lifecycle.txt", notice_text("潍坊", "低压电工", 1800)) == {"wf_lifecycle": "added"}
        assert "1800元" in ask(c, question)["answer"]
        assert upload(c, "wf_lifecycle.txt", notice_text("潍坊", "低压电工", 2600)) == {"wf_lifecycle": "updated"}
        ans = ask(c, question)
        assert "2600元" in ans["answer"] and "1800元" not in ans["answer"]
        assert ans["sources"][0]["file"] == "wf_lifecycle"
        n = notice_of(c, "wf_lifecycle")
        assert (n["status"], n["superseded_by"], n["doc_number"]) == ("生效", None, "潍人社字〔2024〕9号")

        detail = c.get(f"/api/notices/{n['id']}", headers=AUTH).json()
        newest, first = detail["versions"]  # the earlier version is kept, with the difference
        assert (newest["number"], newest["actor"], first["number"]) == (2, "api", 1)
        assert newest["added"] == newest["removed"] == 1
        assert "2600元" in newest["added_texts"][0] and "1800元" in newest["removed_texts"][0]
        assert any("1800元" in t for t in first["texts"])
        assert any("2600元" in ch["quoted"] for ch in detail["chunks"])
        assert [e["action"] for e in detail["events"]] == ["reingested", "ingested"]

        assert n["title"] in everything_said(ask(c, "潍坊有什么政策"))  # the place's notices (and 山东's)

        r = act(c, n["id"], "withdraw", reason="上传错了，文件未正式印发")
        assert r.status_code == 200, r.text
        assert r.json()["notice"]["status"] == "已撤回" and r.json()["affected_rules"] == []
        assert n["title"] not in everything_said(ask(c, "潍坊有什么政策"))
        for q, region in ((question, None), (question, "潍坊"), ("低压电工特种作业操作证补贴标准", None),
                          ("补贴资金多久拨付到位", "潍坊")):
            said = everything_said(ask(c, q, region))
            assert "2600元" not in said and "wf_lifecycle" not in said, (q, said)
        assert notice_of(c, "wf_lifecycle")["status"] == "已撤回"

    srv.stop()
    srv.start()
    with srv.client() as c:
        said = everything_said(ask(c, question))
        assert "2600元" not in said and "wf_lifecycle" not in said
        assert act(c, n["id"], "withdraw", reason="再撤一次").status_code == 409
        r = act(c, n["id"], "restore")
        assert r.status_code == 200 and r.json()["notice"]["status"] == "生效"
        ans = ask(c, question)
        assert "2600元" in ans["answer"] and ans["sources"][0]["file"] == "wf_lifecycle"
        assert n["title"] in everything_said(ask(c, "潍坊有什么政策"))
        actions = [e["action"] for e in c.get(f"/api/notices/{n['id']}", headers=AUTH).json()["events"]]
        assert actions[:2] == ["restored", "withdrawn"]


def test_supersede_quotes_the_new_notice_and_notes_the_old_one(srv):
    old_title = "关于做好2024年电梯安装维修工培训补贴发放工作的通知"
    repeal = f"\n三、本通知自印发之日起施行，《{old_title}》（淄人社字〔2024〕9号）同时废止。\n"
    with srv.client() as c:
        upload(c, "zb_old.txt", notice_text("淄博", "电梯安装维修工", 2600, 2024))
        upload(c, "zb_new.txt", notice_text("淄博", "电梯安装维修工", 3000, 2025, extra=repeal))
        old, new = notice_of(c, "zb_old"), notice_of(c, "zb_new")
        assert old["title"] == old_title
        assert new["suggested_supersedes"] == [old["id"]]  # from “…同时废止”, for the admin to confirm
        assert old["status"] == "生效"
        suggestion = c.get(f"/api/notices/{new['id']}", headers=AUTH).json()["suggestions"][0]
        assert suggestion["notice_id"] == old["id"] and "同时废止" in suggestion["quote"]

        r = act(c, old["id"], "supersede", by=new["id"], reason="新通知写明同时废止")
        assert r.status_code == 200, r.text
        assert (r.json()["notice"]["status"], r.json()["notice"]["superseded_by"]) == ("已被替代", new["id"])
        assert notice_of(c, "zb_new")["suggested_supersedes"] == []  # confirmed
        ans = ask(c, "淄博电梯安装维修工培训补贴多少钱？")
        assert "3000元" in ans["answer"] and "2600元" not in everything_said(ans)
        assert ans["sources"][0]["file"] == "zb_new"
        overview = everything_said(ask(c, "淄博有什么政策"))
        assert old_title not in overview and "2025年电梯安装维修工" in overview

        for q in ("淄人社字〔2024〕9号规定电梯安装维修工补贴多少钱？", "2024年淄博电梯安装维修工补贴多少钱？"):
            ans = ask(c, q)
            assert "2600元" in ans["answer"], (q, ans["answer"])
            assert f"已被《{new['title']}》替代" in ans["answer"]
            assert ans["sources"][0]["file"] == "zb_old"

        assert act(c, old["id"], "supersede", by=new["id"]).status_code == 409
        circle = act(c, new["id"], "supersede", by=old["id"])
        assert circle.status_code == 422 and circle.json()["field"] == "by"
        assert act(c, old["id"], "restore").json()["notice"]["status"] == "生效"  # no longer replaced
        assert notice_of(c, "zb_old")["superseded_by"] is None


def test_an_edited_title_is_the_citation_at_once(srv):
    question = "烟台焊工证培训补贴多少钱？"
    with srv.client() as c:
        upload(c, "yt_edit.txt", notice_text("烟台", "焊工", 1500))
        n = notice_of(c, "yt_edit")
        original = n["title"]
        new_title = "烟台市焊工培训补贴发放通知（修订标题）"
        r = c.patch(f"/api/notices/{n['id']}", headers=AUTH,
                    json={"title": new_title, "valid_until": "2030-12-31", "reason": "标题抽取不完整"})
        assert r.status_code == 200, r.text
        assert r.json()["notice"]["title"] == new_title and r.json()["notice"]["edited"] == ["title", "valid_until"]
        ans = ask(c, question)
        assert ans["sources"][0]["title"] == new_title and f"《{new_title}》" in ans["answer"]
        assert original not in everything_said(ans)
        detail = c.get(f"/api/notices/{n['id']}", headers=AUTH).json()
        assert detail["extracted"]["title"] == original  # the extractor's value, kept for audit
        edited = [e for e in detail["events"] if e["action"] == "edited"]
        assert {(e["field"], e["old"], e["new"], e["reason"]) for e in edited} == {
            ("title", original, new_title, "标题抽取不完整"), ("valid_until", None, "2030-12-31", "标题抽取不完整")}
        # a re-upload of a changed file keeps the admin's edit
        upload(c, "yt_edit.txt", notice_text("烟台", "焊工", 1700))
        ans = ask(c, question)
        assert "1700元" in ans["answer"] and ans["sources"][0]["title"] == new_title
        # the extractor's value again: the override goes
        r = c.patch(f"/api/notices/{n['id']}", headers=AUTH, json={"title": original})
        assert r.json()["notice"]["edited"] == ["valid_until"]


def test_withdrawing_a_notice_rules_cite_is_reported_and_it_is_cited_no_more(srv):
    facts = {"region": "山东 聊城", "enterprise_size": "小微", "industry": "制造业", "ownership": "民营",
             "hire_date": "2021-06-01", "months": 6}
    with srv.client() as c:
        lu33 = next(n for n in c.get("/api/notices").json()["notices"] if n["doc_number"] == "鲁人社字〔2021〕33号")
        before = c.post("/api/check/enterprise-yigong", json=facts).json()
        cited = [s["doc_number"] for r in before["reasons"] for s in r["sources"]]
        assert "鲁人社字〔2021〕33号" in cited
        r = act(c, lu33["id"], "withdraw", reason="测试：规则引用的通知被撤回")
        assert r.status_code == 200, r.text
        rules = {x["rule"] for x in r.json()["affected_rules"]}
        assert {"yigong.region", "yigong.window_closed"} <= rules
        assert all(x["notice_key"] == "lu_33" for x in r.json()["affected_rules"])
        after = c.post("/api/check/enterprise-yigong", json=facts).json()
        assert after["outcome"] == before["outcome"]
        assert "鲁人社字〔2021〕33号" not in [s["doc_number"] for r in after["reasons"] for s in r["sources"]]
        said = everything_said(ask(c, "以工代训补贴每人每月多少钱", "山东"))
        assert "鲁人社字〔2021〕33号" not in said
        assert act(c, lu33["id"], "restore").status_code == 200
        assert "鲁人社字〔2021〕33号" in [s["doc_number"] for r in c.post(
            "/api/check/enterprise-yigong", json=facts).json()["reasons"] for s in r["sources"]]


def test_refusals_are_chinese_with_their_status(srv):
    with srv.client() as c:
        some = c.get("/api/notices").json()["notices"][0]["id"]
        assert c.post(f"/api/notices/{some}/withdraw", json={"reason": "x"}).status_code == 401
        assert c.get(f"/api/notices/{some}").status_code == 401
        r = c.get("/api/notices/999999", headers=AUTH)
        assert r.status_code == 404 and "没有编号为 999999 的通知" in r.json()["detail"]
        assert act(c, 999999, "restore").status_code == 404
        for body, field in (({}, "reason"), ({"reason": "   "}, "reason"), ({"reason": "x", "extra": 1}, "extra")):
            r = act(c, some, "withdraw", **body)
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        r = act(c, some, "supersede", by=some)
        assert r.status_code == 422 and r.json() == {"detail": "通知不能替代它自己", "field": "by"}
        assert act(c, some, "supersede", by=999999).json()["field"] == "by"
        r = act(c, some, "restore")
        assert r.status_code == 409 and "无需恢复" in r.json()["detail"]
        for body, field in (({}, "body"), ({"date": "2021/05/10"}, "date"), ({"title": ""}, "title"),
                            ({"title": 5}, "title")):
            r = c.patch(f"/api/notices/{some}", json=body, headers=AUTH)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
        assert c.get("/api/notices/abc", headers=AUTH).status_code == 422


def test_the_cli_withdraws_and_the_running_server_follows(srv):
    question = "济宁叉车司机证培训补贴多少钱？"
    with srv.client() as c:
        upload(c, "jn_cli.txt", notice_text("济宁", "叉车司机", 1300))
        assert "1300元" in ask(c, question)["answer"]
        n = notice_of(c, "jn_cli")
    env = {**srv.env, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "bot.cli", "notices"]
    out = subprocess.run([*cli, "withdraw", str(n["id"]), "--reason", "命令行撤回", "--actor", "ops"], env=env,
                         cwd=str(srv.data_dir), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{n['id']}\t已撤回\tjn_cli")
    with srv.client() as c:
        deadline = time.time() + 10
        while "1300元" in everything_said(ask(c, question)) and time.time() < deadline:
            time.sleep(0.5)
        assert "1300元" not in everything_said(ask(c, question))
        event = c.get(f"/api/notices/{n['id']}", headers=AUTH).json()["events"][0]
        assert (event["actor"], event["action"], event["reason"]) == ("ops", "withdrawn", "命令行撤回")
    again = subprocess.run([*cli, "withdraw", str(n["id"]), "--reason", "x"], env=env, cwd=str(srv.data_dir),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "该通知已经撤回" in again.stderr
    listed = subprocess.run([*cli, "list", "--status", "已撤回"], env=env, cwd=str(srv.data_dir),
                            capture_output=True, text=True, timeout=300)
    assert f"{n['id']}\t已撤回\tjn_cli" in listed.stdout


def test_two_servers_on_one_database_withdraw_on_one_the_other_stops_quoting(live_server):
    """Two workers of one deployment: one data dir, one database (PostgreSQL under --db=postgres)."""
    first = live_server("pair-a", POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_EMBEDDER="hash")
    second = live_server("pair-b", POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_EMBEDDER="hash",
                         DATABASE_URL=first.database_url, POLICYBOT_DATA_DIR=str(first.data_dir / "data"))
    question = "临沂电工证培训补贴多少钱？"
    with first.client() as a, second.client() as b:
        upload(a, "ly_pair.txt", notice_text("临沂", "电工", 1900))
        deadline = time.time() + 10
        while "1900元" not in ask(b, question)["answer"] and time.time() < deadline:
            time.sleep(0.3)
        assert "1900元" in ask(b, question)["answer"]
        n = notice_of(b, "ly_pair")
        assert act(a, n["id"], "withdraw", reason="在一台上撤回").status_code == 200
        started = time.time()
        while "1900元" in everything_said(ask(b, question)) and time.time() - started < 10:
            time.sleep(0.2)
        assert "1900元" not in everything_said(ask(b, question))
        assert time.time() - started < 5  # within seconds
        assert notice_of(b, "ly_pair")["status"] == "已撤回"
        assert act(b, n["id"], "restore").status_code == 200
        deadline = time.time() + 10
        while "1900元" not in ask(a, question)["answer"] and time.time() < deadline:
            time.sleep(0.2)
        assert "1900元" in ask(a, question)["answer"]
