"""The follower's region: "我在聊城", "地区 济源", "地区 全部", a location report, the menu key.

Why its own module: the phrases that name a place, what counts as "not a place" (so Q&A gets
"我是企业HR…") and the note about regions without notices change with the gazetteer and the
corpus, not with the router. The region is kept on the follower and passed to every question.
"""
from __future__ import annotations

import re
from typing import Optional

from bot.dialog.answers import answer_question
from core.turn import Turn
from core.regions import resolve_place, within

PLACE_TAIL = re.compile(r"(的|人|这边|那边|这里|地区|本地|工作|上班)+$")
SPLIT = re.compile(r"[,，。;；!！?？\s]")
PLACE_SUFFIX = re.compile(r"(省|市|县|区|镇|乡|村|州|旗)$")
EXPLICIT_VERBS = ("地区", "设置地区", "切换地区", "更换地区", "所在地区", "我的地区")
CLEAR_WORDS = ("全部", "全国", "清除", "不限", "无")


def covered_regions(turn: Turn) -> list[str]:
    """The regions the notices in force cover, as the knowledge base counts them (a withdrawn
    notice's region is not offered), most notices first."""
    return turn.kb.covered_regions()


def covered_text(turn: Turn) -> str:
    regions = covered_regions(turn)
    if not regions:
        return "目前还没有载入任何地区的政策文件。"
    return "目前收录了这些地区的政策文件：" + "、".join(regions) + "。"


def _is_covered(turn: Turn, label: str) -> bool:
    return any(within(label, region) or within(region, label) for region in covered_regions(turn))


def region_hint(turn: Turn) -> str:
    """Menu key SET_REGION (and a bare "地区"): the current region and how to change it."""
    now = f"您当前的地区：{turn.follower.region}。\n" if turn.follower.region else ""
    return now + "发送“我在聊城”或“地区 济源”即可设置；发送“地区 全部”清除。\n" + covered_text(turn)


def set_region(turn: Turn, match: "re.Match[str]") -> Optional[str]:
    """'我在聊城' / '地区 济源' / '我是文水的' — and '我在聊城，补贴标准是多少' (region + question)."""
    raw = match.group("place").strip(" :：")
    explicit = match.group("verb") in EXPLICIT_VERBS
    if explicit and not raw:
        return region_hint(turn)
    if explicit and raw in CLEAR_WORDS:
        turn.follower.region = None
        return "已清除地区，回答将不限地区。"
    head, question = raw, ""
    parts = SPLIT.split(raw, maxsplit=1)
    if len(parts) == 2:
        head, question = parts[0], parts[1].strip()
    head = PLACE_TAIL.sub("", head)
    label = resolve_place(head)
    if label is None:
        looks_like_place = len(head) <= 6 and not question and (
            match.group("verb") != "我是" or raw.endswith(("的", "人")) or PLACE_SUFFIX.search(head))
        if head and (explicit or looks_like_place):
            return f"抱歉，我不认识“{head}”这个地方。\n" + covered_text(turn) + "\n例如发送：我在聊城"
        return None  # "我是企业HR" or "我在哪里申请…" is not a place: let Q&A have it
    turn.follower.region = label
    note = f"好的，已记住您在：{label}。"
    if not _is_covered(turn, label):
        note += "\n注意：暂时没有该地区的政策文件，回答将以其他地区的文件为参考。\n" + covered_text(turn)
    if question:
        return note + "\n\n" + answer_question(turn, question)
    return note + "\n现在可以直接问我政策问题了。"


def from_location(turn: Turn) -> str:
    """A location report (its label, as the WeChat layer put it in `text`) sets the region."""
    text = turn.inbound.text
    label = resolve_place(text) if text else None
    if label:
        turn.follower.region = label
        return f"已根据您的位置记住地区：{label}。现在可以直接问我政策问题了。"
    return "收到您的位置，但没能识别出所在地区。请发送“我在聊城”这样的消息设置地区。"
