"""The generic form engine, as a pure function: a definition, a state and a message in; a reply,
the new state and perhaps a side question out.

A form is data (forms/defs/*.yaml, checked by forms/definition.py): its triggers (phrases and
menu keys), its slots — each with a question, a parser, optional numbered choices and an
optional `when` condition — whether to confirm a summary, and the completion action's name. The
engine knows nothing about 以工代训 or complaints; it walks slots (forms/walk.py), parses
answers (an answer that is plainly another slot's is asked again: forms/looks.py), handles 取消 /
上一步 / side questions / three misses / 24-hour expiry / summary-and-correct, says a guide's
`regional` note to a follower elsewhere, and at the end runs the registered action with the
collected answers.

Why pure: the engine never touches the follower row or the knowledge base. The router
(bot/dialog/formflow.py) loads the follower's `FormState`, calls

    start(definition, user_input) -> Step          # begin a form
    step(definition, state, user_input) -> Step    # one message inside the active form

saves `Step.new_state` (None: no form any more) and, when `Step.side_question` is set, answers it
with the knowledge base and renders it (`SideQuestion.render`). `Step.reply` None means the
message is not the form's: the router handles it. Another command typed inside a form (a menu
word, another form's phrase, or what the router names in `UserInput.command`) is asked about
first ("要放弃并…吗？回复1放弃 / 2继续"); on "1" the form ends and a `GiveUp` step hands
the kept message back to the router. Forms and actions are found by name in forms/registry.py
(`match_trigger`, `get_form`).
"""
from __future__ import annotations

from datetime import timedelta

from forms import regions
from forms.definition import FormDef
from forms.parsing import Invalid, clean, looks_like_question
from forms.registry import form, match_trigger  # noqa: F401  (match_trigger: an entry point here too)
from forms.render import HELP_LINE, SideQuestion, fit  # noqa: F401  (HELP_LINE: the line under a question)
from forms.state import CONFIRM, FIX, FormState, UserInput
from forms.walk import GiveUp, Step, Walk

IDLE_LIMIT = timedelta(hours=24)
CANCEL_WORDS = {"取消", "退出", "算了", "算了吧", "不填了", "不测了", "不要了", "结束", "取消自测", "退出自测", "不弄了"}
LEAVE_WORDS = {"菜单", "主菜单", "目录"}
BACK_WORDS = {"上一步", "上一题", "上一个", "返回", "后退", "返回上一步", "回到上一步"}
CONTINUE_WORDS = {"1", "继续", "继续填写", "继续填", "好", "好的"}
STOP_WORDS = {"2", "取消", "取消自测"}  # after three misses: "2. 取消…"
GIVE_UP_WORDS = {"1", "放弃", "确定放弃", "是", "是的", "好", "好的"}  # "要放弃并…吗？回复1放弃 / 2继续"
KEEP_WORDS = {"2", "继续", "继续填写", "不", "不放弃", "否"}
TEXT_KINDS = ("text", "voice")


def start(definition: FormDef, user_input: UserInput) -> Step:
    """Begin `definition` (replacing any active form); the reply is its first question."""
    now = user_input.now
    walk = Walk(definition, FormState(form=definition.name, started_at=now, updated_at=now), user_input)
    notes = []  # a prefilled answer is said, with how to change it (`prefill_note`)
    for slot in definition.slots:
        if slot.prefill == "follower_region" and user_input.region:
            try:
                parsed = walk.parse(slot, user_input.region)
            except Invalid:
                continue
            walk.state.slots[slot.name], walk.state.labels[slot.name] = parsed.value, parsed.display
            if slot.prefill_note:
                notes.append(slot.prefill_note.replace("{shown}", parsed.display))
    if definition.regional:  # a guide that follows one region's notice: say so to a follower elsewhere
        notes.append(regions.outside_note(definition.regional, user_input.region))
    reply = walk.advance()
    parts = [p for p in (definition.intro, "\n".join(n for n in notes if n), reply) if p]
    return walk.result(fit("\n\n".join(parts)))


def step(definition: FormDef, state: FormState, user_input: UserInput) -> Step:
    """One message for the active form `definition`, whose state is `state` (left unchanged)."""
    entry = user_input
    if entry.kind == "event":  # a menu click may start another form; other events are not ours
        name = match_trigger(entry.event_key) if (entry.event or "").lower() == "click" else None
        return start(form(name), entry) if name else Step(None, state)
    if state.updated_at is not None and entry.now - state.updated_at > IDLE_LIMIT:
        return _expire(definition, entry)

    walk = Walk(definition, state.model_copy(deep=True), entry)
    text = entry.text or ""
    t = clean(text)
    pending = state.pending
    slot = definition.slot(pending) if pending not in (CONFIRM, FIX) else None

    if entry.kind not in TEXT_KINDS and not (slot and slot.parser == "images"):
        return walk.result(fit("这一步需要您回复文字。\n\n" + walk.ask_again()))
    if entry.kind == "voice" and not t:
        return walk.result(fit("没听清您的语音，请再说一遍或打字回复。\n\n" + walk.ask_again()))

    if entry.kind in TEXT_KINDS:
        if t in CANCEL_WORDS:
            return Step(_cancelled(definition), None)
        if state.leaving is not None:  # "要放弃并…吗？" was asked
            walk.state.leaving = None
            if t in GIVE_UP_WORDS:
                return GiveUp(state.leaving, None)
            if t in KEEP_WORDS:
                return walk.result(fit(f"好的，继续{definition.title}。\n\n" + walk.ask_again()))
        if t in BACK_WORDS:
            return walk.result(walk.back())
        changed = _change_word(definition, walk.state, t)
        if changed is not None:
            return walk.result(walk.reopen(changed))
        elsewhere = _elsewhere(definition, entry, t)
        if elsewhere:  # another command: ask before the answers are dropped
            walk.state.leaving = text.strip()
            return walk.result(fit(f"您正在填写{definition.title}，要放弃并{elsewhere}吗？回复1放弃 / 2继续"))

    if state.offer_cancel:
        if t in CONTINUE_WORDS:
            walk.state.offer_cancel, walk.state.misses = False, 0
            return walk.result(fit(walk.ask_again()))
        if t in STOP_WORDS:
            return Step(_cancelled(definition), None)

    if pending == CONFIRM:
        return walk.result(walk.on_confirm(t, text))
    if pending == FIX:
        return walk.result(walk.on_fix(t))
    if slot is None:  # state points at a slot that is gone: re-walk the form
        return walk.result(fit(walk.advance()))
    return walk.result(walk.on_answer(slot, text))


def _change_word(definition: FormDef, state: FormState, t: str):
    """The answered slot a change word ("改地区") reopens, if `t` is one."""
    return next((s for s in definition.slots
                 if t in s.change_words and s.name in state.slots and s.applies(state.slots)), None)


def _elsewhere(definition: FormDef, entry: UserInput, t: str) -> str:
    """What the message would do outside the form ("开始投诉举报", "返回菜单", the router's
    `command`), or "" when it is the form's."""
    if t in LEAVE_WORDS:
        return "返回菜单"
    other = match_trigger(entry.text or "")
    if other:
        return f"重新开始{definition.title}" if other == definition.name else f"开始{form(other).title}"
    return entry.command or ""


def _cancelled(definition: FormDef) -> str:
    if definition.cancel_message:
        return definition.cancel_message
    return f"已取消{definition.title}，填写的内容没有保存。需要时回复“{definition.first_phrase}”重新开始。"


def _expire(definition: FormDef, entry: UserInput) -> Step:
    """A form idle for more than 24 h ends; this message is then handled as a fresh one:
    a trigger starts its form, a question is answered, anything else gets the note and a hint."""
    note = f"您之前的{definition.title}超过24小时没有继续，已自动结束（答过的内容没有保存）。"
    text = entry.text or ""
    name = match_trigger(text)
    if name:
        started = start(form(name), entry)
        return started._replace(reply=fit(note + "\n\n" + started.reply))
    hint = f"{note}需要时回复“{definition.first_phrase}”重新开始；其他问题请直接发给我。"
    if entry.kind in TEXT_KINDS and looks_like_question(text):
        return Step(hint, None, SideQuestion(text.strip(), head=note + "\n\n", unanswered=hint))
    return Step(hint, None)
