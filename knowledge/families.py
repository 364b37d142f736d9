"""Lists: a lead-in sentence and the short numbered items under it, read as one answer.

Why: notices often say “按以下要求提供就业证明材料。” and then list the cases as items
“1、在企业实现就业的，提供…” “2、实现自主创业的，…”. The chunker keeps each item as a clause
of its own (so an item can be found alone), but a question about the list (“要交什么就业证明”)
is answered by the whole list, and a question whose words match one item may be answered by
its sibling (the item about 企业 when the asker wrote 进厂). So each item knows its family —
the lead-in before it and its siblings — and the answer quotes the family when it is short.
Nothing here is about a particular notice: only the numbering shapes of Chinese documents,
the ones the chunker reads as item headings (chunking.LIST_ITEM).
"""
from __future__ import annotations

from knowledge.chunking import LIST_ITEM

SEP = " > "
QUOTE_LIMIT = 320  # characters: a list quoted whole (lead-in and items) fits one screen


def _parent(path: str) -> str | None:
    """The heading path of the list an item belongs to, or None when the chunk is no item."""
    if SEP not in path:
        return None
    head, last = path.rsplit(SEP, 1)
    return head if LIST_ITEM.match(last.strip()) else None


def families(chunks: list) -> dict[int, tuple[int, ...]]:
    """Position of each chunk in a list family → the family's positions in order (the lead-in
    first when there is one). A family has at least two items of one notice under one parent."""
    out: dict[int, tuple[int, ...]] = {}
    i = 0
    while i < len(chunks):
        parent = _parent(chunks[i].heading_path)
        if parent is None or not LIST_ITEM.match(chunks[i].text.strip()):
            i += 1
            continue
        j = i
        while (j + 1 < len(chunks) and chunks[j + 1].notice_id == chunks[i].notice_id
               and _parent(chunks[j + 1].heading_path) == parent):
            j += 1
        items = list(range(i, j + 1))
        lead = i - 1
        if lead >= 0 and chunks[lead].notice_id == chunks[i].notice_id and chunks[lead].heading_path == parent:
            items.insert(0, lead)
        if j > i:
            for pos in items:
                out[pos] = tuple(items)
        i = j + 1
    return out


def quotable_family(family: list) -> str:
    """The text an answer quotes for a clause's list: the whole family when it is short enough
    to be quoted (answer.family_quote), else nothing (the clause alone is quoted)."""
    texts = [c.text for c in family]
    return "".join(texts) if len(texts) >= 2 and sum(map(len, texts)) <= QUOTE_LIMIT else ""
