"""Completion actions of the built-in forms: run an eligibility check, or close a guide.

An action is what a form does with its answers (`on_complete` in the form data names it). The
engine stays generic and only looks actions up by name; forms/registry.py registers these when
the shipped forms load, and the bot registers its own (the complaint form's ticket) at start-up.
An action gets the filled form and the context the caller of the engine handed in: for the
router, its `Turn`, whose knowledge base gives the citations (without one they come from
rules/notices.yaml).
"""
from __future__ import annotations

from typing import Any

from core.regions import display
from forms.checks import CHECKS, format_verdict
from forms.rules import cite, source_for_clause, withdrawn_notice
from forms.state import Filled


def _kb(context: Any):
    return getattr(context, "kb", None)


def eligibility_check(done: Filled, context: Any) -> str:
    """Same facts, same rules as POST /api/check/*: the verdict with its clauses."""
    verdict = CHECKS[done.form.check](done.values, done.labels, _kb(context), done.today)
    return format_verdict(done.form.title, verdict)


def guide_done(done: Filled, context: Any) -> str:
    ref = done.form.cite
    source = source_for_clause(ref.notice, ref.quote, _kb(context), done.today)
    region = display(source.region) or ""
    basis = "" if withdrawn_notice(ref.notice, _kb(context)) else f"，依据：{cite(source)}"  # an admin withdrew it
    return (f"{done.form.title}到此结束。\n以上是{region}的规定{basis}。"
            "其他地区的步骤可能不同，请以当地人社部门为准。\n"
            "还有问题可以直接问我；没拿到券可以回复“投诉”。")


BUILT_IN = {"eligibility_check": eligibility_check, "guide_done": guide_done}
