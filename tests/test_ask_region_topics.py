"""Answers as a phone user judges them, over HTTP against the real app: region honesty (the
asker's place has no notice / has notices but not on this point), the regions listed come from
the loaded notices, complaint-flavoured questions reach the misconduct clause and get the
"投诉" next step, social-insurance questions are refused with where to ask, voice-style input
answers like the clean question, and huge input neither crashes nor is rejected."""
from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.db
from tests.ask_util import DATA, ask, score
COMPLAINT_HINT = "如需投诉培训机构，请回复“投诉”。"


def test_uncovered_region_is_said_first(http):
    """A place the question names but no notice covers: nothing answers for that place, so the
    answer is a refusal that says so, with another place's clause offered as a choice."""
    body = ask(http, "北京的培训补贴标准是多少")
    assert body["refused"] is True and body["sources"] == []
    assert "没有北京的政策文件" in body["answer"]
    [choice] = body["choices"]
    region = choice["sources"][0]["region"]
    assert "仅供参考" in choice["label"]
    assert choice["answer"].startswith(f"以下是{region}的规定，仅供参考：")
    # a follower whose stored region has no notices still gets answers, said to be another place's
    body = ask(http, "以工代训补贴每人每月多少钱？", region="广东 深圳")
    assert body["answer"].startswith("现有文件中没有深圳的规定，以下是")


def test_covered_region_without_the_clause_says_whose_rule_it_is(http):
    body = ask(http, "培训补贴资金审核后多少个工作日内拨付？", region="山东 聊城")
    region = body["sources"][0]["region"]
    assert "聊城" not in region
    assert body["answer"].startswith(f"聊城的文件中没有找到相关规定，以下是{region}的规定：")


def test_askers_own_region_gets_no_preface(http):
    body = ask(http, "培训补贴资金审核后多少个工作日内拨付？", region="河南 济源")
    assert body["sources"][0]["region"] == "河南 济源"
    assert "文件中没有" not in body["answer"]
    body = ask(http, "济源每个培训班最多能招多少人")
    assert "文件中没有" not in body["answer"] and "50人" in body["answer"]


def test_region_without_notices_lists_the_loaded_regions(http):
    body = ask(http, "北京有什么政策")
    assert body["refused"] is True and body["sources"] == []
    assert "没有北京的政策文件" in body["answer"]
    regions = {n["region"] for n in http.get("/api/notices").json()["notices"] if n["region"]}
    assert regions and all(r in body["answer"] for r in regions)
    assert len(body["answer"].encode()) <= 2048


def test_region_list_follows_the_loaded_notices(live_server, tmp_path):
    corpus = tmp_path / "extra"
    corpus.mkdir()
    (corpus / "haidian.txt").write_text(
        "北京市海淀区人力资源和社会保障局\n\n海人社发〔2022〕9号\n\n关于做好2022年职业技能培训补贴工作的通知\n\n"
        "各培训机构：\n\n一、补贴标准\n\n参加海淀区补贴性职业技能培训并取得证书的，按每人1200元给予培训补贴。\n\n"
        "北京市海淀区人力资源和社会保障局\n2022年3月1日\n", encoding="utf-8")
    srv = live_server("regions", POLICYBOT_CORPUS_DIR=str(corpus))
    with srv.client() as c:
        body = ask(c, "北京有什么政策")
        assert "没有北京" not in body["answer"]
        body = ask(c, "重庆有什么政策")
        assert "没有重庆的政策文件" in body["answer"] and "北京 海淀" in body["answer"]
        body = ask(c, "海淀的培训补贴标准是多少")
        assert "1200元" in body["answer"] and not body["answer"].startswith("现有文件中没有")


@pytest.mark.parametrize("question", ["培训机构骗人怎么办", "机构承诺包拿补贴", "培训机构说交钱就能拿补贴是真的吗",
                                      "培训学校乱收费怎么投诉"])
def test_complaint_questions_reach_the_misconduct_clause_and_offer_a_complaint(http, question):
    body = ask(http, question)
    assert not body["refused"]
    assert body["sources"][0]["file"] == "003_a712d972baa709d7"
    assert "许诺补贴" in body["answer"] and "暂停承训资格" in body["answer"]
    assert body["answer"].endswith(COMPLAINT_HINT)


def test_ordinary_question_has_no_complaint_hint(http):
    body = ask(http, "以工代训补贴每人每月多少钱？")
    assert "500元" in body["answer"] and COMPLAINT_HINT not in body["answer"]


@pytest.mark.parametrize("question", ["社保怎么交？", "养老保险交满15年每个月能领多少", "失业金一个月能领多少钱"])
def test_social_insurance_questions_are_refused_with_where_to_ask(http, question):
    body = ask(http, question)
    assert body["refused"] is True and body["sources"] == []
    assert "12333" in body["answer"]


def test_social_insurance_word_inside_a_training_question_still_answers(http):
    body = ask(http, "新吸纳的时间是按交社保的时间算吗")
    assert not body["refused"] and "缴纳社会保险" in body["answer"]


def _voice(q: str) -> str:
    return "嗯那个我想问一下" + re.sub(r"[？?，,。！]", "", q) + "😀👍"


def _full_width(q: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in q) + "？？"


def _traditional(q: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(q)


def _stutter(q: str) -> str:
    return "请问请问" + q[:4] + q[:4] + q[4:]


@pytest.mark.parametrize("variant", [_voice, _full_width, _traditional, _stutter])
def test_spoken_and_messy_input_answers_like_the_clean_question(http, variant):
    items = [json.loads(x) for x in (DATA / "heldout_qa.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    items = items[::4]  # a spread over all five files
    differ = []
    for item in items:
        clean = ask(http, item["q"])
        messy = ask(http, variant(item["q"]))
        if messy["refused"] != clean["refused"] or (
                not clean["refused"] and messy["sources"][0]["file"] != clean["sources"][0]["file"]):
            differ.append((variant(item["q"]), messy["answer"][:80]))
    assert differ == []


def test_traditional_characters_are_read_as_simplified(http):
    body = ask(http, "我們飯館新招了服務員能補多少錢")
    assert "500元" in body["answer"]


def test_huge_input_is_cut_not_rejected(http):
    body = ask(http, "我是聊城一家饭店的老板，" * 400 + "我们新招了服务员能补多少钱")
    assert not body["refused"] and "500元" in body["answer"]
    r = http.post("/api/ask", json={"question": "😀" * 5000})
    assert r.status_code == 200 and r.json()["refused"] is True


def test_new_heldout_questions(http):
    """A regression set: 30 colloquial questions and 10 off-topic ones by an earlier team (20/30
    before its lists were tuned on them). 28/30 right, 10/10 refused with the ranker
    trained on five helper-written sets; fewer is a regression."""
    wrong, not_refused = score(http, "heldout_new_qa.jsonl", "heldout_new_refuse.jsonl")
    assert len(wrong) <= 3, wrong  # 27/30 since the refusal of unstated figures (2026-12-03)
    assert not_refused == []


def test_every_answer_fits_one_phone_message(http):
    questions = [json.loads(x)["q"] for f in ("heldout_qa.jsonl", "heldout_new_qa.jsonl")
                 for x in (DATA / f).read_text(encoding="utf-8").splitlines() if x.strip()]
    for q in questions + ["北京的培训补贴标准是多少", "培训学校乱收费怎么投诉"]:
        for region in (None, "北京"):
            body = ask(http, q, **({"region": region} if region else {}))
            assert len(body["answer"]) < 620 and len(body["answer"].encode()) <= 2048, (q, len(body["answer"]))


def test_a_county_with_no_notice_is_not_answered_by_its_neighbour_county(http):
    # 交城 and 文水 are both counties of 吕梁; only 文水 has a notice. Its rule is offered, marked
    body = ask(http, "交城县今年职业技能培训咋报名")
    assert body["refused"] is True and "没有交城的政策文件" in body["answer"]
    [choice] = body["choices"]
    assert "文水" in choice["label"] and "仅供参考" in choice["label"]


def test_a_county_asker_is_answered_by_its_city_notice():
    from knowledge.regions import COVERS, region_matches

    assert region_matches("山东 聊城 冠县", "山东 聊城") >= COVERS
    assert region_matches("山西 吕梁 交城", "山西 吕梁 文水") < COVERS
    assert region_matches("山西 吕梁 文水", "山西 吕梁 文水") == 1.0
