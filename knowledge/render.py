"""How an `Answer` reads as chat text: one function, `render_answer`, and one citation line.

Why here, beside the `Answer` type: the Q&A reply (bot/dialog/answers.py), a policy question
asked inside a form (forms/render.py) and `policybot ask` (bot/cli.py) all show an answer with
its sources, and the forms may not import the bot; so the one renderer sits below both, and the
citation (《title》, 文号, issuer, date, 【已失效】) is built in one place. What only the chat
channel adds stays with the router: the numbered choices picked with a digit, the `more` part
reached by 更多, and the hints after a refusal (they name the bot's commands).
"""
from __future__ import annotations

from typing import Optional

from knowledge.types import Answer, Source

MAX_CITED = 3  # sources looked at for the 来源 lines
ELLIPSIS = "…"


def fit(text: str, budget: int) -> str:
    """`text` cut to at most `budget` UTF-8 bytes, ending in "…" when it was cut."""
    raw = text.encode()
    if len(raw) <= budget:
        return text
    return raw[: max(budget - len(ELLIPSIS.encode()), 0)].decode(errors="ignore") + ELLIPSIS


def source_line(src: Source) -> str:
    """One citation: 《title》（文号，issuer，date）, then 【已失效】 for a notice no longer in
    force; a notice without a title is named by its file."""
    bits = [f"《{src.title}》" if src.title else src.file]
    meta = "，".join(x for x in (src.doc_number, src.issuer, src.date) if x)
    if meta:
        bits.append(f"（{meta}）")
    if src.expired:
        bits.append("【已失效】")
    return "".join(bits)


def citations(sources: list[Source], text: str) -> str:
    """The 来源 lines for the sources `text` does not name already ("" when none)."""
    cites = []
    for src in sources[:MAX_CITED]:
        if (src.title and src.title in text) or (src.doc_number and src.doc_number in text):
            continue  # the answer already cites it
        line = source_line(src)
        if line not in cites:
            cites.append(line)
    return "\n\n来源：\n" + "\n".join(cites) if cites else ""


def render_answer(ans: Answer, budget: Optional[int] = None) -> str:
    """The answer's text, then its 来源 lines (a refusal: the text alone).

    A form feed in the text (a PDF's page break) becomes a line break: chat text carries none
    (the router's pager uses it as its own mark). With `budget` (UTF-8 bytes, for a reply that
    must fit one message) the text is cut with "…" so that the 来源 lines still fit.
    """
    text = (ans.answer or "").replace("\f", "\n").strip()
    cites = "" if ans.refused else citations(ans.sources, text)
    if budget is not None and len(cites.encode()) < budget:
        text = fit(text, budget - len(cites.encode()))
    return text + cites
