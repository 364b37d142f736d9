"""A follower who sends an ID number (身份证号) is told the bot does not need it.

The bot never asks for one: no check here depends on it, so it is not collected (and the log
filter in bot/logsafe.py masks any that slip into a line). People still send them, often
because an institution told them "发身份证号就能查补贴". The reply says it was not kept, and,
when the checksum (GB 11643-1999, `core.pii.checksum_ok`) is wrong, that the number itself looks
mistyped, so nobody goes away believing a wrong number was "checked". `register` adds the command
to the dialog at start-up (called from bot/dialog/wiring.py).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.dialog.registry import Registry

from core.pii import checksum_ok


def reply(turn, match: re.Match) -> str:
    lines = ["为保护您的隐私，请不要在聊天中发送身份证号。本助手查政策、做自测都不需要身份证号，刚才的号码没有保存。"]
    if not checksum_ok(match.group("id")):
        lines.append("另外，这个号码的校验位不对，可能输错了。")
    lines.append("查询个人补贴发放情况，请带身份证到当地人社部门或登录当地人社网上服务平台。回复“菜单”查看我能做什么。")
    return "\n".join(lines)


def register(dialog: "Registry") -> None:
    """A message that is (or states) an ID number gets `reply`."""
    dialog.command(r"^(我的)?(身份证号?码?|身份证)?\s*[:：是]?\s*(?P<id>\d{17}[\dxX])$", reply)
