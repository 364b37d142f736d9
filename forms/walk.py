"""The walk through one form's slots: answer, jump, collect photos, miss, confirm, correct, go back.

Why apart from forms/engine.py: the engine decides what a message is (a cancel, a new form, an
expired form, a step of this one); this module is what a step does to the state. A `Walk` holds
the form, a copy of the state and the message; its methods change the state and return the
reply; `result` hands both back. Nothing here reads or writes anything but the state.
"""
from __future__ import annotations

import logging
import re
from typing import NamedTuple, Optional

from forms.choices import choice_options
from forms.definition import END, FormDef, Slot
from forms.looks import misplaced
from forms.parsing import PARSERS, Context, Invalid, Parsed, cn_number, has_question_word, looks_like_question
from forms.registry import resolve_action
from forms.render import SideQuestion, ask_again, fit, fix_menu, render_question, summary, summary_slots
from forms.state import CONFIRM, FIX, Filled, FormState, UserInput

log = logging.getLogger("policybot.forms")

MAX_MISSES = 3
CONFIRM_WORDS = {"1", "确认", "确定", "对", "对的", "是", "是的", "没问题", "正确", "没错", "好", "好的"}
CORRECT_WORDS = {"2", "修改", "改", "改一下", "不对", "有错", "更正"}
FREE_TEXT_PARSERS = {"text"}
ACTION_FAILED = "抱歉，处理时出了点问题，您的回答还在。请稍后回复“1”再试一次，或回复“取消”。"


class Step(NamedTuple):
    """What the engine returns for one message (forms/engine.py)."""

    reply: Optional[str]  # None: not the form's message, the router answers it
    new_state: Optional[FormState]  # None: no active form any more
    side_question: Optional[SideQuestion] = None  # for the router to answer and render


class GiveUp(Step):
    """The follower gave the form up for another command: `reply` is not a reply but that kept
    message, for the router to handle now; `new_state` is None."""

    __slots__ = ()


def filled(form: FormDef, state: FormState, today) -> Filled:
    """The form with the answers that apply and their shown labels."""
    values = {k: v for k, v in state.slots.items() if (slot := form.slot(k)) is not None and slot.applies(state.slots)}
    labels = {k: v for k, v in state.labels.items() if k in values}
    return Filled(form, values, labels, today)


class Walk:
    def __init__(self, form: FormDef, state: FormState, entry: UserInput):
        self.form, self.entry = form, entry
        self.state: Optional[FormState] = state  # None once the form has ended
        self.side: Optional[SideQuestion] = None

    def result(self, reply: Optional[str]) -> Step:
        """The reply with the new state, stamped with the time, and any side question."""
        if self.state is not None:
            self.state.updated_at = self.entry.now
        return Step(reply, self.state, self.side)

    def parse(self, slot: Slot, text: str) -> Parsed:
        entry = self.entry
        ctx = Context(today=entry.today, kind=entry.kind, media_id=entry.media_id, pic_url=entry.pic_url)
        return PARSERS[slot.parser](text, slot.spec, ctx)

    def ask_again(self) -> str:
        return ask_again(self.form, self.state)

    def advance(self) -> str:
        """Ask the next unanswered question that applies; then the summary; then complete."""
        state = self.state
        state.misses, state.offer_cancel = 0, False
        for slot in self.form.slots:
            if slot.only_by_goto:
                continue
            if slot.name not in state.slots and slot.applies(state.slots):
                state.pending = slot.name
                return render_question(slot)
        if self.form.confirm:
            state.pending = CONFIRM
            return summary(self.form, state)
        return self.complete()

    def on_answer(self, slot: Slot, text: str) -> str:
        hint = ""
        try:
            parsed: Optional[Parsed] = self.parse(slot, text)
        except Invalid as bad:
            parsed, hint = None, bad.hint
        # free-text answers (a complaint's description) may well contain "什么" or "？": they are
        # answers there, unless the slot opts in to side questions
        free_text = slot.parser in FREE_TEXT_PARSERS and not slot.side_questions
        question = looks_like_question(text) and not free_text
        # a question-looking message is a side question, unless it is a clean answer with a '?'
        # ("2021年3月？"); "饭馆能申请吗？" is a question even though it names an industry
        if parsed is not None and (not question or (parsed.confident and not has_question_word(text))):
            if slot.parser == "images":
                return self.on_image(slot, parsed)
            other = None if parsed.confident else misplaced(self.form, slot, text, self.entry.today)
            if other is not None:  # it answers another question: ask this one again, store nothing
                return self.miss(f"这一步请回复{slot.shown_label}，您发的内容像是{other.shown_label}，没有记下。",
                                 head="")
            return self.accept(slot, parsed)
        if question:
            return self.side_question(text)
        return self.answer_ahead(slot, text) or self.miss(hint)

    def answer_ahead(self, slot: Slot, text: str) -> Optional[str]:
        """A choice may name the slot it leads to (`implies: phone`): "是否留下手机号？" answered
        with the number itself takes that choice and the number in one go."""
        for choice in choice_options(slot.spec):
            target = self.form.slot(choice.get("implies"))
            if target is None:
                continue
            try:
                implied = self.parse(target, text)
            except Invalid:
                continue
            reply = self.accept(slot, Parsed(choice.get("value", choice["label"]), choice["label"]))
            return reply if self.state is None else self.accept(target, implied)
        return None

    def accept(self, slot: Slot, parsed: Parsed) -> str:
        state, name = self.state, slot.name
        state.slots[name], state.labels[name] = parsed.value, parsed.display
        if name in state.history:
            state.history.remove(name)
        state.history.append(name)
        # answers to questions that no longer apply (e.g. 行业 after changing to 小微企业) are dropped
        for other in self.form.slots:
            if other.name in state.slots and not other.applies(state.slots):
                state.slots.pop(other.name)
                state.labels.pop(other.name, None)
                if other.name in state.history:
                    state.history.remove(other.name)
        target = _goto(slot, parsed.value)
        if target == END:
            return self.complete()
        jump = self.form.slot(target)
        if jump is not None:
            state.slots.pop(jump.name, None)
            state.labels.pop(jump.name, None)
            state.pending, state.misses, state.offer_cancel = jump.name, 0, False
            return fit(render_question(jump))
        return fit(self.advance())

    def on_image(self, slot: Slot, parsed: Parsed) -> str:
        kind, item = parsed.value
        pics = self.state.collecting.setdefault(slot.name, [])
        if kind == "add":
            limit = 9 if slot.max is None else slot.max
            if len(pics) >= limit:
                return f"最多收{limit}张照片，已经够了。回复“好了”继续。"
            pics.append(item)
            return f"已收到第{len(pics)}张照片。可以继续发，发完回复“好了”。"
        self.state.collecting.pop(slot.name, None)
        shown = f"{len(pics)}张照片" if pics else "没有"
        return self.accept(slot, Parsed(pics, shown))

    def miss(self, hint: str, head: str = "没能识别您的回答。") -> str:
        state = self.state
        state.misses += 1
        if state.misses >= MAX_MISSES:
            state.offer_cancel = True
            return fit(f"还是没能识别您的回答。{hint}\n\n要继续吗？\n1. 继续填写\n2. 取消{self.form.title}")
        return fit(f"{head}{hint}\n\n{self.ask_again()}")

    def side_question(self, text: str) -> str:
        """A policy question asked in the middle: the router answers it, then the pending question
        is asked again. The reply returned here is the one for when no answer can be had."""
        self.side = SideQuestion.inline(text.strip(), f"\n\n——\n继续{self.form.title}：\n{self.ask_again()}")
        return self.side.unanswered

    def on_confirm(self, t: str, text: str) -> str:
        """At the summary "1" confirms and "2" opens the correction menu; "改4" (or a bare "4",
        any number past the two actions) changes the 4th answer shown."""
        if t in CONFIRM_WORDS:
            return self.complete()
        if t in CORRECT_WORDS:
            self.state.pending, self.state.misses = FIX, 0
            return fix_menu(self.form, self.state)
        shown = summary_slots(self.form, self.state)
        n = _item_number(t)
        if n is not None and (t.startswith(("改", "修改")) or n > 2):
            if 1 <= n <= len(shown):
                return self.reopen(shown[n - 1])
            return self.miss(f"一共{len(shown)}项，请回复“改1”到“改{len(shown)}”。")
        if looks_like_question(text):
            return self.side_question(text)
        return self.miss("请回复“1”确认，或“2”修改（也可以直接回复“改”加第几项，如“改3”）。")

    def on_fix(self, t: str) -> str:
        shown = summary_slots(self.form, self.state)
        n = _item_number(t)
        target = None
        if n is not None:
            if 1 <= n <= len(shown):
                target = shown[n - 1]
        else:
            target = next((s for s in shown if s.label and len(t) >= 2 and (s.label in t or t in s.label)), None)
        if target is None:
            return self.miss(f"请回复 1-{len(shown)} 之间的序号。")
        return self.reopen(target)

    def reopen(self, target: Slot) -> str:
        """Ask an answered slot again (from the summary, the correction menu or a change word)."""
        state = self.state
        state.slots.pop(target.name, None)
        state.labels.pop(target.name, None)
        state.collecting.pop(target.name, None)
        state.pending, state.misses, state.offer_cancel = target.name, 0, False
        return fit(render_question(target, prefix="修改："))

    def back(self) -> str:
        state = self.state
        if state.pending == FIX:  # from the correction menu back to the summary
            state.pending = CONFIRM
            return summary(self.form, state)
        history = [h for h in state.history if h in state.slots]
        if not history:
            return fit("已经是第一个问题了。\n\n" + self.ask_again())
        previous = history[-1]
        state.history = history[:-1]
        state.slots.pop(previous, None)
        state.labels.pop(previous, None)
        state.collecting.pop(previous, None)
        state.pending, state.misses, state.offer_cancel = previous, 0, False
        return fit("好的，回到上一步。\n\n" + render_question(self.form.slot(previous)))

    def complete(self) -> str:
        """Run the form's completion action with the answers; the form ends when it succeeds and
        keeps its answers when it fails (the follower can confirm again)."""
        fn = resolve_action(self.form.on_complete)
        try:
            reply = fn(filled(self.form, self.state, self.entry.today), self.entry.context)
        except Exception:
            log.exception("form %s: completion action failed", self.form.name)
            return ACTION_FAILED
        self.state = None
        return fit(reply)


def _item_number(t: str) -> Optional[int]:
    """The item a correction names: "4", "第4项", "改4", "改第四项"."""
    m = re.fullmatch(r"(?:改|修改)?第?([0-9]+|[一二三四五六七八九十]+)(?:项|个|条)?", t)
    return cn_number(m.group(1)) if m else None


def _goto(slot: Slot, value) -> Optional[str]:
    """A choice may jump: `goto: <slot>` asks that slot next, `goto: _end` completes the form."""
    for choice in choice_options(slot.spec):
        if choice.get("value", choice.get("label")) == value and choice.get("goto"):
            return choice["goto"]
    return None
