"""The follower's form, turn by turn: load its state, hand the message to the forms engine,
keep the new state, and answer a policy question asked inside the form.

Why here and not in forms/: the engine is pure (forms/engine.py): it knows no follower row and
no knowledge base. This glue builds the engine's `UserInput` from a `Turn`, saves
`Step.new_state` on the follower, and answers `Step.side_question` with the knowledge base
(rendered by the form, `SideQuestion.render`, through the one answer renderer). A form that
fails at run time ends with an apology; its traceback goes to the log.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Optional, Union

from bot.dialog.commands import normalise
from bot.dialog.menu import menu_text
from bot.dialog.registry import REGISTRY
from core import clock
from core.turn import Turn
from forms import engine as forms_engine, registry as forms_registry
from forms.state import FormState, UserInput
from storage.models import utcnow

log = logging.getLogger("policybot.dialog")

NOT_READY = "这项功能正在准备中，请稍后再试。\n\n"


@dataclass(frozen=True)
class Replay:
    """The follower gave up the form for another command: the router handles `text` as a new
    message and puts `note` before its reply."""

    text: str
    note: str


def command_label(text: str) -> Optional[str]:
    """What a registered command would do with `text` outside a form ("查询投诉进度"), if any."""
    norm = normalise(text)
    return next((c.label for c in REGISTRY.commands if c.label and c.regex.match(norm)), None)


def _form_input(turn: Turn) -> UserInput:
    inbound = turn.inbound
    return UserInput(today=clock.today(turn.settings), now=utcnow(), kind=inbound.kind, text=inbound.text or "",
                     media_id=inbound.media_id, pic_url=inbound.pic_url, event=inbound.event,
                     event_key=inbound.event_key, region=turn.follower.region, context=turn,
                     command=command_label(inbound.text) if inbound.text else None)


def _form_step(turn: Turn, run: Callable[[UserInput], forms_engine.Step]) -> Union[str, Replay, None]:
    """Run one engine call and keep its state; a form that fails at run time ends, the follower
    is told so, and the traceback is logged."""
    previous = FormState.load(turn.follower.form_state)
    try:
        step = run(_form_input(turn))
    except Exception:
        log.exception("forms engine failed")
        turn.follower.form_state = {}
        return "抱歉，办理过程中出了点问题，已退出当前事项。请稍后再试，或回复“菜单”。"
    turn.follower.form_state = step.new_state.dump() if step.new_state else {}
    if isinstance(step, forms_engine.GiveUp):
        dropped = forms_registry.get_form(previous.form) if previous else None
        return Replay(step.reply, f"已放弃{dropped.title if dropped else '填写'}，填写的内容没有保存。")
    if step.side_question is None:
        return step.reply
    try:
        answer = turn.kb.ask(step.side_question.text, region=turn.follower.region)
    except Exception:
        log.exception("side question failed")
        answer = None
    return step.side_question.render(answer)


def continue_form(turn: Turn) -> Union[str, Replay, None]:
    """The active form's reply; None when there is none or the message is not the form's; a
    `Replay` when the follower gave the form up for another command."""
    state = FormState.load(turn.follower.form_state)
    if state is None:
        return None

    def run(entry: UserInput) -> forms_engine.Step:
        definition = forms_registry.get_form(state.form)
        if definition is None:  # a form that no longer exists: forget it quietly
            return forms_engine.Step(None, None)
        return forms_engine.step(definition, state, entry)

    return _form_step(turn, run)


def match_form(text_or_key: str) -> Optional[str]:
    """The form a phrase or a menu key starts, if any."""
    try:
        return forms_registry.match_trigger(text_or_key)
    except Exception:
        log.exception("forms match_trigger failed")
        return None


def start_form(turn: Turn, name: str) -> str:
    reply = _form_step(turn, lambda entry: forms_engine.start(forms_registry.form(name), entry))
    return reply if isinstance(reply, str) else NOT_READY + menu_text()
