"""Turn a notice file (.txt, .md, .docx, .pdf) into plain text with tab-separated table rows,
or refuse it with a Chinese reason.

Why one text form: the parser (structure.py) reads every format the same way, so a .docx table
and a tab-separated .txt table become the same table rows, and a PDF's page breaks become the
paragraph breaks the parser already knows how to heal.
Why refuse here: whatever is indexed can surface in an answer, so a file that is not text (an
executable renamed .txt, a corrupt Word file), is in neither UTF-8 nor GB18030, or holds fewer
than MIN_MEANINGFUL letters and digits is refused (`NotANotice`) before anything is stored —
`refusal()` runs the same reading on an upload's bytes, so the admin hears why at once.
"""
from __future__ import annotations

import io
import unicodedata
from pathlib import Path
from typing import Optional

SUPPORTED = {".txt", ".md", ".docx", ".pdf"}
MIN_MEANINGFUL = 30  # letters, digits and Chinese characters; the shortest real notice has hundreds
_ODD = {"Cc", "Co", "Cn", "Cs"}  # control, private-use, unassigned, surrogate


class UnsupportedFile(ValueError):
    pass


class NotANotice(ValueError):
    """A file refused before indexing; str() is the reason shown to the admin."""


def load_text(path: Path) -> str:
    """The file's text, or NotANotice / UnsupportedFile with the reason."""
    return text_of(path.suffix, path.read_bytes())


def refusal(filename: str, data: bytes) -> Optional[str]:
    """Why an upload cannot be a notice (None: it can) — the same reading `load_text` does."""
    try:
        text_of(Path(filename).suffix, data)
    except (NotANotice, UnsupportedFile) as exc:
        return str(exc)
    return None


def text_of(suffix: str, data: bytes) -> str:
    suffix = suffix.lower()
    if suffix not in SUPPORTED:
        raise UnsupportedFile(f"不支持的文件类型：{suffix or '无扩展名'}（支持 txt、md、docx、pdf）")
    if not data.strip():
        raise NotANotice("文件是空的")
    if suffix in (".txt", ".md"):
        text = decode(data)
    elif suffix == ".docx":
        text = _read(_docx_text, data, "Word", ".docx")
    else:
        text = _read(_pdf_text, data, "PDF", ".pdf")
    require_content(text)
    return text


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030; anything else — or text full of control and
    unassigned characters, which is what binary data decodes to — is not a text file.

    Pure two-byte GB18030 text can happen to be valid UTF-8 too (通知 → '֪ͨ', combining marks):
    UTF-8 wins unless GB18030 reads more than twice as many letters out of the same bytes (read
    the other way round, UTF-8 Chinese gives GB18030 at most 1.5 times as many)."""
    texts = []
    for enc in ("utf-8-sig", "gb18030"):
        try:
            texts.append(data.decode(enc))
        except UnicodeDecodeError:
            continue
    if not texts:
        raise NotANotice("不是文本文件：既不是 UTF-8 也不是 GB18030 编码（可能是二进制文件）")
    text = texts[0]
    bom = data.startswith(b"\xef\xbb\xbf")
    if len(texts) == 2 and not bom and meaningful(texts[1]) > 2 * meaningful(text):
        text = texts[1]
    odd = sum(1 for ch in text if unicodedata.category(ch) in _ODD and ch not in "\t\n\r\f\v")
    if "\x00" in text or odd > max(2, len(text) // 100):
        raise NotANotice("文件含有二进制内容，不是文本文件")
    return text


def meaningful(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def require_content(text: str) -> None:
    count = meaningful(text)
    if count == 0:
        raise NotANotice("没有读出任何文字（空白文件，或只有图片的扫描件）")
    if count < MIN_MEANINGFUL:
        raise NotANotice(f"内容太少：只有 {count} 个有效文字（至少需要 {MIN_MEANINGFUL} 个），"
                         "不像一份政策通知")


def _read(reader, data: bytes, kind: str, suffix: str) -> str:
    try:
        return reader(io.BytesIO(data))
    except Exception:  # python-docx / pypdf on a corrupt or disguised file: many exception types
        pass
    raise NotANotice(f"无法读取该 {kind} 文件：文件已损坏，或并不是真正的 {suffix} 文件")


def _docx_text(source) -> str:
    """Paragraphs and tables in document order; each table row one tab-separated line."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(source)
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
            lines.append("")
        elif tag == "tbl":
            table = Table(child, document)
            for row in table.rows:
                cells = []
                previous = None
                for cell in row.cells:
                    # merged cells repeat the same object: keep the position, not the text twice
                    text = "" if cell._tc is previous else cell.text.replace("\n", " ").replace("\t", " ")
                    previous = cell._tc
                    cells.append(text)
                lines.append("\t".join(cells))
            lines.append("")
    return "\n".join(lines)


def _pdf_text(source) -> str:
    from pypdf import PdfReader

    reader = PdfReader(source)
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)
