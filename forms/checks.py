"""The two eligibility checks, shared by the chat forms and POST /api/check/*.

`validate_*` turns a JSON body into facts (the same values the chat parsers produce) or raises
`FactError` naming the field; `check_*` computes the derived figures (amounts, where to apply)
and runs the rule data through `rules.evaluate`. `format_verdict` renders a verdict for a phone.
Keeping both entry points on these functions is what makes chat and API agree.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from core.regions import within
from core.text import cn_date
from forms import regions, rules
from forms.choices import choice_sets, match_choice
from forms.rules import ELIGIBLE, NOT_ELIGIBLE, OUTCOME_LABELS, Verdict


class FactError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


FIELD_NAMES = {
    "region": "地区", "enterprise_size": "企业规模", "industry": "所属行业", "ownership": "企业性质",
    "hire_date": "新吸纳时间", "months": "以工代训月数",
    "subsidized_trainings_this_year": "今年已享受培训补贴次数",
    "same_occupation_level_before": "是否享受过同一职业同一等级补贴",
    "certificate": "取得的证书", "over_retirement_age": "是否超过法定退休年龄",
    "receives_pension": "是否按月领取养老金", "job_registration": "是否有就业失业（求职）登记",
    "has_voucher": "是否拿到电子培训券",
}


def _need(body: dict, name: str) -> Any:
    if not isinstance(body, dict):
        raise FactError("body", "请求体必须是 JSON 对象")
    if body.get(name) is None or (isinstance(body.get(name), str) and not body[name].strip()):
        raise FactError(name, f"缺少{FIELD_NAMES[name]}（字段 {name}）")
    return body[name]


def _str(body: dict, name: str) -> str:
    value = _need(body, name)
    if not isinstance(value, str) or len(value) > 100:
        raise FactError(name, f"{FIELD_NAMES[name]}（字段 {name}）必须是不超过100字的文字")
    return value.strip()


def _int(body: dict, name: str, lo: int, hi: int) -> int:
    value = _need(body, name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FactError(name, f"{FIELD_NAMES[name]}（字段 {name}）必须是{lo}到{hi}之间的整数")
    return value


def _bool(body: dict, name: str, optional: bool = False) -> bool | None:
    if optional and body.get(name) is None:
        return None
    value = _need(body, name)
    if not isinstance(value, bool):
        raise FactError(name, f"{FIELD_NAMES[name]}（字段 {name}）必须是 true 或 false")
    return value


def _choice(body: dict, name: str, set_name: str, strict: bool) -> tuple[str, str]:
    """(value, label) of a choice given by word; strict → unknown words are an error,
    otherwise they are kept as typed (an open set like ownership or certificate)."""
    text = _str(body, name)
    choice = match_choice(text, choice_sets()[set_name], digits=False)
    if choice is not None:
        label = choice["label"] if text in (choice["value"], choice["label"]) else f"{choice['label']}（{text}）"
        return choice["value"], label
    if strict:
        allowed = "、".join(c["value"] for c in choice_sets()[set_name] if not c.get("hidden"))
        raise FactError(name, f"{FIELD_NAMES[name]}（字段 {name}）只能是：{allowed}")
    return text, text


def _region(body: dict) -> tuple[str, str]:
    text = _str(body, "region")
    return regions.canonical(text) or text, text


def validate_yigong(body: dict) -> tuple[dict, dict]:
    facts: dict[str, Any] = {}
    labels: dict[str, str] = {}
    facts["region"], labels["region"] = _region(body)
    facts["enterprise_size"], labels["enterprise_size"] = _choice(body, "enterprise_size", "enterprise_size", True)
    facts["industry"], labels["industry"] = _choice(body, "industry", "industries", False)
    if facts["industry"] not in {c["value"] for c in choice_sets()["industries"]}:
        labels["industry"] = f"其他行业（{facts['industry']}）"
        facts["industry"] = "其他"
    facts["ownership"], labels["ownership"] = _choice(body, "ownership", "ownership", False)
    raw_date = _str(body, "hire_date")
    try:
        hired = date.fromisoformat(raw_date)
    except ValueError:
        raise FactError("hire_date", "新吸纳时间（字段 hire_date）必须是 YYYY-MM-DD 格式的日期") from None
    facts["hire_date"], labels["hire_date"] = hired.isoformat(), cn_date(hired)
    facts["months"] = _int(body, "months", 1, 120)
    return facts, labels


def validate_trainee(body: dict) -> tuple[dict, dict]:
    facts: dict[str, Any] = {}
    labels: dict[str, str] = {}
    facts["region"], labels["region"] = _region(body)
    facts["subsidized_trainings_this_year"] = _int(body, "subsidized_trainings_this_year", 0, 100)
    facts["same_occupation_level_before"] = _bool(body, "same_occupation_level_before")
    facts["certificate"], labels["certificate"] = _choice(body, "certificate", "certificates", False)
    facts["over_retirement_age"] = _bool(body, "over_retirement_age")
    facts["receives_pension"] = _bool(body, "receives_pension")
    facts["job_registration"] = _bool(body, "job_registration", optional=True)
    facts["has_voucher"] = _bool(body, "has_voucher", optional=True)
    return facts, labels


def _apply_to(facts: dict, data: dict) -> str:
    spec = data["apply_to"]
    if within(facts.get("region"), "山东 聊城"):
        found = spec["by_ownership_liaocheng"].get(facts.get("ownership"))
        if found:
            return found
    return spec["by_ownership"].get(facts.get("ownership"), spec["default"])


def check_yigong(facts: dict, labels: dict | None = None, kb=None, today: date | None = None) -> Verdict:
    data = rules.load("yigong")
    counted = min(int(facts["months"]), data["max_months"])
    figures = {
        "monthly_amount": data["monthly_amount"], "months": counted,
        "total_amount": data["monthly_amount"] * counted, "apply_to": _apply_to(facts, data),
    }
    verdict = rules.evaluate("yigong", facts, kb, labels, figures, today)
    if verdict.outcome != ELIGIBLE:  # no amount is promised; say where to ask, if anywhere
        verdict.extra.update(monthly_amount=0, months=0, total_amount=0)
        if not regions.covered(facts.get("region"), data["rules_from"]):
            verdict.extra["apply_to"] = data["apply_to"]["outside"]
        elif verdict.outcome == NOT_ELIGIBLE:
            verdict.extra["apply_to"] = None
    return verdict


def check_trainee(facts: dict, labels: dict | None = None, kb=None, today: date | None = None) -> Verdict:
    return rules.evaluate("trainee", facts, kb, labels, {}, today)


CHECKS = {"yigong": check_yigong, "trainee": check_trainee}

_ICON = {"fail": "✗", "review": "？", "pass": "✓", "info": "·"}


def format_verdict(title: str, verdict: Verdict, budget: int = 2048) -> str:
    """The verdict for a phone: outcome, numbered reasons each with its citation, amounts.
    Drops citations, then info lines, until it fits `budget` bytes."""
    head = f"【{title}结果】{OUTCOME_LABELS[verdict.outcome]}"
    if verdict.ended and verdict.outcome != NOT_ELIGIBLE:  # expired: said before any 符合条件 or amount
        head = f"该政策已于{cn_date(verdict.ended)}到期，以下按当时规定测算。\n" + head
    extra = verdict.extra
    if verdict.outcome == ELIGIBLE and extra.get("total_amount"):
        head += f"\n预计补贴：每人每月{extra['monthly_amount']}元×{extra['months']}个月＝{extra['total_amount']}元"
    if extra.get("apply_to") and verdict.outcome != "not_eligible":
        head += f"\n申请到：{extra['apply_to']}"
    order = {"fail": 0, "review": 1, "pass": 2, "info": 3}
    reasons = sorted(verdict.reasons, key=lambda r: order[r.effect])
    tail = "\n\n以上依据文件原文，仅供参考，以当地人社部门审核为准。回复“菜单”返回。"

    def render(with_cites: bool, keep_info: bool) -> str:
        lines = [head, ""]
        cited: list[str] = []  # each notice once, as a numbered footnote
        n = 0
        for r in reasons:
            if r.effect == "info" and not keep_info:
                continue
            n += 1
            marks = ""
            if with_cites:
                for s in r.sources:
                    label = rules.cite(s) + ("（已过期）" if s.expired else "")
                    if label not in cited:
                        cited.append(label)
                    mark = f"[{cited.index(label) + 1}]"
                    if mark not in marks:
                        marks += mark
            lines.append(f"{n}. {_ICON[r.effect]} {r.text}{marks}")
        if cited:
            lines += ["", "依据："] + [f"[{i}] {c}" for i, c in enumerate(cited, 1)]
        return "\n".join(lines) + tail

    for with_cites, keep_info in ((True, True), (True, False), (False, False)):
        text = render(with_cites, keep_info)
        if len(text.encode()) <= budget:
            return text
    return text.encode()[: budget - 3].decode(errors="ignore") + "…"
