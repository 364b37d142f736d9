"""Completion actions of the built-in forms: run an eligibility check, or close a guide.

An action is what a form does with its answers (`on_complete` in the form data). The engine
stays generic; the complaint form registers its own action (writing a ticket) the same way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from forms.checks import CHECKS, format_verdict
from forms.engine import today_for, action, filled
from forms.rules import cite, source_for_clause

if TYPE_CHECKING:
    from core.turn import Turn


@action("eligibility_check")
def eligibility_check(slots: dict, turn: "Turn") -> str:
    """Same facts, same rules as POST /api/check/*: the verdict with its clauses."""
    state = filled(turn)
    verdict = CHECKS[state.form["check"]](slots, state.labels, turn.kb, today_for(turn))
    return format_verdict(state.form["title"], verdict)


@action("guide_done")
def guide_done(slots: dict, turn: "Turn") -> str:
    form = filled(turn).form
    ref = form["cite"]
    source = source_for_clause(ref["notice"], ref["quote"], turn.kb, today_for(turn))
    region = (source.region or "").replace(" ", "")
    return (f"{form['title']}到此结束。\n以上是{region}的规定，依据：{cite(source)}。"
            "其他地区的步骤可能不同，请以当地人社部门为准。\n"
            "还有问题可以直接问我；没拿到券可以回复“投诉”。")
