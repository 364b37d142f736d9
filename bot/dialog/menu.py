"""The menu as data: its items and keys, the welcome and the how-to-ask texts, the key actions.

Why its own module: the menu's wording and items change with the service offered (and must
match the click keys in deploy/wechat-menu.json), not with how a message is routed. A menu key
arrives as a click event or as a menu digit (bot/dialog/router.py `run_key`); it runs the
action in `KEY_ACTIONS`, else one a part registered (bot/dialog/registry.py, e.g. the complaint
desk's QUERY_PROGRESS), else the form whose trigger it is (FORM_* keys, forms/defs).
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.region import region_hint
from bot.dialog.registry import KeyHandler


@dataclass(frozen=True)
class MenuItem:
    label: str
    key: str  # the same keys as the click events in deploy/wechat-menu.json


MENU = [
    MenuItem("政策问答（直接发问题）", "POLICY_QA"),
    MenuItem("个人培训补贴自测", "FORM_TRAINEE"),
    MenuItem("企业以工代训自测", "FORM_YIGONG"),
    MenuItem("电子培训券", "FORM_VOUCHER"),
    MenuItem("投诉举报", "FORM_COMPLAINT"),
    MenuItem("投诉进度查询", "QUERY_PROGRESS"),
    MenuItem("设置我的地区", "SET_REGION"),
]

QA_EXAMPLES = [
    "聊城职业技能培训补贴标准是多少？",
    "以工代训补贴怎么申请？",
    "济源电子培训券怎么领取？",
    "文水县培训机构绩效考核怎么评分？",
]


def menu_text(title: str = "请回复数字选择：") -> str:
    lines = [title] + [f"{i} {item.label}" for i, item in enumerate(MENU, 1)]
    return "\n".join(lines)


def welcome_text() -> str:
    return (
        "您好！我是技能政策助手，可以帮您：\n"
        "· 查职业技能提升行动的补贴政策（注明出处）\n"
        "· 自测能否领取培训补贴、以工代训补贴\n"
        "· 投诉举报培训机构并查询进度\n"
        "先告诉我您在哪里，例如发送“我在聊城”，回答会优先用当地政策。\n\n"
        + menu_text()
    )


def qa_howto_text() -> str:
    examples = "\n".join(f"· {q}" for q in QA_EXAMPLES)
    return ("直接用一句话发问题即可，语音也可以。例如：\n" + examples
            + "\n\n先发“我在聊城”这样的消息设置地区，回答会更准确。")


# the dialog's own key actions; a key not here goes to the registered ones, then to the forms
KEY_ACTIONS: dict[str, KeyHandler] = {
    "POLICY_QA": lambda turn: qa_howto_text(),
    "SET_REGION": region_hint,
}
