"""Reply paging: a long reply is cut into parts of at most 2048 bytes; the rest waits for 更多.

Why apart from the router: the WeChat size limit, where a cut falls and how the kept parts are
stored change for other reasons than what a message means. The first part is sent now; the
others are kept in `Follower.more_pages` (the database: any worker may get the next message)
and "更多" shows the next one. A PAGE_BREAK in a reply ends a part there (an answer's `more`
text always starts a part of its own); answer text itself carries none, since
`knowledge.render.render_answer` turns a PDF's form feed into a line break.
"""
from __future__ import annotations

from core.turn import Turn

MAX_REPLY_BYTES = 2048
MORE_HINT = "\n\n回复“更多”查看下一部分"
PAGE_BREAK = "\f"  # in a reply: the next part starts here; stripped before sending
MORE_WORDS = {"更多", "下一页", "继续", "more"}


def paginate(text: str, limit: int = MAX_REPLY_BYTES, hint: str = MORE_HINT) -> list[str]:
    """Cut `text` into parts that fit `limit` bytes together with the hint; "".join(parts) == text.

    A PAGE_BREAK ends a part (and stays at its end, so the joined rest pages the same way again).
    Cuts after a line break when one is near, else after a sentence end, else anywhere.
    """
    *heads, last = text.split(PAGE_BREAK)
    parts = []
    for head in heads:  # the hint follows each of these parts
        parts += _cut(head, limit - len(hint.encode()), "")
        parts[-1] += PAGE_BREAK
    return parts + _cut(last, limit, hint)


def _cut(text: str, limit: int, hint: str) -> list[str]:
    if len(text.encode()) <= limit:
        return [text]
    budget = limit - len(hint.encode())
    parts, rest = [], text
    while len(rest.encode()) > limit:
        cut, size = 0, 0
        for i, ch in enumerate(rest):  # the longest prefix within budget
            size += len(ch.encode())
            if size > budget:
                break
            cut = i + 1
        window = rest[:cut]
        for seps in ("\n", "。；;！？!?", "，,、 "):
            pos = max(window.rfind(s) for s in seps)
            if pos >= cut // 2:
                cut = pos + 1
                break
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return parts


def show_more(turn: Turn) -> str:
    """The kept parts (they are paged again on the way out), or a note that there are none."""
    if not turn.follower.more_pages:
        return "没有更多内容了。直接发问题即可继续提问。"
    return "".join(turn.follower.more_pages)


def page_reply(turn: Turn, text: str) -> str:
    """Send the first part now; keep the rest for '更多'."""
    parts = paginate(text)
    turn.follower.more_pages = parts[1:]
    if len(parts) == 1:
        return parts[0]
    return parts[0].rstrip() + MORE_HINT
