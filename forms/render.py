"""What a form says: its questions, the summary to confirm, the correction menu, side answers.

Why apart from the walk: the wording and the 2048-byte budget of a WeChat reply change for other
reasons than the order in which questions are asked; and a side question's answer, which the
router fetches, is placed here so that the engine and the router agree on one layout. The
answer itself reads as in the Q&A: `knowledge.render.render_answer`, with its 来源 lines.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from forms.choices import choice_options, numbered
from forms.definition import FormDef, Slot
from forms.parsers import yes_no_labels
from forms.state import CONFIRM, FIX, FormState
from knowledge.render import fit as _fit, render_answer
from knowledge.types import Answer

MAX_BYTES = 2048
HELP_LINE = "（回复序号或文字；“上一步”返回，“取消”退出）"
HELP_LINE_FREE = "（“上一步”返回，“取消”退出）"
NO_ANSWER = "抱歉，暂时没能查到这个问题的答案，请稍后再问。"


def fit(text: str, budget: int = MAX_BYTES) -> str:
    """`text` within one reply (`budget` bytes), cut with "…" when longer."""
    return _fit(text, budget)


def render_question(slot: Slot, prefix: str = "") -> str:
    lines = [prefix + slot.question] if prefix else [slot.question]
    choices = numbered(choice_options(slot.spec))
    if slot.parser == "yes_no" and not choices:
        choices = [{"label": label} for label in yes_no_labels(slot.spec)]
    for i, choice in enumerate(choices, 1):
        lines.append(f"{i}. {choice['label']}")
    lines.append(slot.help if slot.help is not None else HELP_LINE if choices else HELP_LINE_FREE)
    return "\n".join(lines)


def summary_slots(form: FormDef, state: FormState) -> list[Slot]:
    """The answered slots that apply and are shown for confirming, in the form's order."""
    return [s for s in form.slots if s.applies(state.slots) and s.name in state.slots and not s.no_summary]


def _answer_lines(form: FormDef, state: FormState, numbered_items: bool) -> list[str]:
    return [f"{f'{i}.' if numbered_items else '•'} {slot.shown_label}：{state.labels.get(slot.name, '')}"
            for i, slot in enumerate(summary_slots(form, state), 1)]


def summary(form: FormDef, state: FormState) -> str:
    """The answers as bullets: the digits below them are the two actions, not the items; an item
    is named by its place in the list with 改 ("改3")."""
    lines = ["请核对您的回答：", *_answer_lines(form, state, numbered_items=False)]
    lines += ["", "1. " + form.confirm_label, "2. 修改某一项", "（也可以直接回复“改”加第几项，如“改3”）"]
    return "\n".join(lines)


def fix_menu(form: FormDef, state: FormState) -> str:
    return "\n".join(["要修改哪一项？回复序号（如“3”或“改3”）：", *_answer_lines(form, state, numbered_items=True),
                      "回复“返回”回到核对页。"])


def ask_again(form: FormDef, state: FormState) -> str:
    """The pending question (or the summary, or the correction menu) once more."""
    if state.pending == CONFIRM:
        return summary(form, state)
    if state.pending == FIX:
        return fix_menu(form, state)
    slot = form.slot(state.pending)
    return render_question(slot) if slot else ""


@dataclass(frozen=True)
class SideQuestion:
    """A policy question asked inside a form (or just after one expired), for the router to
    answer: the engine knows no knowledge base. `render` places the answer as the form wants it:
    after `head`, before `tail` (the repeated question), within one reply."""

    text: str
    head: str = ""
    tail: str = ""
    unanswered: str = ""  # the whole reply when there is no answer

    @classmethod
    def inline(cls, text: str, tail: str) -> "SideQuestion":
        """Asked in the middle of a form: the answer, then the pending question again."""
        asked = cls(text, tail=tail)
        return replace(asked, unanswered=asked.placed(NO_ANSWER))

    def placed(self, body: str) -> str:
        return fit(self.head + body, MAX_BYTES - len(self.tail.encode())) + self.tail

    def render(self, answer: Optional[Answer]) -> str:
        """The reply for the router's answer (None: it could not get one): the answer with its
        来源 lines, as in the Q&A, its text cut so that they fit between `head` and `tail`."""
        if answer is None:
            return self.unanswered
        room = MAX_BYTES - len(self.head.encode()) - len(self.tail.encode())
        return self.placed(render_answer(answer, budget=room))
