"""`policybot validate`: the shipped data passes; a broken copy fails, naming each file, line and
problem (the line from the YAML node marks)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str):
    result = CliRunner().invoke(app, ["validate", *args])
    return result.exit_code, result.output


WORD_LISTS = ("synonyms.yaml", "topics.yaml", "scope.yaml")


@pytest.fixture
def copy(tmp_path) -> Path:
    """The data a check reads, copied: forms/, deploy/routing.yaml, knowledge/corpus/ and the word lists."""
    shutil.copytree(ROOT / "forms" / "defs", tmp_path / "forms" / "defs")
    shutil.copytree(ROOT / "forms" / "rules", tmp_path / "forms" / "rules")
    shutil.copytree(ROOT / "knowledge" / "corpus", tmp_path / "knowledge" / "corpus")
    for name in WORD_LISTS:
        shutil.copy(ROOT / "knowledge" / name, tmp_path / "knowledge" / name)
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "routing.yaml", tmp_path / "deploy" / "routing.yaml")
    return tmp_path


def edit(root: Path, rel: str, old: str, new: str) -> int:
    """Replace the first `old` in a file; returns the (1-based) line where it stood."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def test_shipped_data_passes():
    code, output = run()
    assert code == 0, output
    assert "no problems" in output


def test_an_unchanged_copy_passes(copy):
    code, output = run("--root", str(copy))
    assert code == 0, output


def test_a_broken_copy_names_file_line_and_problem(copy):
    broken = {
        "forms/defs/yigong.yaml": [
            edit(copy, "forms/defs/yigong.yaml", "when: {fact: enterprise_size,", "when: {fact: enterprise_sizes,"),
            edit(copy, "forms/defs/yigong.yaml", 'choices: "@ownership"', 'choices: "@owners"'),
        ],
        "forms/defs/voucher.yaml": [edit(copy, "forms/defs/voucher.yaml", "goto: no_voucher,", "goto: no_vouchers,")],
        "forms/defs/complaint.yaml": [edit(copy, "forms/defs/complaint.yaml", "{value: 济源, label: 河南济源}",
                                           "{value: 济源市, label: 河南济源}")],
        "forms/rules/yigong.yaml": [edit(copy, "forms/rules/yigong.yaml", "notice: lu_33", "notice: lu_34")],
        "forms/rules/trainee.yaml": [
            edit(copy, "forms/rules/trainee.yaml", "{fact: has_voucher, equals: false}", "{fact: has_vouchers, equals: false}"),
            edit(copy, "forms/rules/trainee.yaml", "quote: 学员年度内不得重复培训", "quote: 学员年度内可以重复培训"),
        ],
        "forms/rules/notices.yaml": [edit(copy, "forms/rules/notices.yaml", "doc_number: 文人社字〔2023〕51号",
                                          "doc_number: 文人社字〔2023〕15号")],
        "deploy/routing.yaml": [edit(copy, "deploy/routing.yaml", "team: ws-skills}", "team: ws-skill}")],
    }
    code, output = run("--root", str(copy))
    assert code == 1
    for file, lines in broken.items():
        for line in lines:
            assert f"{file}:{line}: " in output, (file, line, output)
    for words in ("enterprise_sizes", "@owners", "no_vouchers", "lu_34", "has_vouchers", "verbatim",
                  "文人社字〔2023〕15号", "ws-skill", "济源市"):
        assert words in output, (words, output)


def test_word_lists_are_checked(copy):
    """A misspelt key of the vocabulary, a topic concept the vocabulary lacks and a scope without
    its hint are each named at their line (before, they loaded and silently did nothing)."""
    key_line = edit(copy, "knowledge/synonyms.yaml", "  - when: [饭馆,", "  - wen: [饭馆,")
    concept_line = edit(copy, "knowledge/topics.yaml", "concepts: [虚假宣传,", "concepts: [虚伪宣传,")
    scope_line = edit(copy, "knowledge/scope.yaml", "  hint: 欠薪", "  hit: 欠薪")
    code, output = run("--root", str(copy))
    assert code == 1
    assert f"knowledge/synonyms.yaml:{key_line}: " in output and "wen" in output, output
    assert f"knowledge/scope.yaml:{scope_line}: " in output and "hit" in output, output
    edit(copy, "knowledge/synonyms.yaml", "  - wen: [饭馆,", "  - when: [饭馆,")
    code, output = run("--root", str(copy))
    assert code == 1
    assert f"knowledge/topics.yaml:{concept_line}: concept '虚伪宣传' is no official word" in output, output


def test_schema_errors_and_bad_yaml_are_placed(copy):
    parser_line = edit(copy, "forms/defs/trainee.yaml", "parser: number", "parser: numbr")
    action_line = edit(copy, "forms/defs/complaint.yaml", "on_complete: file_complaint",
                       "on_complete: bot.complaint_dialog:file_from_form")
    effect_line = edit(copy, "forms/rules/yigong.yaml", "effect: review", "effect: maybe")
    (copy / "forms" / "rules" / "choices.yaml").write_text("regions:\n  - {value: 聊城\n", encoding="utf-8")
    code, output = run("--root", str(copy))
    assert code == 1
    assert f"forms/defs/trainee.yaml:{parser_line}: slot subsidized_trainings_this_year" in output
    assert "unknown parser 'numbr'" in output
    assert f"forms/defs/complaint.yaml:{action_line}: on_complete: name a registered completion action" in output
    assert f"forms/rules/yigong.yaml:{effect_line}: rules[0].effect" in output
    assert "forms/rules/choices.yaml:" in output and "not valid YAML" in output


def test_an_unregistered_action_and_a_missing_notice_file(copy):
    line = edit(copy, "forms/defs/voucher.yaml", "on_complete: guide_done", "on_complete: guide_finished")
    notice_line = edit(copy, "forms/rules/notices.yaml", "file: 002_a412a878726be6d2", "file: 002_gone")
    code, output = run("--root", str(copy))
    assert code == 1
    assert f"forms/defs/voucher.yaml:{line}: no completion action is registered as 'guide_finished'" in output
    assert f"forms/rules/notices.yaml:{notice_line}: notice jiyuan_2021: no file '002_gone'" in output


def test_a_server_with_broken_data_refuses_to_start_naming_the_place(tmp_path):
    """The same cross-file check runs at start-up: a routing file whose fallback region is not
    one of its regions stops `policybot serve` with the file, the line and the problem."""
    import os
    import subprocess
    import sys

    text = (ROOT / "deploy" / "routing.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "routing.yaml"
    broken.write_text(re.sub(r"(?m)^fallback_region: .*$", "fallback_region: 火星", text), encoding="utf-8")
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(tmp_path / "data"), "POLICYBOT_ROUTING_FILE": str(broken),
           "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert f"{broken}:18: region '火星' is not among `regions`" in run.stderr
    assert "数据文件检查未通过" in run.stderr


def test_answer_kinds_and_a_guides_regional_topic_are_checked(copy):
    """forms/rules/looks_like.yaml against its model (a kind named by a parser must exist), a
    slot's `looks_like` among its kinds, and a guide's `regional` topic carried by some notice."""
    edit(copy, "forms/rules/looks_like.yaml", "region: place", "region: places")  # a model-level check: the file named
    slot_line = edit(copy, "forms/defs/complaint.yaml", "looks_like: time", "looks_like: when")
    topic_line = edit(copy, "forms/defs/voucher.yaml", "topic: 电子培训券", "topic: 培训卡")
    code, output = run("--root", str(copy))
    assert code == 1
    assert "forms/rules/looks_like.yaml:" in output and "parsers.region: no kind 'places'" in output, output
    assert f"forms/defs/complaint.yaml:{slot_line}: slot when" in output and "unknown answer kind 'when'" in output
    assert f"forms/defs/voucher.yaml:{topic_line}: no notice in forms/rules/notices.yaml has the topic '培训卡'" in output
