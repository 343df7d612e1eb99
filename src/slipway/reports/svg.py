"""Inline SVG charts: no JavaScript, no files, no plotting library.

An HTML report stays one self-contained file that opens anywhere, so its charts are
drawn here as SVG markup. Long series are thinned to at most `MAX_POINTS` points.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

MAX_POINTS = 400


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    title: str,
    *,
    x_label: str = "step",
    width: int = 480,
    height: int = 180,
) -> str:
    """An SVG line chart of one series, with its min and max on the y axis.

    Non-finite values are skipped; a series with fewer than two finite points draws a
    short note instead of a line.
    """
    points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    if len(points) > MAX_POINTS:
        stride = math.ceil(len(points) / MAX_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    esc = html.escape
    pad_l, pad_r, pad_t, pad_b = 56, 12, 24, 28
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">'
        f'<text x="{pad_l}" y="16" font-size="13" font-weight="600">{esc(title)}</text>'
    )
    if len(points) < 2:
        return head + (
            f'<text x="{pad_l}" y="{pad_t + inner_h / 2}" font-size="12" fill="#57606a">'
            "fewer than two points to draw</text></svg>"
        )
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    x_span = (x_hi - x_lo) or 1.0
    y_span = (y_hi - y_lo) or 1.0

    def sx(x: float) -> float:
        return pad_l + (x - x_lo) / x_span * inner_w

    def sy(y: float) -> float:
        return pad_t + inner_h - (y - y_lo) / y_span * inner_h

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    bottom = pad_t + inner_h
    return (
        head
        + f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{inner_h}" fill="#f6f8fa"/>'
        + f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{path}"/>'
        + f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="11" text-anchor="end">'
        f"{_fmt(y_hi)}</text>"
        + f'<text x="{pad_l - 4}" y="{bottom}" font-size="11" text-anchor="end">'
        f"{_fmt(y_lo)}</text>"
        + f'<text x="{pad_l}" y="{height - 8}" font-size="11">{esc(x_label)} {_fmt(x_lo)}</text>'
        + f'<text x="{pad_l + inner_w}" y="{height - 8}" font-size="11" text-anchor="end">'
        f"{_fmt(x_hi)}</text></svg>"
    )


def _fmt(value: float) -> str:
    return f"{value:.4g}"


REFERENCE_COLOR = "#8c959f"
CURRENT_COLOR = "#0969da"


def histogram_chart(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    title: str,
    *,
    width: int = 360,
    height: int = 150,
) -> str:
    """Two overlaid histograms (reference grey, current blue) on shared bin edges.

    `reference` and `current` are the proportions per bin (len(edges) - 1 each); the
    chart's size depends on the number of bins only, never on the data behind them.
    """
    labels = [_fmt(edges[0]), _fmt(edges[-1])]
    return _paired_bars(reference, current, title, labels, width, height, overlap=True)


def bar_chart(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    title: str,
    *,
    width: int = 360,
    height: int = 150,
) -> str:
    """Side-by-side bars per category (reference grey, current blue), labels below."""
    return _paired_bars(reference, current, title, list(labels), width, height, overlap=False)


def _paired_bars(
    reference: Sequence[float],
    current: Sequence[float],
    title: str,
    labels: list[str],
    width: int,
    height: int,
    overlap: bool,
) -> str:
    esc = html.escape
    ref = [v if math.isfinite(v) else 0.0 for v in map(float, reference)]
    cur = [v if math.isfinite(v) else 0.0 for v in map(float, current)]
    pad_l, pad_r, pad_t, pad_b = 40, 8, 22, 30
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max([*ref, *cur, 1e-12])
    n = max(len(ref), 1)
    slot = inner_w / n
    bottom = pad_t + inner_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{pad_l}" y="14" font-size="12" font-weight="600">{esc(title)}</text>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{inner_h}" fill="#f6f8fa"/>',
    ]
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = pad_l + i * slot
        for value, color, dx, w, opacity in (
            (r, REFERENCE_COLOR, 0.0, slot if overlap else slot / 2, 0.7),
            (c, CURRENT_COLOR, 0.0 if overlap else slot / 2, slot if overlap else slot / 2, 0.55),
        ):
            h = value / top * inner_h
            if h <= 0:
                continue
            parts.append(
                f'<rect x="{x + dx:.1f}" y="{bottom - h:.1f}" width="{max(w - 0.5, 0.5):.1f}" '
                f'height="{h:.1f}" fill="{color}" fill-opacity="{opacity}"/>'
            )
    parts.append(
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" font-size="10" text-anchor="end">'
        f"{100 * top:.3g}%</text>"
        f'<text x="{pad_l - 4}" y="{bottom}" font-size="10" text-anchor="end">0</text>'
    )
    if overlap and len(labels) == 2:
        parts.append(
            f'<text x="{pad_l}" y="{height - 16}" font-size="10">{esc(labels[0])}</text>'
            f'<text x="{pad_l + inner_w}" y="{height - 16}" font-size="10" text-anchor="end">'
            f"{esc(labels[1])}</text>"
        )
    else:
        for i, label in enumerate(labels):
            short = label if len(label) <= 10 else label[:9] + "…"
            parts.append(
                f'<text x="{pad_l + (i + 0.5) * slot:.1f}" y="{height - 16}" font-size="9" '
                f'text-anchor="middle">{esc(short)}</text>'
            )
    parts.append(
        f'<rect x="{pad_l}" y="{height - 10}" width="8" height="8" fill="{REFERENCE_COLOR}"/>'
        f'<text x="{pad_l + 11}" y="{height - 2}" font-size="10">reference</text>'
        f'<rect x="{pad_l + 70}" y="{height - 10}" width="8" height="8" fill="{CURRENT_COLOR}"/>'
        f'<text x="{pad_l + 81}" y="{height - 2}" font-size="10">current</text></svg>'
    )
    return "".join(parts)


__all__ = [
    "CURRENT_COLOR",
    "REFERENCE_COLOR",
    "bar_chart",
    "histogram_chart",
    "line_chart",
]
