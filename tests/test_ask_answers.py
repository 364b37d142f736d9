"""Answers over HTTP against the real app: quoted clause + citation + region, refusal, the
expiry flag (and POLICYBOT_TODAY), region preference, several notices, and the held-out set."""
from __future__ import annotations


import pytest

pytestmark = pytest.mark.db
from tests.ask_util import ask, score
EXPIRY = "该政策已于2021年12月31日到期"


def test_colloquial_question_gets_the_clause_quoted_and_cited(http):
    body = ask(http, "我们饭馆新招了服务员能补多少钱")
    assert not body["refused"]
    assert "500元" in body["answer"] and "住宿餐饮" in body["answer"]
    top = body["sources"][0]
    assert top["file"] == "003_a712d972baa709d7"
    assert f"《{top['title']}》" in body["answer"]
    assert "适用地区：" in body["answer"]
    assert top["excerpt"] and top["excerpt"] in body["answer"]
    assert len(body["answer"]) < 700 and len(body["answer"].encode()) <= 2048


def test_answer_cites_doc_number_issuer_and_date(http):
    body = ask(http, "文水县有几所中标的培训机构？")
    assert "6所" in body["answer"]
    assert "文人社字〔2023〕51号" in body["answer"]
    assert "文水县人力资源和社会保障局" in body["answer"] and "2023年12月7日" in body["answer"]
    assert "适用地区：山西 吕梁 文水" in body["answer"]


@pytest.mark.parametrize("question", ["给我讲个笑话", "上海明天会下雨吗", "北京房价最近是涨了还是跌了", "红烧肉怎么做"])
def test_off_topic_questions_are_refused_with_a_hint(http, question):
    body = ask(http, question)
    assert body["refused"] is True and body["sources"] == []
    assert "没有找到" in body["answer"] and "补贴" in body["answer"]


def test_expired_clause_is_flagged(http):
    body = ask(http, "以工代训补贴的政策到什么时候截止？")
    assert "2021年12月31日" in body["answer"]
    assert EXPIRY in body["answer"]
    assert body["sources"][0]["expired"] is True


def test_expiry_depends_on_today(live_server):
    srv = live_server("today2021", POLICYBOT_TODAY="2021-06-01")
    with srv.client() as c:
        body = ask(c, "以工代训补贴的政策到什么时候截止？")
    assert "2021年12月31日" in body["answer"]
    assert "到期" not in body["answer"]
    assert body["sources"][0]["expired"] is False


def test_region_preference_picks_the_askers_notice(http):
    question = "培训补贴资金审核后多少个工作日内拨付？"
    jiyuan = ask(http, question, region="河南 济源")
    shandong = ask(http, question, region="山东 临沂")
    assert jiyuan["sources"][0]["region"] == "河南 济源"
    assert "7个工作日" in jiyuan["answer"]
    assert shandong["sources"][0]["region"].startswith("山东")
    assert "20个工作日" in shandong["answer"]


def test_several_notices_on_the_same_rule_are_mentioned(http):
    body = ask(http, "以工代训补贴每人每月多少钱？")
    files = [s["file"] for s in body["sources"]]
    titles = {s["title"] for s in body["sources"]}
    assert "500元" in body["answer"]
    assert len(titles) >= 2 and files[0] == "003_a712d972baa709d7"
    assert "另：" in body["answer"]


def test_table_row_is_answered_on_its_own(http):
    body = ask(http, "评分表第26项是什么要求")
    assert "三端" in body["answer"] and "序号：26" in body["answer"]
    assert "序号：27" not in body["answer"]
    assert " | " not in body["answer"] and "__" not in body["answer"]  # a row reads as a sentence


def test_heldout_questions(http):
    """A regression set (h01-h30, f01-f16: written by an earlier team, whose word lists were tuned
    on it; those lists are cut to general wording now). 42/46 right, 10/10 refused with the
    ranker trained on five helper-written sets; fewer is a regression."""
    wrong, not_refused = score(http, "heldout_qa.jsonl", "heldout_refuse.jsonl")
    assert len(wrong) <= 4, wrong
    assert not_refused == []


def test_user_region_comes_from_the_follower_record(server, http):
    """A follower who said '我在济源' (stored on Follower.region) gets 济源's rule first."""
    from sqlmodel import Session

    from storage.models import Follower
    from tests.wechat_util import server_engine

    engine = server_engine(server)
    with Session(engine) as s:
        f = s.get(Follower, "o-kb-region-test") or Follower(openid="o-kb-region-test")
        f.region = "河南 济源"
        s.add(f)
        s.commit()
    engine.dispose()
    body = ask(http, "培训补贴资金审核后多少个工作日内拨付？", user="o-kb-region-test")
    assert body["sources"][0]["region"] == "河南 济源"


def test_garbage_and_emoji_never_500(http):
    for q in ["😀😀😀", "？？？", "a" * 1900, "<script>alert(1)</script>"]:
        r = http.post("/api/ask", json={"question": q})
        assert r.status_code == 200
        assert r.json()["refused"] is True


def test_two_figures_asked_are_both_quoted_from_the_notice(http):
    # the best clause (视频素材) states the duration; its sibling item (图片资料) the count
    body = ask(http, "报品牌宣传素材，照片要几张？视频多长？")
    assert not body["refused"]
    assert "2-3分钟" in body["answer"] and "不少于5张" in body["answer"]
    assert body["answer"].count("——《") == 1  # one notice, cited once
    assert {s["file"] for s in body["sources"]} == {"003_a712d972baa709d7"}
    assert len(body["answer"].encode()) <= 2048


def test_one_figure_asked_gets_no_second_clause(http):
    body = ask(http, "品牌宣传视频要多长？")
    assert "2-3分钟" in body["answer"] and "不少于5张" not in body["answer"]


def test_a_runner_up_choice_is_labelled_with_the_fact_its_clause_states(http):
    # no place named: 文水's clause on missing video answers first; 济源's rule on how long each
    # practical hour is filmed is offered beside it, its figure in the label itself
    body = ask(http, "动手练那个课录像得连着录多长时间")
    labels = [c["label"] for c in body["choices"]]
    assert labels, body
    for label in labels:
        assert "「" not in label and len(label) <= 40 + 8
    assert any("分钟" in label and label.endswith("（济源）") for label in labels), labels


@pytest.mark.parametrize("first, label", [
    ("实操培训每学时连续录像不低于15分钟。", "实操培训每学时连续录像不低于15分钟"),
    ("过程监管：「推行指纹签到」", ""),
    ("⚠️该政策已于2021年12月31日到期，请以最新通知为准。原规定：按每人每月500元补贴。", "（已到期）按每人每月500元补贴"),
    ("⚠️该政策已于2021年12月31日到期，请以最新通知为准。", ""),
])
def test_plain_line_of_an_answer(first, label):
    from knowledge.answer import plain_of

    assert plain_of(first + "\n「…」\n——《…》") == label


def test_a_several_part_message_that_means_chat_is_not_answered_part_by_part(http):
    # alone, “你是谁开发的” shares one word (开发) with a clause; the message as a whole is chat
    body = ask(http, "你是谁开发的？能陪我聊聊天吗？")
    assert body["refused"] is True and body["sources"] == []


def test_a_one_word_part_is_answered_from_the_notice_the_message_is_about(http):
    # “邮箱是多少？” alone would go to the province's contact line; here it leans on part one
    body = ask(http, "临沂各县区局整理的高危企业补贴材料要报到市局哪个科室？邮箱是多少？")
    assert "yjjpxksk@163.com" in body["answer"] and "syaprst" not in body["answer"]
    assert {s["file"] for s in body["sources"]} == {"000_8847731a03a64208"}


def test_an_unsure_refusal_offers_the_nearest_clause_as_a_choice(http):
    # below the refusal threshold, but the best clause is the one about employment proof
    body = ask(http, "文水培训学员在企业就业了，就业证明要交什么？")
    assert body["refused"] is True and body["sources"] == []
    assert "没有找到能确切回答" in body["answer"]
    [choice] = body["choices"]
    assert choice["label"].startswith("最接近的规定：") and choice["label"].endswith("（文水）")
    r = http.post("/api/ask", json={"question": "红烧肉怎么做"}).json()
    assert r["refused"] is True and r["choices"] == []  # nothing near: a plain refusal


def test_two_parts_one_clause_answers_are_quoted_once(http):
    # 40分钟 and 65% stand in two sentences of one clause; “实际” alone points elsewhere (90%)
    body = ask(http, "济源一节课至少多少分钟？实际动手练的课要占多少")
    assert "不低于40分钟" in body["answer"] and "65%" in body["answer"]
    assert "保持在 1 。" not in body["answer"]  # a ratio's colon does not end a fragment
    assert len(body["answer"].encode()) <= 2048


def test_a_referred_question_with_a_confident_clause_offers_it(http):
    # “档案” is also a 人事 word: referred to 12333, and the training records' rule one digit away
    body = ask(http, "文水档案存几年")
    assert body["refused"] is True and "12333" in body["answer"]
    [choice] = body["choices"]
    assert "不低于十年" in choice["label"]
    plain = ask(http, "社保怎么交")
    assert plain["refused"] is True and "12333" in plain["answer"] and plain["choices"] == []
