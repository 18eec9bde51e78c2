"""Charts drawn on the server as inline SVG: no script, no external file, prints as vectors.

Only numbers and escaped labels go in; every label passes through ``markupsafe.escape`` before
it is placed in the SVG, so a query text shown as a label can never become markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

CURRENT = "#b4232a"  # the site's accent: this month
PREVIOUS = "#9aa4b1"  # grey: the month before
FONT = 'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"'


def _num(v: float | None) -> float:
    return float(v or 0)


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def compare_bars(
    title: str,
    labels: Sequence[str],
    current: Sequence[float | None],
    previous: Sequence[float | None],
    *,
    current_label: str = "本月",
    previous_label: str = "上月",
    width: int = 640,
) -> Markup:
    """Horizontal bar pairs (this period above, the one before below), one pair per label."""
    row_h, bar_h, left, top = 40, 14, 150, 34
    height = top + row_h * len(labels) + 10
    peak = max([_num(v) for v in (*current, *previous)] + [1.0])
    span = width - left - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT} '
        f'font-size="13"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="22" width="10" height="10" fill="{CURRENT}"/>'
        f'<text x="{left + 14}" y="31">{escape(current_label)}</text>'
        f'<rect x="{left + 90}" y="22" width="10" height="10" fill="{PREVIOUS}"/>'
        f'<text x="{left + 104}" y="31">{escape(previous_label)}</text>',
    ]
    for i, label in enumerate(labels):
        y = top + i * row_h + 4
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h + 2}" text-anchor="end">{escape(label)}</text>'
        )
        for j, (value, colour) in enumerate(((current[i], CURRENT), (previous[i], PREVIOUS))):
            w = round(span * _num(value) / peak, 1)
            by = y + j * (bar_h + 2)
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w}" height="{bar_h}" fill="{colour}"/>'
                f'<text x="{left + w + 4}" y="{by + bar_h - 2}" font-size="12">'
                f"{escape(_fmt(value))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def ranked_bars(title: str, rows: Sequence[tuple[str, float]], *, width: int = 640) -> Markup:
    """One bar per (label, value), longest first as given (e.g. the top zero-result queries)."""
    row_h, left, top = 22, 220, 26
    height = top + row_h * max(1, len(rows)) + 6
    peak = max([_num(v) for _l, v in rows] + [1.0])
    span = width - left - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT} '
        f'font-size="13"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" fill="#5f6b7a">没有记录</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        short = label if len(label) <= 16 else label[:15] + "…"
        w = round(span * _num(value) / peak, 1)
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w}" height="14" fill="{CURRENT}"/>'
            f'<text x="{left + w + 4}" y="{y + 14}" font-size="12">{escape(_fmt(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
