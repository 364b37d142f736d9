"""The two eligibility checks, shared by the chat forms and POST /api/check/*; and any form's
answers given as JSON (`validate_answers`: the work-order API files a complaint with them).

The chat parsers and the request models of forms/facts.py turn what a follower or a caller gave
into the same facts; `check_*` computes the derived figures (amounts, where to apply) and runs
the rule data through `rules.evaluate`. `format_verdict` renders a verdict for a phone.
Keeping both entry points on these functions is what makes chat and API agree.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from core.regions import within
from core.text import cn_date
from forms import regions, rules
from forms.definition import FormDef
from forms.parsing import Context, Invalid, PARSERS
from forms.rules import ELIGIBLE, NOT_ELIGIBLE, OUTCOME_LABELS, Verdict


class FactError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message



def validate_answers(form: FormDef, answers: dict[str, str], today: date) -> tuple[dict, dict]:
    """(values, labels) of the form's slots named in `answers`, each through the slot's own
    parser — the very check the chat makes on the follower's answer — or FactError naming the
    field, with the parser's hint. Slots not in `answers` are left out."""
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, text in answers.items():
        slot = form.slot(name)
        try:
            parsed = PARSERS[slot.parser](text, slot.spec, Context(today=today))
        except Invalid as bad:
            raise FactError(name, f"{slot.shown_label}（字段 {name}）：{bad.hint}") from None
        values[name], labels[name] = parsed.value, parsed.display
    return values, labels


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
