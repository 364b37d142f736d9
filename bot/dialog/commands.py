"""The dialog's own commands, as data: a pattern on the normalised text and a handler.

Why a table: a new phrase is one line here, and the router only walks the table (after an
active form, the hooks, 更多 and the menu digits; before form triggers and Q&A). A handler gets
the `Turn` and the match and returns the reply, or None to let the message go on (to Q&A).
Parts outside the dialog add their commands through the registry (bot/dialog/registry.py);
they are tried after these.
"""
from __future__ import annotations

import re
import unicodedata

from bot.dialog.menu import menu_text, welcome_text
from bot.dialog.region import set_region
from bot.dialog.registry import Command
from core.turn import Turn

CANCEL_WORDS = r"取消|退出|算了|不办了|结束|停止"
MENU_WORDS = r"帮助|菜单|功能|help|menu|\?|？"


def normalise(text: str) -> str:
    """Full-width → half-width, trimmed, trailing punctuation dropped; for matching commands."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    return re.sub(r"[。.!！~～]+$", "", text).strip()


def _show_menu(turn: Turn, m) -> str:
    return menu_text()


def _cancel_idle(turn: Turn, m) -> str:
    return "当前没有进行中的事项。\n\n" + menu_text()


def _greet(turn: Turn, m) -> str:
    return welcome_text()


def _thanks(turn: Turn, m) -> str:
    return "不客气！还有问题随时问我，回复“菜单”查看全部功能。"


COMMANDS: list[Command] = [
    Command(rf"^({MENU_WORDS})$", _show_menu),
    Command(rf"^({CANCEL_WORDS})$", _cancel_idle),
    Command(r"^(你好|您好|hi|hello|嗨|在吗|在不在)$", _greet),
    Command(r"^(谢谢|谢谢你|多谢|感谢|好的谢谢|ok|好的)$", _thanks),
    Command(r"^(?P<verb>设置地区|切换地区|更换地区|所在地区|我的地区|地区)(?P<place>.*)$", set_region),
    Command(r"^(?P<verb>我在|我是|我住在|我来自|本人在)(?P<place>.+)$", set_region),
]
