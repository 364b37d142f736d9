"""Parse a notice file's text into blocks, split it into notices, and read each notice's metadata.

Why general rules instead of per-file settings: the same layout recurs in every Chinese official
notice — a header (发文机关, 文号, 标题), a salutation ending in "：", numbered clauses, and a
signature (issuer lines right above a date line). A file may carry several notices (a city
notice followed by the provincial notices it forwards); each forwarded notice starts with its
own 文号 line followed by its own title, which is where the file is split.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from core.regions import Place, infer_place
from core.text import CJK, CJK_PUNCT, clean_inline, squash
from knowledge.textutil import DATE_RE, parse_cn_date

DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fa5]{1,15}\s*[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*\d{1,4}\s*号"
)
TITLE_WORDS = ("通知", "通告", "公告", "意见", "方案", "办法", "规定", "细则", "决定", "批复", "通报",
               "报告", "计划", "分工", "规划", "纲要", "要点", "条例", "指南", "函", "清单", "目录")
ORG_SUFFIX = r"(?:局|厅|部|委员会|委|政府|办公室|办|中心|院|会|处|司|站|所|小组|组|队)"
ORG_LINE = re.compile(rf"^[\u4e00-\u9fa5（）()]{{2,40}}?{ORG_SUFFIX}(?:\s+[\u4e00-\u9fa5（）()]{{2,40}}?{ORG_SUFFIX})*$")
STANDALONE_DATE = re.compile(r"^\s*" + DATE_RE.pattern + r"\s*$")
VALIDITY = re.compile(
    r"(?:实施期限|执行期限|有效期限?|执行期|实施期|执行|实施|施行|有效)(?:为|截)?(?:至|到|止于|截至|截止到?)"
    r"((?:\d{4}|[〇零○一二三四五六七八九]{4})年(?:\d{1,2}|[一二三四五六七八九十]{1,3})月"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})日)"
)


@dataclass
class Line:
    text: str  # cleaned display text of one source line
    raw: str = ""  # the line as written (keeps the space between two issuers)


@dataclass
class Table:
    rows: list[list[str]]  # raw cells (may hold <p> paragraphs)


Block = Line | Table


@dataclass
class NoticeDraft:
    seq: int
    title: str
    doc_number: str | None
    issuer: str | None
    date: date | None
    region: Place
    valid_until: date | None
    blocks: list[Block]
    header_end: int = 0  # index of the first body block
    meta: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- blocks

def _is_inline_row(line: str) -> bool:
    if "\t" not in line or not line.strip():
        return False
    return line.count("\t") >= 2 or not line.startswith("\t")


def _is_cell_line(line: str) -> bool:
    return line.startswith("\t") and line.count("\t") == 1


def parse_blocks(text: str) -> list[Block]:
    """Lines and tables. Tables come as tab-separated rows, or one cell per tab-led line with
    rows separated by blank lines (a common Word export); both become `Table` rows."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() and not _is_cell_line(line):
            i += 1
            continue
        if _is_inline_row(line):
            rows = []
            while i < n and _is_inline_row(lines[i]):
                rows.append(lines[i].split("\t"))
                i += 1
            blocks.append(Table(rows))
            continue
        if _is_cell_line(line):
            rows, i = _cell_per_line_table(lines, i)
            blocks.append(Table(rows))
            continue
        stripped = re.sub(r"^\s*(?:#{1,6}\s+|[-*]\s+)", "", line)
        cleaned = clean_inline(stripped)
        if cleaned:
            blocks.append(Line(cleaned, stripped.strip()))
        i += 1
    return _merge_continued_tables(blocks)


def _cell_per_line_table(lines: list[str], i: int) -> tuple[list[list[str]], int]:
    rows: list[list[str]] = []
    row: list[str] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        if _is_cell_line(line):
            row.append(line[1:])
            i += 1
            continue
        if not line.strip():
            j = i
            while j < n and not lines[j].strip() and not _is_cell_line(lines[j]):
                j += 1
            blanks = j - i
            if j < n and _is_cell_line(lines[j]):
                if row:
                    rows.append(row)
                row = []
                i = j
                continue
            if j < n and blanks == 1 and row and row[-1].strip() and not _is_inline_row(lines[j]):
                row[-1] = row[-1] + "\n" + lines[j]  # a cell's text broken by an empty line
                i = j + 1
                continue
            break
        if _is_inline_row(line):
            break
        if row:  # continuation of the last cell
            row[-1] = row[-1] + "\n" + line
            i += 1
            continue
        break
    if row:
        rows.append(row)
    return rows, i


def _merge_continued_tables(blocks: list[Block]) -> list[Block]:
    """A table broken over pages repeats its header row: merge it back into one table."""
    out: list[Block] = []
    for b in blocks:
        if (isinstance(b, Table) and out and isinstance(out[-1], Table) and b.rows and out[-1].rows
                and [c.strip() for c in b.rows[0]] == [c.strip() for c in out[-1].rows[0]]):
            out[-1].rows.extend(b.rows[1:])
        else:
            out.append(b)
    return out


# ----------------------------------------------------------------------------- notices

def clean_title(text: str) -> str:
    text = re.sub(rf"\s+(?=[{CJK}{CJK_PUNCT}（）《》])|(?<=[{CJK}{CJK_PUNCT}（）《》])\s+", "", text)
    return text.strip()


def is_title(text: str) -> bool:
    t = squash(text)
    if not t or len(t) > 110 or t[-1] in "。；：:，," or t.startswith("附件"):
        return False
    if re.match(r"^(?:\d+[.．、]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）])", t):
        return False
    return "关于" in t or t.endswith(TITLE_WORDS)


def is_doc_number_line(text: str) -> bool:
    return bool(DOC_NUMBER.fullmatch(text.strip()))


def is_org_line(text: str) -> bool:
    t = text.strip().removesuffix("文件").strip()
    return bool(ORG_LINE.match(t)) and len(squash(t)) <= 60


def _line_indices(blocks: list[Block]) -> list[int]:
    return [k for k, b in enumerate(blocks) if isinstance(b, Line)]


def split_notices(blocks: list[Block]) -> list[list[Block]]:
    """Split where a standalone 文号 line is followed shortly by a title."""
    starts: list[int] = []
    line_idx = _line_indices(blocks)
    for pos, k in enumerate(line_idx):
        if not is_doc_number_line(blocks[k].text):
            continue
        following = [blocks[j].text for j in line_idx[pos + 1: pos + 7]]
        if any(is_title(t) for t in following):
            starts.append(k)
    if not starts:
        return [blocks]
    segments: list[list[Block]] = []
    bounds = [0] + starts + [len(blocks)]
    for a, b in zip(bounds, bounds[1:]):
        if a < b:
            segments.append(blocks[a:b])
    # a short prefix (a 发文机关 heading above the first 文号) belongs to the first notice
    if len(segments) > 1 and starts[0] > 0:
        prefix_chars = sum(len(x.text) for x in segments[0] if isinstance(x, Line))
        has_table = any(isinstance(x, Table) for x in segments[0])
        if prefix_chars < 150 and not has_table:
            segments[1] = segments[0] + segments[1]
            segments.pop(0)
    return segments


def _header_end(blocks: list[Block]) -> int:
    """Index of the first body block: after the salutation line ("各…："), else after the title."""
    for k, b in enumerate(blocks[:12]):
        if isinstance(b, Table):
            return k
        t = b.text.strip()
        if t.endswith(("：", ":")) and len(t) < 150 and not t.startswith(("附件", "联系")):
            return k + 1
    for k, b in enumerate(blocks[:12]):
        if isinstance(b, Line) and is_title(b.text):
            return k + 1
    return 0


def _title(blocks: list[Block], header_end: int) -> str | None:
    limit = header_end if header_end else min(len(blocks), 8)
    for k in range(limit):
        b = blocks[k]
        if not isinstance(b, Line) or not is_title(b.text) or is_doc_number_line(b.text):
            continue
        title = b.text
        # a title broken over lines ("关于印发《…》的" / "通  知")
        j = k + 1
        while not squash(title).endswith(TITLE_WORDS) and j < min(limit, k + 3) and isinstance(blocks[j], Line):
            title = title + blocks[j].text
            j += 1
        title = clean_title(title)
        m = re.search(r"关于", title)
        if m and m.start() > 0 and is_org_line(title[: m.start()].strip()):
            title = title[m.start():]
        return title
    return None


def _signature(blocks: list[Block]) -> tuple[date | None, str | None]:
    """The first standalone date line and the issuer lines right above it."""
    for k, b in enumerate(blocks):
        if isinstance(b, Line) and STANDALONE_DATE.match(b.text):
            issuers: list[str] = []
            j = k - 1
            while j >= 0 and len(issuers) < 4 and isinstance(blocks[j], Line) and is_org_line(blocks[j].text):
                issuers.insert(0, " ".join(clean_title(part) for part in (blocks[j].raw or blocks[j].text).split()))
                j -= 1
            return parse_cn_date(b.text), (" ".join(issuers) or None)
    return None, None


def read_notice(seq: int, blocks: list[Block]) -> NoticeDraft:
    header_end = _header_end(blocks)
    header = [b.text for b in blocks[: header_end or 6] if isinstance(b, Line)]
    doc_number = next((clean_title(t) for t in header if is_doc_number_line(t)), None)
    title = _title(blocks, header_end)
    when, issuer = _signature(blocks)
    if issuer is None:
        org = next((t for t in header if is_org_line(t) and not is_title(t)), None)
        issuer = clean_title(org.strip().removesuffix("文件")) if org else None
    if title is None:
        first = next((b.text for b in blocks if isinstance(b, Line)), "")
        title = clean_title(first)[:60] or "（无标题）"
    region = infer_place(issuer, title, " ".join(header))
    valid_until = None
    for b in blocks:
        if isinstance(b, Line) and re.search(r"本(?:通知|办法|方案|意见|规定|细则)", b.text):
            valid_until = validity_date(b.text) or valid_until
    return NoticeDraft(seq=seq, title=title, doc_number=doc_number, issuer=issuer, date=when,
                       region=region, valid_until=valid_until, blocks=blocks, header_end=header_end,
                       meta={"header": header})


def validity_date(text: str) -> date | None:
    """The end date a clause states for itself ("政策实施期限至2021年12月31日"), or None."""
    m = VALIDITY.search(squash(text))
    return parse_cn_date(m.group(1)) if m else None


def parse_notices(text: str) -> list[NoticeDraft]:
    blocks = parse_blocks(text)
    return [read_notice(seq, seg) for seq, seg in enumerate(split_notices(blocks))]
