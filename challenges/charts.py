"""Accessible inline SVG charts for pages and PDF reports (no JavaScript, no inline CSS).

Every chart has a <title> and <desc> referenced by aria-labelledby, and pages show the same numbers
in a table beside it, so nothing is only in the picture. Colours are USWDS tokens with enough
contrast on white.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

INK, BASE, PRIMARY, SECONDARY, LIGHT = "#1b1b1b", "#71767a", "#005ea2", "#d83933", "#dfe1e2"
_ids = itertools.count(1)


def _frame(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    head = (f'<svg class="site-chart" xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
            f'role="img" aria-labelledby="chart{n}-t chart{n}-d" preserveAspectRatio="xMinYMin meet">'
            f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>')
    return head, "</svg>"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, desc: str, diverging: bool = False,
              unit: str = "") -> Markup:
    """Horizontal bars, one per label; with `diverging`, bars grow left (negative) or right from zero."""
    label_w, bar_w, row_h = 170, 320, 22
    width, height = label_w + bar_w + 70, 16 + row_h * max(len(items), 1)
    head, tail = _frame(width, height, title, desc)
    peak = max((abs(v) for _, v in items), default=1) or 1
    zero = label_w + (bar_w / 2 if diverging else 0)
    # Room for the value printed beyond each bar's end, so the longest bar's number never runs into
    # the labels (left) or off the chart (right).
    value_room = 8 + 6.5 * max((len(_fmt(v) + unit) for _, v in items), default=4)
    scale = ((bar_w / 2 if diverging else bar_w) - value_room) / peak
    parts = [head]
    if diverging:
        parts.append(f'<line x1="{zero}" y1="4" x2="{zero}" y2="{height - 4}" stroke="{BASE}" stroke-width="1"/>')
    for row, (label, value) in enumerate(items):
        y = 8 + row * row_h
        length = abs(value) * scale
        x = zero - length if value < 0 else zero
        colour = SECONDARY if diverging and value < 0 else PRIMARY
        short = label if len(label) <= 26 else label[:25] + "…"  # the full label is in the tooltip and table
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12" fill="{INK}">'
                     f'<title>{escape(label)}</title>{escape(short)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{max(length, 1):.1f}" height="{row_h - 6}" '
                     f'fill="{colour}"/>')
        text_x = (x - 4 if value < 0 else x + length + 4)
        anchor = "end" if value < 0 else "start"
        parts.append(f'<text x="{text_x:.1f}" y="{y + 13}" text-anchor="{anchor}" font-size="11" fill="{INK}">'
                     f'{_fmt(value)}{escape(unit)}</text>')
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 -- every label went through escape(); numbers are formatted


def interval_chart(items: Sequence[tuple[str, float, float, float]], *, title: str, desc: str,
                   lowest: float = 1, highest: float | None = None) -> Markup:
    """A point with its interval per label (rank intervals: rank 1 on the left)."""
    label_w, plot_w, row_h = 120, 380, 20
    width, height = label_w + plot_w + 30, 30 + row_h * max(len(items), 1)
    head, tail = _frame(width, height, title, desc)
    top = highest if highest is not None else max((h for *_, h in items), default=lowest + 1)
    span = max(top - lowest, 1)

    def x(value: float) -> float:
        return label_w + (value - lowest) / span * plot_w

    parts = [head, f'<line x1="{label_w}" y1="{height - 18}" x2="{label_w + plot_w}" y2="{height - 18}" '
                   f'stroke="{BASE}"/>']
    for tick in sorted({lowest, top, round((lowest + top) / 2)}):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 4}" text-anchor="middle" font-size="10" fill="{INK}">'
                     f'{_fmt(tick)}</text>')
    for row, (label, point, low, high) in enumerate(items):
        y = 10 + row * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 4}" text-anchor="end" font-size="11" fill="{INK}">'
                     f'{escape(label)}</text>')
        parts.append(f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="{PRIMARY}" '
                     'stroke-width="3"/>')
        parts.append(f'<circle cx="{x(point):.1f}" cy="{y}" r="4" fill="{INK}"/>')
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 -- every label went through escape(); numbers are formatted


def strip_chart(items: Sequence[tuple[str, Sequence[float]]], *, title: str, desc: str,
                domain: tuple[float, float] = (0, 100)) -> Markup:
    """Each label's individual values as dots on a common scale (scores of one entry by each judge)."""
    label_w, plot_w, row_h = 120, 380, 20
    width, height = label_w + plot_w + 30, 30 + row_h * max(len(items), 1)
    head, tail = _frame(width, height, title, desc)
    low, high = domain
    span = (high - low) or 1

    def x(value: float) -> float:
        return label_w + (value - low) / span * plot_w

    parts = [head, f'<line x1="{label_w}" y1="{height - 18}" x2="{label_w + plot_w}" y2="{height - 18}" '
                   f'stroke="{BASE}"/>']
    for tick in (low, (low + high) / 2, high):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 4}" text-anchor="middle" font-size="10" fill="{INK}">'
                     f'{_fmt(tick)}</text>')
    for row, (label, values) in enumerate(items):
        y = 10 + row * row_h
        parts.append(f'<line x1="{label_w}" y1="{y}" x2="{label_w + plot_w}" y2="{y}" stroke="{LIGHT}"/>')
        parts.append(f'<text x="{label_w - 6}" y="{y + 4}" text-anchor="end" font-size="11" fill="{INK}">'
                     f'{escape(label)}</text>')
        for value in values:
            parts.append(f'<circle cx="{x(value):.1f}" cy="{y}" r="4" fill="{PRIMARY}" fill-opacity="0.75"/>')
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 -- every label went through escape(); numbers are formatted
