"""Q&A in the chat: a question goes to the knowledge base, its `Answer` becomes the reply.

Why apart from the router: what a reply to a policy question holds changes with the answers,
not with the order in which a message is tried. The answer's text and its 来源 come from the one
renderer, `knowledge.render.render_answer` (the forms and the CLI use it too); this module adds
what only the chat has: the hints after a refusal, the numbered choices a digit picks
(bot/choices.py), the line inviting 没用 (bot/feedback.py) and the `more` text reached by 更多
(after a PAGE_BREAK, bot/dialog/paging.py).
"""
from __future__ import annotations

import logging
from typing import Optional

from bot import choices, feedback
from bot.dialog.paging import MAX_REPLY_BYTES, MORE_HINT, MORE_WORDS, PAGE_BREAK
from core.turn import Turn
from knowledge.render import render_answer
from knowledge.types import Answer

log = logging.getLogger("policybot.dialog")

NO_REGION_HINT = "\n发送“我在聊城”这样的消息设置地区，可优先查当地政策。"
REFUSED_HINT = "\n回复“菜单”查看我能做什么。"


def format_answer(ans: Answer, region: Optional[str]) -> str:
    """The answer, its 来源, the numbered choices, the one line inviting 没用 (an answer, not a
    refusal: bot/feedback.py); `more` after a PAGE_BREAK (reached by 更多)."""
    text = render_answer(ans)
    if ans.refused:
        text += ("" if region else NO_REGION_HINT) + REFUSED_HINT
    tail = "" if ans.refused else feedback.UNHELPFUL_LINE
    more = (ans.more or "").replace(PAGE_BREAK, "\n").strip()
    budget = MAX_REPLY_BYTES - (len(MORE_HINT.encode()) if more else 0)  # of the first message
    if ans.choices:
        room = budget - len(text.encode()) - len(tail.encode())
        text += choices.numbered_list(ans.choices, room)
    if len(text.encode()) <= budget < len((text + tail).encode()):
        tail = ""  # the line would push a reply that fits one message into two (没用 still works)
    text += tail
    return text + PAGE_BREAK + more if more else text


def answer_question(turn: Turn, question: str) -> str:
    """Ask with the follower's region; the answer's choices are offered for the next digit, and
    the answer is remembered for a 没用 (bot/feedback.py)."""
    try:
        ans = turn.kb.ask(question, region=turn.follower.region)
    except Exception:
        log.exception("kb.ask failed")
        return "抱歉，查询政策时出了点问题，请稍后再试。"
    choices.offer(turn, ans.choices)
    feedback.remember(turn, question, ans)
    return format_answer(ans, turn.follower.region)


def pick_choice(turn: Turn, text: str) -> Optional[str]:
    """A digit picking one of the last answer's numbered choices (bot/choices.py)."""
    if text in MORE_WORDS:
        return None  # the list may sit above a part not read yet
    picked = choices.pick(turn, text)
    return format_answer(picked, turn.follower.region) if isinstance(picked, Answer) else picked
