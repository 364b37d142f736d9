"""Eligibility rules as data: every quoted clause is really in its notice, and every rule is
reachable through POST /api/check/* on the live server with the outcome and citation it claims."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from forms import rules

CORPUS = Path(__file__).resolve().parents[1] / "knowledge" / "corpus"
DEFS = Path(__file__).resolve().parents[1] / "forms" / "defs"
ALL_FACTS_YIGONG = ["region", "enterprise_size", "industry", "ownership", "hire_date", "months"]
ALL_FACTS_TRAINEE = ["region", "subsidized_trainings_this_year", "same_occupation_level_before",
                     "certificate", "over_retirement_age", "receives_pension"]


def corpus_text(file: str) -> str:
    return rules.normalise((CORPUS / f"{file}.txt").read_text(encoding="utf-8"))


def rule(ruleset: str, rule_id: str) -> dict:
    return next(r for r in rules.load(ruleset)["rules"] if r["id"] == rule_id)


def text_head(ruleset: str, rule_id: str) -> str:
    """The fixed start of a rule's reason text (up to its first placeholder)."""
    return rule(ruleset, rule_id)["text"].split("{")[0][:12]


# ------------------------------------------------------------------ the data itself

@pytest.mark.parametrize("ruleset", ["yigong", "trainee"])
def test_every_rule_quotes_its_notice_verbatim(ruleset):
    notices = rules.notices()
    for r in rules.load(ruleset)["rules"]:
        assert r["clauses"], r["id"]
        for clause in r["clauses"]:
            meta = notices[clause["notice"]]
            assert rules.normalise(clause["quote"]) in corpus_text(meta["file"]), (r["id"], clause["quote"])
            if meta.get("doc_number"):  # the 文号 is in the same file
                assert rules.normalise(meta["doc_number"]) in corpus_text(meta["file"])


def test_voucher_guide_quotes_are_verbatim():
    guide = yaml.safe_load((DEFS / "voucher.yaml").read_text(encoding="utf-8"))
    wenshui = corpus_text(rules.notices()[guide["cite"]["notice"]]["file"])
    for quote in guide["quotes"] + [guide["cite"]["quote"]]:
        assert rules.normalise(quote) in wenshui, quote
    for slot in guide["slots"]:  # quotes shown as 原文 on a page are verbatim too
        for quoted in re.findall(r"原文：“(.+?)”", slot["question"]):
            assert rules.normalise(quoted) in wenshui


def test_a_misquoted_clause_would_be_caught():
    assert rules.normalise("每人每年不超过5次") not in corpus_text("001_6600b079cd80ab91")


# ------------------------------------------------------------------ over HTTP

YIGONG_OK = {"region": "山东 聊城", "enterprise_size": "小微", "industry": "制造业", "ownership": "民营",
             "hire_date": "2021-03-15", "months": 6}
TRAINEE_OK = {"region": "山东 聊城", "subsidized_trainings_this_year": 0, "same_occupation_level_before": False,
              "certificate": "职业技能等级证书", "over_retirement_age": False, "receives_pension": False}


def assert_cited(reason: dict) -> None:
    assert reason["text"] and reason["sources"], reason
    for source in reason["sources"]:
        assert set(source) == {"file", "title", "doc_number", "issuer", "date", "region", "excerpt", "expired"}
        assert source["title"] and source["file"]
        assert rules.normalise(source["excerpt"]) in corpus_text(source["file"]), source


def post(http, path: str, body: dict) -> dict:
    r = http.post(path, json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    for reason in data["reasons"]:
        assert_cited(reason)
    return data


def has_reason(data: dict, ruleset: str, rule_id: str) -> bool:
    return any(r["text"].startswith(text_head(ruleset, rule_id)) for r in data["reasons"])


def checked(http, path: str, body: dict, outcome: str, ruleset: str, rule_ids: list[str]) -> dict:
    """POST a check; assert its outcome and that each rule in `rule_ids` gave a reason."""
    data = post(http, path, body)
    assert data["outcome"] == outcome, data
    for rule_id in rule_ids:
        assert has_reason(data, ruleset, rule_id), (rule_id, [r["text"] for r in data["reasons"]])
    return data


YIGONG_CASES = [
    # (changes, outcome, rule ids that must be among the reasons)
    ({}, "eligible", ["yigong.small_or_medium", "yigong.hire_in_window", "yigong.amount", "yigong.not_counted"]),
    ({"enterprise_size": "中型", "industry": "化工"}, "eligible", ["yigong.small_or_medium"]),
    ({"enterprise_size": "大型", "industry": "饭馆"}, "eligible", ["yigong.large_in_five"]),
    ({"enterprise_size": "大型", "industry": "超市"}, "eligible", ["yigong.large_in_five"]),
    ({"enterprise_size": "大型", "industry": "进出口"}, "eligible", ["yigong.large_in_five"]),
    ({"enterprise_size": "大型", "industry": "制造业"}, "not_eligible", ["yigong.large_other_industry"]),
    ({"enterprise_size": "大型", "industry": "快递"}, "needs_review", ["yigong.large_unclear_industry"]),
    ({"hire_date": "2022-01-05"}, "not_eligible", ["yigong.window_closed"]),
    ({"hire_date": "2020-12-20"}, "not_eligible", ["yigong.before_2021"]),
    ({"months": 9}, "eligible", ["yigong.amount_capped"]),
    ({"ownership": "中央"}, "eligible", ["yigong.apply_central_provincial"]),
    ({"ownership": "市属"}, "eligible", ["yigong.apply_city_owned_liaocheng"]),
    ({"region": "山东 济南", "ownership": "省属"}, "eligible", ["yigong.apply_central_provincial"]),
    ({"region": "河南 济源"}, "needs_review", ["yigong.region"]),
    ({"region": "文水"}, "needs_review", ["yigong.region"]),
    ({"region": "北京"}, "needs_review", ["yigong.region"]),
]


@pytest.mark.parametrize("changes,outcome,rule_ids", YIGONG_CASES)
def test_yigong_rules_over_http(http, changes, outcome, rule_ids):
    data = checked(http, "/api/check/enterprise-yigong", {**YIGONG_OK, **changes}, outcome, "yigong", rule_ids)
    assert set(data) == {"outcome", "reasons", "monthly_amount", "months", "total_amount", "apply_to"}


def test_yigong_amounts_and_where_to_apply(http):
    data = post(http, "/api/check/enterprise-yigong", {**YIGONG_OK, "months": 4, "ownership": "中央"})
    assert (data["monthly_amount"], data["months"], data["total_amount"]) == (500, 4, 2000)
    assert "驻地所在县" in data["apply_to"]  # 聊城's own notice
    capped = post(http, "/api/check/enterprise-yigong", {**YIGONG_OK, "months": 9, "region": "山东 济南", "ownership": "省属"})
    assert (capped["months"], capped["total_amount"]) == (6, 3000)
    assert "所在市或县" in capped["apply_to"]  # 鲁人社字〔2021〕33号
    late = post(http, "/api/check/enterprise-yigong", {**YIGONG_OK, "hire_date": "2022-03-01"})
    assert late["total_amount"] == 0 and any("窗口已经结束" in r["text"] for r in late["reasons"])
    outside = post(http, "/api/check/enterprise-yigong", {**YIGONG_OK, "region": "河南 济源"})
    assert "当地人社部门" in outside["apply_to"] and "山东" in outside["reasons"][0]["text"]


def test_yigong_sources_cite_liaocheng_only_for_liaocheng(http):
    liaocheng = post(http, "/api/check/enterprise-yigong", YIGONG_OK)
    jinan = post(http, "/api/check/enterprise-yigong", {**YIGONG_OK, "region": "山东 济南"})
    doc = lambda data: {s["doc_number"] for r in data["reasons"] for s in r["sources"]}
    assert None in doc(liaocheng) and "鲁人社字〔2021〕33号" in doc(liaocheng)
    assert doc(jinan) == {"鲁人社字〔2021〕33号"}
    assert all(s["expired"] for r in jinan["reasons"] for s in r["sources"])  # the policy ran until 2021-12-31


TRAINEE_CASES = [
    ({}, "eligible", ["trainee.within_three", "trainee.new_occupation_level", "trainee.certificate_ok",
                      "trainee.shandong_where_to_claim"]),
    ({"subsidized_trainings_this_year": 3}, "not_eligible", ["trainee.over_three"]),
    ({"same_occupation_level_before": True}, "not_eligible", ["trainee.same_occupation_level"]),
    ({"certificate": "没有"}, "not_eligible", ["trainee.certificate_missing"]),
    ({"certificate": "驾驶证"}, "not_eligible", ["trainee.certificate_missing"]),
    ({"certificate": "特种作业操作证书"}, "eligible", ["trainee.certificate_ok"]),
    ({"over_retirement_age": True, "receives_pension": True}, "not_eligible", ["trainee.retired_with_pension"]),
    ({"over_retirement_age": True, "receives_pension": False}, "eligible", ["trainee.retired_without_pension"]),
    ({"region": "河南 济源", "subsidized_trainings_this_year": 1}, "not_eligible", ["trainee.jiyuan_once_a_year"]),
    ({"region": "济源"}, "eligible", ["trainee.jiyuan_first_this_year"]),
    ({"region": "文水", "job_registration": False, "has_voucher": True}, "not_eligible",
     ["trainee.wenshui_no_registration", "trainee.wenshui_voucher"]),
    ({"region": "文水", "job_registration": True, "has_voucher": False}, "needs_review",
     ["trainee.wenshui_registration", "trainee.wenshui_no_voucher"]),
    ({"region": "文水"}, "eligible", ["trainee.wenshui_registration_unknown", "trainee.wenshui_voucher_unknown"]),
    ({"region": "北京"}, "needs_review", ["trainee.region_not_covered", "trainee.within_three"]),
    ({"region": "北京", "subsidized_trainings_this_year": 4}, "not_eligible", ["trainee.over_three"]),
]


@pytest.mark.parametrize("changes,outcome,rule_ids", TRAINEE_CASES)
def test_trainee_rules_over_http(http, changes, outcome, rule_ids):
    data = checked(http, "/api/check/trainee-subsidy", {**TRAINEE_OK, **changes}, outcome, "trainee", rule_ids)
    assert set(data) == {"outcome", "reasons"}


def test_region_rules_stay_in_their_region(http):
    liaocheng = post(http, "/api/check/trainee-subsidy", {**TRAINEE_OK, "subsidized_trainings_this_year": 1})
    assert liaocheng["outcome"] == "eligible"  # 济源's once-a-year rule is not 聊城's
    assert not has_reason(liaocheng, "trainee", "trainee.jiyuan_once_a_year")
    jiyuan = post(http, "/api/check/trainee-subsidy", {**TRAINEE_OK, "region": "济源"})
    assert not has_reason(jiyuan, "trainee", "trainee.shandong_where_to_claim")


@pytest.mark.parametrize("path,base,field", [
    ("/api/check/enterprise-yigong", YIGONG_OK, name) for name in ALL_FACTS_YIGONG
] + [("/api/check/trainee-subsidy", TRAINEE_OK, name) for name in ALL_FACTS_TRAINEE])
def test_missing_fact_is_422_naming_the_field(http, path, base, field):
    body = {k: v for k, v in base.items() if k != field}
    r = http.post(path, json=body)
    assert r.status_code == 422
    assert r.json()["field"] == field and field in r.json()["detail"]
    assert re.search(r"[\u4e00-\u9fff]", r.json()["detail"])


@pytest.mark.parametrize("path,body,field", [
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "hire_date": "2021年3月"}, "hire_date"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "hire_date": "2021-02-30"}, "hire_date"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "months": "六"}, "months"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "months": 0}, "months"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "months": True}, "months"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "enterprise_size": "巨型"}, "enterprise_size"),
    ("/api/check/enterprise-yigong", {**YIGONG_OK, "region": ""}, "region"),
    ("/api/check/trainee-subsidy", {**TRAINEE_OK, "same_occupation_level_before": "是"}, "same_occupation_level_before"),
    ("/api/check/trainee-subsidy", {**TRAINEE_OK, "subsidized_trainings_this_year": -1}, "subsidized_trainings_this_year"),
    ("/api/check/trainee-subsidy", {**TRAINEE_OK, "certificate": 5}, "certificate"),
])
def test_malformed_fact_is_422_naming_the_field(http, path, body, field):
    r = http.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and field in r.json()["detail"]


def test_bad_bodies(http):
    assert http.post("/api/check/trainee-subsidy", content=b"{not json").status_code == 422
    assert http.post("/api/check/trainee-subsidy", json=[1, 2]).status_code == 422
    assert http.post("/api/check/nope", json={}).status_code == 404
