"""The shapes of an answer a follower reads on a phone, over HTTP against the real app: the
plain first line, expiry said first, overview of a place's notices, several questions in one
message, numbered follow-ups, a neighbouring service pointed to, and the trained ranker file
matching the code that reads it."""
from __future__ import annotations

import json

import pytest

from tests.ask_util import ask

pytestmark = pytest.mark.db


def test_expired_rule_says_so_in_the_first_line(http):
    body = ask(http, "现在还能申请以工代训补贴吗")
    first = body["answer"].splitlines()[0]
    assert first.startswith("⚠️该政策已于2021年12月31日到期")
    assert body["sources"][0]["expired"] is True


def test_amount_question_leads_with_the_amount(http):
    body = ask(http, "俺们开饭店的招了几个跑堂的，国家给补多少钱")
    first = body["answer"].splitlines()[0]
    assert "500元" in first and len(first) <= 160
    assert "「" in body["answer"] and "——《" in body["answer"]  # then the quote, then the citation


def test_overview_lists_the_places_notices_as_choices(http):
    body = ask(http, "聊城有什么政策")
    assert body["refused"] is False
    labels = [c["label"] for c in body["choices"]]
    assert len(labels) >= 2 and all(label.startswith("《") for label in labels)
    assert all("有效期" in label for label in labels)  # each says whether it still applies
    assert "《聊城市职业技能提升行动方案(2019—2021年)重点任务分工》" in " ".join(labels)
    assert not any("济源" in label or "文水" in label for label in labels)
    picked = body["choices"][0]["answer"]
    assert "适用地区" in picked and "主要内容" in picked


def test_two_questions_in_one_message_are_both_answered(http):
    body = ask(http, "济源培训班每班最多多少人？结业考核要提前几天申请？")
    text = body["answer"]
    assert text.startswith("您问了2个问题") and "1. " in text and "2. " in text
    assert "50人" in text and "3天" in text
    assert all(s["region"] == "河南 济源" for s in body["sources"])


def test_context_before_the_questions_is_not_a_question(http):
    body = ask(http, "我们公司在济源，想问两件事：每班最多多少人？每课时不少于多少分钟？")
    assert "50人" in body["answer"] and "40分钟" in body["answer"]  # one clause answers both
    assert "1. 我们公司在济源" not in body["answer"]


def test_close_runner_up_is_offered_as_a_numbered_choice(http):
    body = ask(http, "企业新型学徒制是怎么培养的")
    assert body["choices"], body["answer"]
    for choice in body["choices"]:
        assert "——《" in choice["answer"] and choice["sources"]


def test_neighbouring_service_is_refused_with_where_to_ask(http):
    body = ask(http, "俺爹退休了每个月的养老金能领多少")
    assert body["refused"] is True and "12333" in body["answer"]


def test_table_rows_never_reach_a_follower_raw(http):
    for q in ["评分表第20项是什么要求", "临沂的中期评估里线上培训怎么打分"]:
        body = ask(http, q)
        assert " | " not in body["answer"] and "___" not in body["answer"]


def test_ranker_file_matches_the_features_the_code_computes():
    from knowledge import ranker

    data = json.loads(ranker.MODEL_FILE.read_text(encoding="utf-8"))
    assert data["features"] == list(ranker.FEATURES)
    assert data["answer_features"] == list(ranker.ANSWER_FEATURES)
    assert data["unit_features"] == list(ranker.UNIT_FEATURES)
    assert 0.0 < data["threshold"] < 1.0


def test_dialect_spelling_is_read_as_standard_mandarin(http):
    body = ask(http, "俺们小饭馆新招了人，以工代训能补多少钱")
    assert not body["refused"] and "500元" in body["answer"].split("\n")[0]


def test_plain_line_states_the_figure_nearest_the_question(http):
    body = ask(http, "济源2021年企业新型学徒制培训目标是多少人？")
    assert "600人" in body["answer"].split("\n")[0]


def test_a_short_list_is_quoted_whole_with_its_lead_in(http):
    body = ask(http, "文水的培训机构要交哪些就业证明材料")
    assert "六个月以上劳动合同" in body["answer"] and "营业执照及营业场地证明" in body["answer"]


def test_a_start_date_is_never_the_plain_answer_to_a_deadline(http):
    first = ask(http, "临沂各县区局报高危企业安全技能补贴名单最迟哪天报")["answer"].split("\n")[0]
    assert first.startswith("「") or "以来" not in first  # a quote, or a plain line that is no start date


def test_a_figure_the_notices_do_not_state_is_refused(http):
    assert ask(http, "文水县电工培训补贴一天补多少钱")["refused"] is True


def test_dialect_words_are_rewritten_before_parsing():
    from knowledge.normalise import normalise_question

    assert normalise_question("俺们咋申请补贴，中不中？") == "我们怎么申请补贴,行不行?"
    assert normalise_question("中小微企业啥时候截止") == "中小微企业什么时候截止"  # 中 alone stays


def test_a_question_about_a_notice_itself_is_answered_from_its_header(http):
    """Who issued it and when: the notice's header, the notice found by its title and place."""
    body = ask(http, "聊城质量年这个通知是哪俩部门发的？啥时候发的")
    assert body["refused"] is False
    first = body["answer"].splitlines()[0]
    assert "聊城市财政局" in first and "2021年5月10日" in first
    assert body["sources"][0]["title"] == "关于开展职业技能提升行动质量年活动提高专账资金使用效能的通知"
    number = ask(http, "济源那个技能提升工作方案的文号是多少")
    assert "济管人社〔2021〕6号" in number["answer"].splitlines()[0]
    # money paid out is no notice's date, and a notice nobody can tell apart is not guessed
    assert "印发日期" not in ask(http, "以工代训补贴什么时候发")["answer"]
    assert "印发日期" not in ask(http, "这个通知是哪天发的")["answer"]


def test_a_part_whose_best_clause_lacks_its_figure_is_answered_by_the_whole_messages_clause(http):
    """“最晚哪天交？交给哪个科？”: the first part alone finds a clause with no deadline; the clause
    the whole message is about states it, and answers both parts."""
    body = ask(http, "临沂应急局让县区报高危企业能领技能提升补贴的名单，最晚哪天交？交给市局哪个科？")
    assert body["refused"] is False
    assert "10月19日前" in body["answer"] and "规划统计科" in body["answer"], body["answer"]
    assert "没有找到答案" not in body["answer"]


def test_a_long_sentence_is_cut_around_the_words_asked(http):
    """The answer to “按啥原则发” sits at the end of a 200-character sentence: the cut quote keeps
    it, and says where it was cut."""
    body = ask(http, "临沂高危企业安全技能补贴的钱申领到位以后，培训机构按啥原则发")
    assert "谁出钱补贴补给谁" in body["answer"], body["answer"]


def test_fact_types_hold_for_any_wording():
    from knowledge.qtypes import asked_types, figures_asked

    names = lambda ts: [t.name for t in ts]  # noqa: E731
    assert names(figures_asked("培训教室最小得多大")) == ["size"]
    assert names(asked_types("学校的培训工作量能折算多少")) == ["quantity"]  # a bare 多少: some figure
    assert names(asked_types("补贴多少钱")) == ["amount"]  # the generic type only when nothing else is asked
    assert "quantity" not in names(figures_asked("能折算多少"))  # never a reason to refuse
    for money in ("办学要多少注册资金", "考试费要交多少", "培训券一张面值多少"):
        assert names(figures_asked(money)) == ["amount"], money
    for share in ("职工教育经费要有多少用于一线职工", "最多按工资总额的多少扣除", "一个班最多能收多少学员"):
        assert "amount" not in names(figures_asked(share)), share
    for named in ("培训补贴的钱是从哪项资金出的", "专账的钱从哪个基金里拿"):  # money named, not asked for
        assert "amount" not in names(asked_types(named)), named
    for asked in ("学技术给钱不", "能拿点钱吗"):
        assert "amount" in names(asked_types(asked)), asked


def test_a_cut_quote_keeps_the_stretch_that_holds_the_question():
    from knowledge.answer import window

    text = "各县区局要做好宣传，" * 12 + "资金到位后，由培训机构按照谁出钱补贴补给谁的原则发放。"
    cut = window(text, 60, "按什么原则发")
    assert "谁出钱补贴补给谁的原则" in cut and cut.startswith("…") and len(cut) <= 60
    assert window(text, 60) == text[:59] + "…"  # without a question: the beginning


def test_a_county_with_a_notice_is_read_without_its_suffix(http):
    """“文水的…” is the county 文水县 when a notice is about it: the answer is the same as for
    “文水县的…” (a bare two-character county name elsewhere is still too ambiguous to read)."""
    from knowledge.regions import place_named

    covered = ["山西 吕梁 文水", "山东 聊城"]
    assert place_named("文水的培训机构要交啥材料", covered).path == "山西 吕梁 文水"
    assert place_named("吕梁文水的补贴", covered).path == "山西 吕梁 文水"
    assert place_named("文水的补贴", ["山东 聊城"]).path is None
    for q in ("文水的以工代训补贴一个月给多少", "文水的培训机构要交哪些就业证明材料"):
        bare, full = ask(http, q), ask(http, q.replace("文水", "文水县"))
        assert (bare["refused"], bare["answer"]) == (full["refused"], full["answer"]), q


def test_a_detail_asked_by_its_kind_must_be_named_by_the_clause(http):
    """“电话多少” is not answered by an e-mail address, nor “是哪家公司” by a clause that names no
    company: the notices leave it out; the e-mail itself is answered."""
    phone = ask(http, "临沂应急局规划统计科的座机电话打多少")
    assert phone["refused"] is True and "163.com" not in phone["answer"], phone["answer"]
    assert ask(http, "聊城试点承担培训过程监管的第三方机构是哪家公司")["refused"] is True
    mail = ask(http, "临沂县区报高危企业名单发到哪个邮箱")
    assert mail["refused"] is False and "yjjpxksk@163.com" in mail["answer"], mail["answer"]


def test_detail_kinds_are_read_from_the_question_word():
    from knowledge.qtypes import figures_asked

    names = lambda ts: [t.name for t in ts]  # noqa: E731
    assert names(figures_asked("中标的是哪几家学校")) == ["organisation"]  # which ones, not how many
    assert names(figures_asked("咨询电话是多少")) == ["phone"]
    assert names(figures_asked("联系方式是什么")) == ["contact"]
    assert names(figures_asked("在哪个平台申报")) == ["channel"]
    assert figures_asked("哪些人能领补贴") == [] and figures_asked("需要哪些材料") == []
    # mentioned, not asked: a telephone follow-up, a time adverb
    assert figures_asked("被电话回访查出材料造假会怎么处理") == []
    assert figures_asked("我家前几年是贫困户,去学技术要钱不") == []
