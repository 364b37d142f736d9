"""Turn a notice file (.txt, .md, .docx, .pdf) into plain text with tab-separated table rows.

Why one text form: the parser (structure.py) reads every format the same way, so a .docx table
and a tab-separated .txt table become the same table rows, and a PDF's page breaks become the
paragraph breaks the parser already knows how to heal.
"""
from __future__ import annotations

from pathlib import Path

SUPPORTED = {".txt", ".md", ".docx", ".pdf"}


class UnsupportedFile(ValueError):
    pass


def load_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        return _decode(path.read_bytes())
    if suffix == ".docx":
        return _docx_text(path)
    if suffix == ".pdf":
        return _pdf_text(path)
    raise UnsupportedFile(f"不支持的文件类型：{path.suffix}（支持 txt、md、docx、pdf）")


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _docx_text(path: Path) -> str:
    """Paragraphs and tables in document order; each table row one tab-separated line."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
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


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)
