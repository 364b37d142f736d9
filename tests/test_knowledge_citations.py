"""Citations for the forms' rules (`source_for` by 文号, `source_for_file` for a notice without
one), and the shape of every dev answer on a phone: short, within one WeChat message.
Runs the real KnowledgeBase on a real SQLite + Chroma index in a temp dir."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import database_settings, knowledge_base

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def kb(request, tmp_path_factory):
    return knowledge_base(database_settings(request.config, tmp_path_factory.mktemp("cite") / "data",
                                            today="2024-01-01"))


def test_source_for_doc_number(kb):
    src = kb.source_for("鲁人社字〔2021〕33号", excerpt="按吸纳人数给予企业每月500元/人、最长6个月的以工代训职业培训补贴")
    assert src.file == "003_a712d972baa709d7"
    assert src.issuer == "山东省人力资源和社会保障厅 山东省财政厅" and src.date == "2021-03-18"
    assert src.region == "山东" and src.expired is True  # that clause ran to 2021-12-31
    assert kb.source_for("鲁人社字[2021]33号").title == src.title  # bracket variants
    assert kb.source_for("鲁人社字〔2021〕32号", "质量年").expired is False


def test_source_for_unknown_doc_number_keeps_what_it_was_given(kb):
    src = kb.source_for("京人社字〔2099〕1号", "某条款")
    assert src.file == "" and src.doc_number == "京人社字〔2099〕1号" and src.excerpt == "某条款"


def test_source_for_file_without_doc_number(kb):
    src = kb.source_for_file("001_6600b079cd80ab91", "将灵活就业家政服务人员纳入职业培训补贴范围")
    assert src.doc_number is None and src.issuer is None and src.date is None
    assert src.region == "山东 聊城" and "重点任务分工" in src.title


def test_every_dev_answer_fits_a_phone_message(kb):
    path = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_qa.jsonl"
    if not path.exists():
        path = DATA / "heldout_qa.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            answer = kb.ask(json.loads(line)["q"]).answer
            assert len(answer) <= 620 and len(answer.encode("utf-8")) <= 2048, answer


def test_notices_agree_only_when_their_figures_agree():
    from knowledge.answer import same_rule

    a = "取得低压电工特种作业操作证的学员，每人补贴950元，审核通过后15个工作日内拨付。"
    assert same_rule(a, "取得低压电工特种作业操作证的学员，每人补贴950元。")  # shortened quote
    assert not same_rule(a, "取得低压电工特种作业操作证的学员，每人补贴640元，审核通过后15个工作日内拨付。")
    assert not same_rule(a, "培训机构不得虚假宣传。")
