"""Read the shape of a message: several questions in one, or a request for an overview.

Why: followers write “俺们饭馆招了人能补多少钱？要交啥材料？到啥时候截止？” — three questions,
each answered by a different clause; answering the one the retriever liked best leaves two
unanswered. And “聊城有什么政策” asks for no fact at all: it wants the list of that place's
notices to pick from. Both are recognised by the message's form (question marks, joining
words, what is left after the place and the generic policy words), not by any topic list.
"""
from __future__ import annotations

import re

# where one question ends and the next begins: a question/full stop, a semicolon, or a joining
# phrase people use between questions
_PART_END = re.compile(r"(?<=[？?；;！!。])|(?<=[，,\s])(?=(?:还有|另外|再就是|再问一下|顺便问一下|还想问|还要问)(?!.{0,1}$))")
# a part that asks something (a question word or mark); a part without one is context for the next
_ASKS = re.compile(r"[？?]|吗|么|呢|什么|啥|咋|怎|多少|几|哪|谁|是否|能否|可否|要不要|能不能|可不可以|有没有|会不会|行不行|算不算|如何")
_CONTENT = re.compile(r"[\u4e00-\u9fff\w]")
MIN_PART = 5  # characters of content a part needs to be a question of its own
MAX_PARTS = 3

# words that ask for "the policies" in general: what an overview question consists of besides
# the place (general vocabulary of the domain, not any notice's wording)
_GENERIC = re.compile(
    r"(?:职业技能提升行动|职业技能|技能提升|职业培训|技能培训|培训补贴|补贴政策|优惠政策|扶持政策|相关政策|政策文件|"
    r"政策|文件|通知|规定|办法|补贴|补助|培训|技能|行动|方案|"
    r"有哪些|有什么|有啥|都有|什么|哪些|啥|介绍|一下|看看|查查|查询|了解|想|我|我们|咱|俺|"
    r"最新|现在|目前|今年|本地|当地|这边|那边|地区|的|了|吗|呢|呀|啊|吧|有|都|在|是|请问|方面|相关|和|与|及|等)"
)


def split_parts(question: str) -> list[str]:
    """The separate questions of a message (one part when it is a single question)."""
    pieces = [p.strip(" ，,。:：") for p in _PART_END.split(question) if p and p.strip(" ，,。:：")]
    parts: list[str] = []
    context = ""
    for p in pieces:
        if not _ASKS.search(p) and p is not pieces[-1]:
            context += p + "，"  # "我们公司在聊城，…：" says who asks: it belongs to the next part
        elif parts and len(_CONTENT.findall(p)) < MIN_PART:
            parts[-1] = parts[-1] + p  # too short to stand alone: part of the previous one
        else:
            parts.append(context + p)
            context = ""
    if context and parts:
        parts[-1] += context
    return parts[:MAX_PARTS] if len(parts) > 1 else [question]


def is_overview(question: str, place_names: list[str]) -> bool:
    """True when the message names a place (or “本地”) and asks for nothing more specific than
    its policies: “聊城有什么政策”, “济源的培训补贴有哪些”."""
    if not _CONTENT.search(question):
        return False  # "？？？" asks nothing at all
    rest = question
    for name in sorted((n for n in place_names if n), key=len, reverse=True):
        rest = rest.replace(name, " ")
    rest = re.sub(r"[省市县区]", " ", rest) if len(rest) != len(question) else rest
    rest = _GENERIC.sub(" ", rest)
    return len(_CONTENT.findall(rest)) == 0
