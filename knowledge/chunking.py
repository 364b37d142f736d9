"""Cut a notice into retrievable chunks that follow its own structure.

Why structure-aware: a subsidy rule is one numbered clause ("1. 落实新吸纳劳动者以工代训补贴。…"),
often broken over a page; cutting by length would split the amount from its condition. So a
chunk is one clause, kept whole (page-break fragments are healed), carrying its heading path
("一、强化… > 1. 落实…"). A table row is a chunk of its own, labelled with the header row, so
"评分表第26项" is found alone; cells holding several paragraphs (<p>) give one chunk each, under
the row's first cell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from core.text import clean_inline, squash
from knowledge.structure import (
    DATE_RE, STANDALONE_DATE, Line, NoticeDraft, Table, is_doc_number_line, is_org_line, is_title,
    validity_date,
)
from knowledge.textutil import ends_sentence, join_broken

NUMBERED = r"\d{1,2}\s*[.．、](?!\d)"  # “1.” “2、” (not “1.5”)
SUB_NUMBERED = r"[（(]\d{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]"  # “（1）” “①”
HEADINGS = [
    (1, re.compile(r"^(第[一二三四五六七八九十百\d]+章)\s*(.*)$")),
    (1, re.compile(r"^([一二三四五六七八九十]+、)\s*(.*)$")),
    (2, re.compile(r"^([（(][一二三四五六七八九十]+[)）])\s*(.*)$")),
    (3, re.compile(r"^(第[一二三四五六七八九十百\d]+条)\s*(.*)$")),
    (3, re.compile(rf"^({NUMBERED})\s*(.*)$")),
    (4, re.compile(rf"^({SUB_NUMBERED})\s*(.*)$")),
]
LIST_ITEM = re.compile(rf"^(?:{NUMBERED}|{SUB_NUMBERED})")  # the numbering of a list item (families.py)
ATTACHMENT = re.compile(r"^附\s*件\s*(\d*)\s*[:：]?\s*(.*)$")
LIST_LEAD = ("附件", "注", "备注")
BOILERPLATE = re.compile(r"^(?:（此件\S*公开）|\(此件\S*公开\)|（联系单位[:：].*）|校核人[:：].*|填表人[:：].*|填表日期.*|联系人|联系电话|.*_{3,}.*)$")
P_TAG = re.compile(r"<p>(.*?)</p>", re.S)


@dataclass
class ChunkDraft:
    kind: str
    heading_path: list[str]
    text: str
    valid_until: date | None = None

    @property
    def path(self) -> str:
        return " > ".join(p for p in self.heading_path if p)


@dataclass
class _State:
    path: dict[int, str] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    clause_path: list[str] = field(default_factory=list)
    out: list[ChunkDraft] = field(default_factory=list)

    def current_path(self, below: int = 99) -> list[str]:
        return [self.path[k] for k in sorted(self.path) if k < below]

    def set_heading(self, level: int, text: str) -> None:
        for k in [k for k in self.path if k >= level]:
            del self.path[k]
        self.path[level] = text

    def flush(self) -> None:
        if self.parts:
            text = self.parts[0]
            for p in self.parts[1:]:
                text = join_broken(text, p)
            if len(squash(text)) >= 4:
                self.out.append(ChunkDraft("clause", list(self.clause_path), text))
        self.parts = []

    def start(self, text: str, path: list[str]) -> None:
        self.flush()
        self.parts = [text]
        self.clause_path = path

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _heading(text: str) -> tuple[int, str, str] | None:
    for level, rx in HEADINGS:
        m = rx.match(text)
        if m:
            return level, m.group(1).replace(" ", ""), m.group(2).strip()
    return None


def _is_boilerplate(blocks, k: int) -> bool:
    text = blocks[k].text
    if STANDALONE_DATE.match(text) or BOILERPLATE.match(text):
        return True
    if text.endswith("印发") and DATE_RE.search(text):
        return True
    nxt = blocks[k + 1] if k + 1 < len(blocks) else None
    if is_org_line(text) and isinstance(nxt, Line) and nxt.text.endswith("印发") and DATE_RE.search(nxt.text):
        return True
    if is_org_line(text):  # signature lines: organisations right above a date
        j = k + 1
        while j < len(blocks) and isinstance(blocks[j], Line) and is_org_line(blocks[j].text):
            j += 1
        return j < len(blocks) and isinstance(blocks[j], Line) and bool(STANDALONE_DATE.match(blocks[j].text))
    return False


def chunk_notice(notice: NoticeDraft) -> list[ChunkDraft]:
    st = _State()
    blocks = notice.blocks
    for k in range(notice.header_end, len(blocks)):
        b = blocks[k]
        if isinstance(b, Table):
            st.flush()
            _table_chunks(b, st.current_path(), st.out)
            continue
        text = b.text
        if _is_boilerplate(blocks, k) or is_doc_number_line(text):
            continue
        att = ATTACHMENT.match(text)
        if att and not att.group(2):
            st.flush()
            st.path = {0: f"附件{att.group(1)}"}
            continue
        after = next((blocks[j] for j in range(k + 1, len(blocks))
                      if not (isinstance(blocks[j], Line) and _is_boilerplate(blocks, j))), None)
        if isinstance(after, Table) and len(squash(text)) <= 40 and not ends_sentence(text):
            st.flush()  # a table's caption
            st.set_heading(1, text)
            continue
        if st.parts and st.text.startswith(LIST_LEAD) and len(text) < 100 and re.match(r"^\d+\s*[.．、]", text):
            st.parts.append(" " + text)  # "附件：1. …" / "2. …" lists stay one piece
            continue
        h = _heading(text)
        if h:
            level, marker, rest = h
            lead = rest.split("。")[0]
            body = rest.rstrip("。")
            balanced = all(rest.count(a) == rest.count(b) for a, b in ("《》", "（）", "()", "“”"))
            pure = level <= 2 and balanced and len(squash(rest)) <= 30 and "。" not in body and not (
                re.search(r"[，,；;：:]", body) and rest.endswith("。"))
            if not rest or pure:
                st.flush()
                st.set_heading(level, marker + rest.rstrip("。"))
                continue
            label = marker + lead if len(lead) <= 40 and "。" in rest else marker
            st.start(text, st.current_path(level) + [label])
            st.set_heading(level, label)
            continue
        short_run = bool(st.parts) and len(text) < 40 and all(len(p) < 40 for p in st.parts)
        if is_title(text) and len(text) < 60 and (not st.parts or ends_sentence(st.text) or short_run):
            st.flush()
            st.path = {0: text}
            continue
        if text.startswith("附件"):
            st.start(text, st.current_path())
            continue
        if short_run:
            st.parts.append(" " + text)  # a run of short lines (联系人 / 电话 / 邮箱) is one piece
            continue
        if st.parts and not ends_sentence(st.text):
            st.parts.append(text)  # the clause goes on after a page break
            continue
        st.start(text, st.current_path())
    st.flush()
    for c in st.out:
        c.valid_until = validity_date(c.text) or notice.valid_until
    return st.out


# ----------------------------------------------------------------------------- tables

def _cell(text: str) -> str:
    return clean_inline(text.replace("\n", " "))


def _is_label(text: str) -> bool:
    t = squash(_cell(text))
    return 0 < len(t) <= 16 and not re.fullmatch(r"[\d.%/]+", t) and "<p>" not in text


def _labels(rows: list[list[str]]) -> tuple[list[str] | None, int]:
    """Header labels and the number of header rows (0 when the table has no header)."""
    first = [c for c in rows[0]]
    if not first or not all(_is_label(c) for c in first):
        return None, 0
    labels = [_cell(c) for c in first]
    used = 1
    if len(rows) > 1:
        sub = rows[1]
        filled = [c for c in sub if c.strip()]
        if filled and sub and not sub[0].strip() and all(_is_label(c) for c in filled):
            parent = ""
            merged = []
            for i in range(max(len(sub), len(labels))):
                parent = labels[i] if i < len(labels) else parent
                child = _cell(sub[i]) if i < len(sub) else ""
                merged.append(parent + child if child and parent and child != parent else (child or parent))
            labels, used = merged, 2
    return labels, used


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}", squash(_cell(text))))


def _table_chunks(table: Table, path: list[str], out: list[ChunkDraft]) -> None:
    rows = [r for r in table.rows if any(c.strip() for c in r)]
    if not rows:
        return
    labels, used = _labels(rows)
    seq_col = labels.index("序号") if labels and "序号" in labels else None
    previous: list[str] = []
    for row in rows[used:]:
        cells = list(row)
        filled = [c for c in cells if c.strip()]
        if labels and [_cell(c) for c in filled] == [c for c in labels if c][: len(filled)]:
            continue  # a repeated header row
        if len(filled) == 1 and len(squash(_cell(filled[0]))) > 30:
            out.append(ChunkDraft("clause", list(path), _cell(filled[0])))  # a note under the table
            continue
        if seq_col is not None and seq_col < len(cells) and not _is_int(cells[seq_col]):
            j = next((j for j in range(seq_col) if _is_int(cells[j])), None)
            if j is not None:  # a row whose cells slid left: put 序号 back in its column
                cells = [""] * seq_col + [cells[j]] + [c for c in cells[j + 1:] if c.strip()]
        first_filled = next((i for i, c in enumerate(cells) if c.strip()), len(cells))
        for i in range(min(first_filled, len(previous))):
            cells[i] = previous[i]  # merged cells: the value above applies
        previous = cells
        multi = [i for i, c in enumerate(cells) if len(P_TAG.findall(c)) >= 1]
        if multi:
            _paragraph_cells(cells, labels, path, out)
            continue
        if labels:
            pairs = [f"{labels[i] if i < len(labels) else ''}: {_cell(c)}".lstrip(": ")
                     for i, c in enumerate(cells) if c.strip()]
            text = " | ".join(pairs)
        else:
            text = " | ".join(_cell(c) for c in cells if c.strip())
        if len(squash(text)) >= 6:
            out.append(ChunkDraft("table_row", list(path), text))


def _paragraph_cells(cells: list[str], labels: list[str] | None, path: list[str], out: list[ChunkDraft]) -> None:
    """A row whose cells hold <p> paragraphs: each paragraph of the longest cell is one clause,
    headed by the row's first cell; other cells attach when they pair up paragraph by paragraph."""
    paras = [[_cell(p) for p in P_TAG.findall(c)] or ([_cell(c)] if c.strip() else []) for c in cells]
    main = max(range(len(cells)), key=lambda i: sum(len(p) for p in paras[i]))
    head = _cell(cells[0]) if main != 0 and cells[0].strip() else ""
    head = " ".join(p for p in paras[0]) if main != 0 and paras[0] else head
    for n, text in enumerate(paras[main]):
        extras = []
        for i in range(len(cells)):
            if i in (0, main) or not paras[i]:
                continue
            value = paras[i][n] if len(paras[i]) == len(paras[main]) else (paras[i][0] if len(paras[i]) == 1 else None)
            if value:
                label = labels[i] if labels and i < len(labels) else ""
                extras.append(f"（{label}：{value}）" if label else f"（{value}）")
        heading = list(path) + ([f"{labels[0]}：{head}" if labels else head] if head else [])
        out.append(ChunkDraft("clause", heading, text + "".join(extras)))
