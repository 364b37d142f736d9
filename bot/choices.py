"""Follow-ups offered under an answer ("回复数字查看：1 …") and picked with a bare digit.

Why the database and not memory: several workers serve one follower, so the offer is a
`KeyValue` row ("choices:<openid>", 30 minutes), written in the turn's own session so it commits
with the reply that shows it. Why a hook before the menu digits (`bot.dialog.router.before_menu`
calls `pick`): while an offer stands, a digit means "show me that one" and may be repeated; any
other text withdraws it (except 更多: the list may sit above a part not read yet), and digits
select the menu again.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Optional, Union

from bot import turn_values
from core.turn import Turn
from knowledge.types import Answer, Choice

PREFIX = turn_values.declare("choices")  # KeyValue "choices:<openid>" (bot/notice_admin.py drops them too)
MAX_CHOICES = 9  # one digit each (a region's notices in an overview)
TTL = timedelta(minutes=30)
SHORT_LABEL = 24  # characters, "…" included
PICK = re.compile(r"\d{1,2}")  # longer digit strings (a phone or ID number) are not picks


def numbered_list(choices: list[Choice], room: int) -> str:
    """The block under an answer. Labels are cut to SHORT_LABEL characters when the full block
    would not fit the `room` bytes left on the first page (room < 0: that page is full anyway)."""
    labels = [" ".join(c.label.split()) for c in choices[:MAX_CHOICES]]
    block = _block(labels)
    if 0 <= room < len(block.encode()):
        block = _block([s if len(s) <= SHORT_LABEL else s[:SHORT_LABEL - 1] + "…" for s in labels])
    return block


def _block(labels: list[str]) -> str:
    return "\n\n回复数字查看：\n" + "\n".join(f"{i} {label}" for i, label in enumerate(labels, 1))


def offer(turn: Turn, choices: list[Choice]) -> None:
    """Remember the choices an answer shows (none: forget any earlier offer)."""
    if not choices:
        turn_values.drop(turn, PREFIX)
        return
    value = json.dumps([c.model_dump() for c in choices[:MAX_CHOICES]], ensure_ascii=False)
    turn_values.put(turn, PREFIX, value, TTL)


def pending(turn: Turn) -> list[Choice]:
    """The choices on offer, unless they expired."""
    row = turn_values.get(turn, PREFIX)
    if not turn_values.live(row):
        return []
    return [Choice.model_validate(c) for c in json.loads(row.value)]


def pick(turn: Turn, text: str) -> Optional[Union[Answer, str]]:
    """A digit while choices are pending: that choice's Answer (the router formats it), or the
    Chinese prompt for a digit out of range; None when the message is no pick (the offer is
    then withdrawn: any other message is a new request)."""
    offered = pending(turn) if PICK.fullmatch(text) else []
    if not offered:
        offer(turn, [])
        return None
    n = int(text)
    if not 1 <= n <= len(offered):
        return f"请回复1到{len(offered)}之间的数字。" + numbered_list(offered, -1)
    choice = offered[n - 1]
    return Answer(answer=choice.answer, sources=choice.sources)
