"""The unanswered-question loop over HTTP against the real app (SQLite here, PostgreSQL again
under `--db=postgres`): a question the notices do not answer is listed by GET /api/unanswered
(admin token only), with a phone and an ID number masked; linked to the clause that answers it,
the question and a paraphrase are answered with that clause, cited as usual, until the taught
answer is removed; a standard answer must cite a clause (422 in Chinese) and then answers with
its text and that clause's citation; out of scope answers as a refusal with the pointer; 没用
in the chat marks the answer unhelpful and offers the complaint (1) or a human (2)."""
from __future__ import annotations

import pytest
from sqlalchemy import text as sql

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.wechat_util import WECHAT_ENV, new_openid, server_engine, wait_for

pytestmark = pytest.mark.db

TOKEN = "unanswered-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GAP = "补贴审核要多长时间"  # the notices say it (002: 7个工作日内完成受理及审核), the ranker refuses it
PARAPHRASE = "审核补贴需要多少天"
CLAUSE = "7个工作日内完成受理及审核"


@pytest.fixture(scope="module")
def server(live_server):
    env = {**WECHAT_ENV, "POLICYBOT_EMBEDDER": None}  # the bundled embedder: paraphrases by meaning
    return live_server("unanswered", POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_ADMIN_USER=ADMIN_USER,
                       POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD, **env)


def ask(http, question: str) -> dict:
    r = http.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def listed(http, needle: str) -> dict | None:
    items = http.get("/api/unanswered", headers=AUTH).json()["items"]
    return next((it for it in items if needle in it["question"] or needle in it["phrasings"]), None)


def wait_listed(http, needle: str) -> dict:
    item = wait_for(lambda: listed(http, needle), timeout=20)
    assert item, f"{needle} not in /api/unanswered"
    return item


def chunk_with(http, text: str) -> dict:
    return next(c for c in http.get("/api/chunks").json()["chunks"] if text in c["text"])


def test_the_list_needs_the_admin_token(http):
    assert http.get("/api/unanswered").status_code == 401
    r = http.get("/api/unanswered", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "管理口令" in r.json()["detail"]
    assert http.get("/api/taught").status_code == 401
    assert http.post("/api/unanswered/1/dismiss", json={"pointer": "12333"}).status_code == 401


def test_a_gap_is_listed_linked_and_then_answered_with_that_clause(http):
    assert ask(http, GAP)["refused"]
    item = wait_listed(http, GAP)
    assert set(item) >= {"id", "question", "count", "last_asked", "kind"}
    assert item["kind"] == "refused" and item["count"] >= 1 and item["last_asked"].endswith("+00:00")
    ask(http, GAP + "？")  # the same question again: counted in the same item
    assert wait_for(lambda: (listed(http, GAP) or {}).get("count", 0) >= item["count"] + 1)

    chunk = chunk_with(http, CLAUSE)
    r = http.post(f"/api/unanswered/{item['id']}/link", json={"chunk_id": chunk["id"]}, headers=AUTH)
    assert r.status_code == 200, r.text
    taught = r.json()
    assert taught["action"] == "link" and taught["chunk_ids"] == [chunk["id"]] and taught["active"]

    for question in (GAP, PARAPHRASE):
        ans = ask(http, question)
        assert not ans["refused"], (question, ans)
        assert CLAUSE in ans["answer"], ans["answer"]
        assert ans["sources"] and ans["sources"][0]["file"] == chunk["file"]
        assert "——《" in ans["answer"]  # cited as usual
    assert listed(http, GAP) is None  # taught: off the list
    assert any(t["id"] == taught["id"] for t in http.get("/api/taught", headers=AUTH).json()["items"])

    assert http.delete(f"/api/taught/{taught['id']}", headers=AUTH).json() == {"removed": taught["id"]}
    assert http.delete(f"/api/taught/{taught['id']}", headers=AUTH).status_code == 404
    assert wait_for(lambda: ask(http, GAP)["refused"], timeout=5)  # forgotten: refused again


def test_a_standard_answer_must_cite_a_clause(http):
    question = "培训补贴可以用来交学费吗"
    assert ask(http, question)["refused"]
    item = wait_listed(http, question)
    url = f"/api/unanswered/{item['id']}/answer"
    for body in ({"text": "可以抵扣。"}, {"text": "可以抵扣。", "chunk_ids": []}):
        r = http.post(url, json=body, headers=AUTH)
        assert r.status_code == 422 and "至少一条政策条款" in r.json()["detail"], r.text
    r = http.post(url, json={"text": "可以抵扣。", "chunk_ids": [99999999]}, headers=AUTH)
    assert r.status_code == 422 and "没有编号为 99999999 的政策条款" in r.json()["detail"]
    assert http.post(f"/api/unanswered/99999999/answer", json={"text": "x", "chunk_ids": [1]},
                     headers=AUTH).status_code == 404

    chunk = chunk_with(http, CLAUSE)
    text = "培训补贴按规定拨付，具体以当地人社部门审核为准。"
    r = http.post(url, json={"text": text, "chunk_ids": [chunk["id"]]}, headers=AUTH)
    assert r.status_code == 200, r.text
    ans = ask(http, question)
    assert not ans["refused"] and ans["answer"] == text
    assert [s["file"] for s in ans["sources"]] == [chunk["file"]]


def test_out_of_scope_answers_with_the_pointer(http):
    question = "考证的报名费能退吗"
    assert ask(http, question)["refused"]
    item = wait_listed(http, question)
    url = f"/api/unanswered/{item['id']}/dismiss"
    r = http.post(url, json={"pointer": " "}, headers=AUTH)
    assert r.status_code == 422 and "去处" in r.json()["detail"]
    assert http.post(url, json={"pointer": "请向考试机构咨询，或拨打12333。"}, headers=AUTH).status_code == 200
    ans = ask(http, question)
    assert ans["refused"] and "请向考试机构咨询，或拨打12333。" in ans["answer"]
    assert listed(http, question) is None  # a dismissed question is not listed again


def test_phone_and_id_numbers_are_masked_in_the_log(http, server):
    ans = ask(http, "我手机13912345678，参加培训包吃住吗")
    assert ans["refused"], ans
    item = wait_listed(http, "参加培训包吃住吗")
    assert "139****5678" in item["question"] and "13912345678" not in str(item), item
    ask(http, "身份证110101199003071234的人能领培训补贴吗")  # answered or not: logged, masked

    def logged():
        with server_engine(server).connect() as c:
            return c.execute(sql("SELECT question FROM asklog WHERE question LIKE '%110101%'")).scalars().all()
    rows = wait_for(logged)
    assert rows == ["身份证110101********1234的人能领培训补贴吗"], rows
    with server_engine(server).connect() as c:
        stored = " ".join(str(v) for t in ("asklog", "unansweredquestion")
                          for v in c.execute(sql(f"SELECT question FROM {t}")).scalars())
    assert "13912345678" not in stored and "19900307" not in stored


def test_unhelpful_in_the_chat_is_recorded_and_offers_two_ways_on(wx, http):
    openid = new_openid()
    reply = wx.say(openid, "以工代训补贴标准是多少")
    assert "500元" in reply and reply.rstrip().endswith("没帮上？回复“没用”")
    assert len(reply.encode()) <= 2048
    offer = wx.say(openid, "没用")
    assert "已记下" in offer and "1 投诉/反映培训机构问题" in offer and "2 转人工" in offer
    item = wait_listed(http, "以工代训补贴标准是多少")
    assert item["kind"] == "unhelpful"
    human = wx.say(openid, "2")
    assert "12333" in human and "工作人员" in human
    # 1 starts the complaint form
    wx.say(openid, "以工代训补贴标准是多少")
    wx.say(openid, "没用")
    assert "投诉" in wx.say(openid, "1")
    # 没用 long after (or without) an answer records nothing, but still offers the ways on
    other = new_openid()
    assert "1 投诉" in wx.say(other, "没用") and "已记下" not in wx.say(other, "没用")


def test_the_unanswered_part_of_a_several_question_message_is_listed(http):
    """“…是多少？另外…管不管住宿”: the first part is answered, the second is not — that
    part is listed on its own, so admins see it although the message got an answer."""
    ans = ask(http, "以工代训补贴标准是多少？另外培训期间管不管住宿")
    assert not ans["refused"] and "没有找到答案" in ans["answer"], ans
    item = wait_listed(http, "培训期间管不管住宿")
    assert item["kind"] == "refused" and "以工代训" not in item["question"], item
