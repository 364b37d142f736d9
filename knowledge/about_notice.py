"""Questions about a notice itself: who issued it, when, under which 文号.

Why apart from clause retrieval: “质量年那个通知是哪俩部门发的？啥时候发的” is answered by the
notice's own header, not by any clause, and a clause search scores such a question poorly (its
words are about the document, not its content), so it was refused although the answer is on
the first line of the file. Which notice is meant is found from the title and the region the
question names, by character pairs weighted by how rare they are among the loaded titles; an
unsure match (nothing distinctive shared, or two notices about as close) falls back to the
clause search. The wording is general Chinese for “issued by / on / numbered”.
"""
from __future__ import annotations

import math
import re
from datetime import date

from core.text import cn_date, squash
from knowledge.answer import book_title, is_expired, notice_source, validity
from knowledge.types import Answer

ISSUE = r"(?:发|印发|下发|发布|出台|制定|出)"
ASKS = {
    "issuer": re.compile(r"(?:哪|什么|啥)(?:个|些|俩|两个|几个)?(?:部门|单位|机关|机构|地方)?\S{0,2}" + ISSUE + r"的"
                         r"|谁" + ISSUE + r"的|发文(?:单位|机关|部门)|落款单位|由谁"),
    "date": re.compile(r"(?:哪天|哪一天|哪年|哪个月|什么时候|啥时候|何时|几号|几月几号|几月几日)\S{0,2}" + ISSUE +
                       r"|(?:发文|印发|发布|落款)(?:日期|时间)|落款日期"),
    "doc_number": re.compile(r"文号|发文字号|字号是|几号文"),
}
# the question must speak of a document: “补贴什么时候发” asks when money is paid, not a notice's date
DOCUMENT = re.compile(r"通知|文件|方案|办法|意见|细则|规定|文|红头")
WORDS = {"issuer": "发文单位", "date": "印发日期", "doc_number": "文号"}
MIN_WEIGHT = 3.0  # the distinctive pairs a question must share with a title (≈ two rare pairs)
MARGIN = 1.0  # the best notice must share this much more than the next (≈ one rare pair)


def fields_asked(question: str) -> list[str]:
    """The header facts a question asks about a document (none unless it speaks of one)."""
    if not DOCUMENT.search(question):
        return []
    return [name for name, pattern in ASKS.items() if pattern.search(question)]


def only_header(parts: list[str]) -> bool:
    """Every part of the message asks a header fact (“哪俩部门发的？啥时候发的”): a message that
    also asks about the content goes to the clause search, whose citation carries the header."""
    return all(any(p.search(part) for p in ASKS.values()) for part in parts)


def _pairs(text: str) -> set[str]:
    t = squash(text)
    return {t[i:i + 2] for i in range(len(t) - 1) if re.fullmatch(r"[\u4e00-\u9fff\w]{2}", t[i:i + 2])}


def named_notice(notices: list, question: str):
    """The notice the question's words point to by its title and region, or None when unsure."""
    bags = {n.id: _pairs(f"{n.title} {n.region or ''}") for n in notices}
    if len(bags) < 1:
        return None
    df: dict[str, int] = {}
    for bag in bags.values():
        for pair in bag:
            df[pair] = df.get(pair, 0) + 1
    asked = _pairs(question)
    total = len(bags)
    scores = sorted(((sum(math.log(1 + total / df[p]) for p in asked & bag), nid) for nid, bag in bags.items()),
                    reverse=True)
    best, nid = scores[0]
    runner = scores[1][0] if len(scores) > 1 else 0.0
    if best < MIN_WEIGHT or best - runner < MARGIN:
        return None
    return next(n for n in notices if n.id == nid)


def answer(notice, fields: list[str], today: date) -> Answer:
    """The notice's header facts asked for, each said plainly (or said to be missing)."""
    facts = {"issuer": notice.issuer and notice.issuer.replace(" ", "、"),
             "date": notice.date and cn_date(notice.date), "doc_number": notice.doc_number}
    said = [f"{WORDS[f]}：{facts[f]}" if facts[f] else f"文件未注明{WORDS[f]}" for f in fields]
    lines = [f"{book_title(notice.title)}{'；'.join(said)}。"]
    lines.append(f"适用地区：{notice.region or '未注明'}")
    if notice.valid_until:
        lines.append(validity(notice, today))
    source = notice_source(notice, lines[0], is_expired(notice.valid_until, today))
    return Answer(answer="\n".join(lines), sources=[source], confidence=1.0)
