"""Charts for the console, drawn on the server as inline SVG: no script, no plotting library.

Why SVG by hand: the console's pages run no script at all (its CSP), and three kinds of chart —
rows of stacked bars, one share bar, rows of plain bars — are a few rectangles and labels each;
a plotting library would add a large dependency for that. Every chart is drawn 360 units wide,
labels above or beside their bars, so that at a phone's 390 px it is drawn about 1:1 and on a
desktop the stylesheet lets it grow to a readable maximum. Colours are attributes (the CSP
forbids inline style); every label is escaped, and each bar has a <title> with its exact figure.
"""
from __future__ import annotations

from html import escape

from markupsafe import Markup

from core.text import clip

WIDTH = 360
ROW = 22  # height of one bar row
LABEL_W = 62  # the left column of labels in row charts
FONT = 12
COLOURS = {"answered": "#2e7d32", "low_confidence": "#f9a825", "refused": "#c62828", "unhelpful": "#6a1b9a",
           "on_time": "#2e7d32", "late": "#f9a825", "overdue": "#c62828"}
BAR = "#0b5cad"
# Series without colours of their own (categories, regions), told apart in order.
PALETTE = ("#0b5cad", "#2e7d32", "#c62828", "#f9a825", "#6a1b9a", "#00796b", "#5d4037", "#546e7a")


def palette(names: list[str]) -> list[tuple[str, str, str]]:
    """Series (key, label, colour) for `names`, the colours taken in order (and round again)."""
    return [(name, name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)]


def _svg(height: int, body: list[str], label: str) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
                  f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
                  f'font-size="{FONT}" font-family="sans-serif">' + "".join(body) + "</svg>")


def _legend(series: list[tuple[str, str, str]], y: int) -> tuple[list[str], int]:
    """Legend entries (key, label, colour), wrapped over as many lines as they need."""
    out, x = [], 0
    for _key, label, colour in series:
        width = 18 + FONT * len(label) + 10
        if x and x + width > WIDTH:
            x, y = 0, y + ROW - 4
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{y + 11}">{escape(label)}</text>')
        x += width
    return out, y + ROW


def stacked_rows(rows: list[tuple[str, dict[str, int]]], series: list[tuple[str, str, str]], label: str) -> Markup:
    """One horizontal bar per row (e.g. a week), its parts stacked by series (key, label,
    colour), each row's total at its end."""
    body, y = _legend(series, 0)
    top = max((sum(v.values()) for _l, v in rows), default=0) or 1
    span = WIDTH - LABEL_W - 34
    for name, values in rows:
        body.append(f'<text x="0" y="{y + 15}">{escape(clip(name, 8))}</text>')
        x = LABEL_W
        for key, part_label, colour in series:
            n = values.get(key, 0)
            if n:
                w = max(1.0, span * n / top)
                body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" fill="{colour}">'
                            f'<title>{escape(name)} {escape(part_label)}：{n}</title></rect>')
                x += w
        body.append(f'<text x="{x + 4:.1f}" y="{y + 15}" fill="#444">{sum(values.values())}</text>')
        y += ROW
    return _svg(y + 4, body, label)


def share_bar(parts: list[tuple[str, str, int, float]], label: str) -> Markup:
    """One bar of 100 %, split by (key, label, count, share %); the legend gives each share."""
    colours = [(k, f"{lab} {share:g}%（{n}）", COLOURS.get(k, BAR)) for k, lab, n, share in parts]
    body, y = _legend(colours, 28)
    total = sum(n for _k, _l, n, _s in parts)
    x = 0.0
    if not total:
        body.append(f'<rect x="0" y="0" width="{WIDTH}" height="20" fill="#e1e4e8"/>')
    for key, lab, n, share in parts:
        if not n:
            continue
        w = WIDTH * n / total
        body.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="20" fill="{COLOURS.get(key, BAR)}">'
                    f'<title>{escape(lab)}：{n}（{share:g}%）</title></rect>')
        x += w
    return _svg(y + 2, body, label)


def bars(items: list[tuple[str, int]], label: str, colour: str = BAR) -> Markup:
    """Rows of plain bars, each label on its own line above its bar (long notice titles fit)."""
    body, y = [], 0
    top = max((n for _l, n in items), default=0) or 1
    if not items:
        body.append(f'<text x="0" y="{FONT + 2}" fill="#6a737d">暂无数据</text>')
        return _svg(ROW, body, label)
    for name, n in items:
        body.append(f'<text x="0" y="{y + FONT}"><title>{escape(name)}</title>{escape(clip(name, 28))}</text>')
        w = max(1.0, (WIDTH - 40) * n / top)
        body.append(f'<rect x="0" y="{y + FONT + 4}" width="{w:.1f}" height="10" fill="{colour}">'
                    f'<title>{escape(name)}：{n}</title></rect>'
                    f'<text x="{w + 4:.1f}" y="{y + FONT + 13}" fill="#444">{n}</text>')
        y += FONT + 22
    return _svg(y, body, label)
