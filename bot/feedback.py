"""“没用”: a follower says an answer did not help, with no friction, and gets two ways on.

Why in the chat layer: the knowledge base logs every answer (knowledge/unanswered.py) and keeps
its key on the Answer; only the chat knows which answer a follower just read. So the Q&A reply
(bot/dialog/answers.py) remembers the last answer per follower in `KeyValue`
("answered:<openid>", 30 minutes: any worker may get the next message) and ends with one short
line inviting 没用. 没用 within those 30 minutes marks that answer unhelpful in the log (its
question joins the unanswered list, for the admins to teach), and the reply offers two numbered
ways on ("unhelpful:<openid>", 30 minutes): 1 the complaint form, 2 a human (the 12333
hotline, and the staff will see the question). `register` hands the dialog the 没用 command and
the digit hook (bot/dialog/wiring.py); this module does not import the router.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Optional

from bot import turn_values
from bot.dialog.registry import RunKey
from core.turn import Turn
from knowledge.types import Answer
from knowledge.unanswered import QuestionLog, clean_question

if TYPE_CHECKING:
    from bot.dialog.registry import Registry

log = logging.getLogger("policybot.dialog")

UNHELPFUL_LINE = "\n\n没帮上？回复“没用”"
TTL = timedelta(minutes=30)
WORDS = r"^(没用|没有用|没啥用|没什么用|没帮上|没帮助|没有帮助|不管用|没用的)$"
CHOICES = "\n\n回复数字：\n1 投诉/反映培训机构问题\n2 转人工"
RECORDED = "抱歉没帮上忙，已记下这个问题，工作人员会据此改进答复。" + CHOICES
NOTHING = "抱歉没帮上忙。可以换个说法再问一次，或者：" + CHOICES
HUMAN = ("人工服务：请拨打12333人社服务热线（工作时间）咨询。\n"
         "您刚才的问题已转给工作人员，他们会看到并补充答复。")


ANSWERED = turn_values.declare("answered")  # KeyValue "answered:<openid>": the last answer
OFFER = turn_values.declare("unhelpful")  # "unhelpful:<openid>": 没用's two ways on


def _take(turn: Turn, prefix: str) -> Optional[str]:
    """The value if it has not expired; the row is gone either way."""
    row = turn_values.drop(turn, prefix)
    return row.value if turn_values.live(row) else None


def remember(turn: Turn, question: str, ans: Answer) -> None:
    """After a Q&A reply: an answer can be marked 没用 for 30 minutes; a refusal cannot (the
    log has it already)."""
    if ans.refused:
        _take(turn, ANSWERED)
        return
    value = json.dumps({"key": ans.log_key, "question": clean_question(question),
                        "region": turn.follower.region}, ensure_ascii=False)
    turn_values.put(turn, ANSWERED, value, TTL)


_fallback: dict[str, QuestionLog] = {}
_fallback_lock = threading.Lock()


def _log_for(turn: Turn) -> QuestionLog:
    """The knowledge base's question log, or one on the same database (a stand-in knowledge
    base in tests has none): grouped lexically then."""
    own = getattr(turn.kb, "questions", None)
    if isinstance(own, QuestionLog):
        return own
    with _fallback_lock:
        return _fallback.setdefault(turn.settings.db_url, QuestionLog(turn.settings))


def unhelpful_command(turn: Turn, match: "re.Match[str]") -> str:
    """没用: mark the last answer (within 30 minutes) and offer the complaint or a human."""
    raw = _take(turn, ANSWERED)
    turn_values.put(turn, OFFER, "1", TTL)
    if raw is None:
        return NOTHING
    try:
        data = json.loads(raw)
        _log_for(turn).mark_unhelpful(data.get("key"), data.get("question", ""), data.get("region"))
    except Exception:  # the follower still gets the ways on
        log.exception("marking an answer unhelpful failed")
    return RECORDED


def offer_hook(turn: Turn, text: str) -> Optional[str | RunKey]:
    """Before the menu digits: 1 or 2 after 没用's offer; any other message withdraws it."""
    if turn_values.get(turn, OFFER) is None:
        return None
    pending = _take(turn, OFFER)
    if pending is None or text not in ("1", "2"):
        return None
    if text == "2":
        return HUMAN
    return RunKey("FORM_COMPLAINT")  # the complaint form, opened by the router


def register(dialog: "Registry") -> None:
    dialog.command(WORDS, unhelpful_command)
    dialog.hook(offer_hook)
