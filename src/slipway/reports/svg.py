"""Inline SVG charts: no JavaScript, no files, no plotting library.

An HTML report stays one self-contained file that opens anywhere, so its charts are
drawn here as SVG markup. Long series are thinned to at most `MAX_POINTS` points.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

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


# One color per series when a chart draws several (variants of an experiment, ...).
SERIES_COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#57606a", "#bf3989")


def series_color(index: int) -> str:
    """The color of the `index`-th series (the palette repeats after seven)."""
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def interval_chart(
    labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    title: str,
    *,
    reference: float | None = None,
    value_format: Callable[[float], str] | None = None,
    width: int = 480,
) -> str:
    """One row per label: the estimate as a dot and its interval as a bar (a forest plot).

    `reference` draws a dashed vertical line (e.g. the control's value); `value_format`
    writes the axis ends (default: 4 significant digits). A row whose estimate is
    missing is labelled "no data".
    """
    fmt = value_format or _fmt
    esc = html.escape
    row_h, pad_l, pad_r, pad_t, pad_b = 26, 110, 16, 24, 22
    height = pad_t + pad_b + row_h * max(len(labels), 1)
    inner_w = width - pad_l - pad_r
    finite = [
        float(v)
        for v in (*estimates, *lows, *highs, reference)
        if v is not None and math.isfinite(v)
    ]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = hi - lo
    lo, hi = (lo - 0.05 * span, hi + 0.05 * span) if span else (lo - 0.5, hi + 0.5)

    def sx(v: float) -> float:
        return pad_l + (v - lo) / (hi - lo) * inner_w

    bottom = pad_t + row_h * max(len(labels), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{pad_l}" y="16" font-size="13" font-weight="600">{esc(title)}</text>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{bottom - pad_t}" '
        'fill="#f6f8fa"/>',
    ]
    if reference is not None and math.isfinite(reference):
        x = sx(reference)
        parts.append(
            f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{bottom}" stroke="#8c959f" '
            'stroke-dasharray="4 3"/>'
        )
    for i, (label, est, low, high) in enumerate(zip(labels, estimates, lows, highs, strict=True)):
        y = pad_t + row_h * i + row_h / 2
        short = label if len(label) <= 16 else label[:15] + "…"
        parts.append(
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{esc(short)}</text>"
        )
        if est is None or not math.isfinite(est):
            parts.append(
                f'<text x="{pad_l + 6}" y="{y + 4:.1f}" font-size="11" fill="#57606a">'
                "no data</text>"
            )
            continue
        color = series_color(i)
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            parts.append(
                f'<line x1="{sx(low):.1f}" y1="{y:.1f}" x2="{sx(high):.1f}" y2="{y:.1f}" '
                f'stroke="{color}" stroke-width="3" stroke-linecap="round"/>'
            )
        parts.append(f'<circle cx="{sx(est):.1f}" cy="{y:.1f}" r="4.5" fill="{color}"/>')
    parts.append(
        f'<text x="{pad_l}" y="{height - 6}" font-size="11">{esc(fmt(lo))}</text>'
        f'<text x="{pad_l + inner_w}" y="{height - 6}" font-size="11" text-anchor="end">'
        f"{esc(fmt(hi))}</text></svg>"
    )
    return "".join(parts)


def multi_line_chart(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    x_format: Callable[[float], str] | None = None,
    width: int = 480,
    height: int = 200,
) -> str:
    """Several series over shared x values (e.g. posterior densities), with a legend.

    The y axis starts at 0; non-finite values are drawn as 0. Long series are thinned
    to at most `MAX_POINTS` points. `x_format` writes the x axis ends.
    """
    fmt = x_format or _fmt
    esc = html.escape
    pad_l, pad_r, pad_t, pad_b = 48, 12, 24, 40
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">'
        f'<text x="{pad_l}" y="16" font-size="13" font-weight="600">{esc(title)}</text>'
    )
    stride = max(1, math.ceil(len(xs) / MAX_POINTS))
    keep = list(range(0, len(xs), stride))
    if len(xs) < 2 or not series:
        return head + (
            f'<text x="{pad_l}" y="{pad_t + inner_h / 2}" font-size="12" fill="#57606a">'
            "nothing to draw</text></svg>"
        )
    cleaned = {
        name: [float(ys[i]) if math.isfinite(ys[i]) else 0.0 for i in keep]
        for name, ys in series.items()
    }
    x_pts = [float(xs[i]) for i in keep]
    x_lo, x_hi = x_pts[0], x_pts[-1]
    x_span = (x_hi - x_lo) or 1.0
    y_hi = max((max(ys) for ys in cleaned.values() if ys), default=0.0) or 1.0
    bottom = pad_t + inner_h
    parts = [
        head,
        f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{inner_h}" fill="#f6f8fa"/>',
    ]
    for i, (name, ys) in enumerate(cleaned.items()):
        points = " ".join(
            f"{pad_l + (x - x_lo) / x_span * inner_w:.1f},{bottom - y / y_hi * inner_h:.1f}"
            for x, y in zip(x_pts, ys, strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{series_color(i)}" stroke-width="1.5" '
            f'points="{points}"><title>{esc(name)}</title></polyline>'
        )
    parts.append(
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" font-size="10" text-anchor="end">'
        f"{_fmt(y_hi)}</text>"
        f'<text x="{pad_l - 4}" y="{bottom}" font-size="10" text-anchor="end">0</text>'
        f'<text x="{pad_l}" y="{bottom + 13}" font-size="10">{esc(fmt(x_lo))}</text>'
        f'<text x="{pad_l + inner_w}" y="{bottom + 13}" font-size="10" text-anchor="end">'
        f"{esc(fmt(x_hi))}</text>"
    )
    x = float(pad_l)
    for i, name in enumerate(cleaned):
        short = name if len(name) <= 16 else name[:15] + "…"
        parts.append(
            f'<rect x="{x:.0f}" y="{height - 11}" width="8" height="8" fill="{series_color(i)}"/>'
            f'<text x="{x + 11:.0f}" y="{height - 3}" font-size="10">{esc(short)}</text>'
        )
        x += 22 + 6.5 * len(short)
    parts.append("</svg>")
    return "".join(parts)


def timeline_chart(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    markers: Sequence[tuple[float, str, str]] = (),
    x_range: tuple[float, float] | None = None,
    x_format: Callable[[float], str] | None = None,
    width: int = 720,
    height: int = 200,
) -> str:
    """Series over time with gaps (non-finite values), shaded bands and event markers.

    `bands[name]` is a (lower, upper) pair drawn under the series `name`; `markers` are
    `(x, label, color)` vertical lines (alerts, retrains) on the same axis.
    """
    fmt = x_format or _fmt
    esc = html.escape
    pad_l, pad_r, pad_t, pad_b = 56, 12, 24, 40
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">'
        f'<text x="{pad_l}" y="16" font-size="13" font-weight="600">{esc(title)}</text>'
    )
    values = [float(v) for ys in series.values() for v in ys if math.isfinite(v)]
    for lo, hi in (bands or {}).values():
        values += [float(v) for v in (*lo, *hi) if math.isfinite(v)]
    if not xs or not values:
        return head + (
            f'<text x="{pad_l}" y="{pad_t + inner_h / 2}" font-size="12" fill="#57606a">'
            "nothing to draw yet</text></svg>"
        )
    x_lo, x_hi = x_range or (float(min(xs)), float(max(xs)))
    x_span = (x_hi - x_lo) or 1.0
    y_lo, y_hi = min(values), max(values)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    bottom = pad_t + inner_h

    def px(x: float) -> float:
        return pad_l + (float(x) - x_lo) / x_span * inner_w

    def py(y: float) -> float:
        return bottom - (float(y) - y_lo) / (y_hi - y_lo) * inner_h

    parts = [
        head,
        f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{inner_h}" fill="#f6f8fa"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 10}" font-size="10" text-anchor="end">'
        f"{esc(_fmt(y_hi))}</text>",
        f'<text x="{pad_l - 4}" y="{bottom}" font-size="10" text-anchor="end">'
        f"{esc(_fmt(y_lo))}</text>",
        f'<text x="{pad_l}" y="{bottom + 14}" font-size="10">{esc(fmt(x_lo))}</text>',
        f'<text x="{pad_l + inner_w}" y="{bottom + 14}" font-size="10" text-anchor="end">'
        f"{esc(fmt(x_hi))}</text>",
    ]
    names = list(series)
    for name, (lo, hi) in (bands or {}).items():
        color = series_color(names.index(name)) if name in names else "#57606a"
        for x, a, b in zip(xs, lo, hi, strict=True):
            if math.isfinite(a) and math.isfinite(b):
                parts.append(
                    f'<line x1="{px(x):.1f}" y1="{py(a):.1f}" x2="{px(x):.1f}" y2="{py(b):.1f}" '
                    f'stroke="{color}" stroke-opacity="0.3" stroke-width="6"/>'
                )
    for x, label, color in markers:
        parts.append(
            f'<line x1="{px(x):.1f}" y1="{pad_t}" x2="{px(x):.1f}" y2="{bottom}" '
            f'stroke="{color}" stroke-dasharray="3,2"><title>{esc(label)}</title></line>'
        )
    for i, (name, ys) in enumerate(series.items()):
        color = series_color(i)
        run: list[str] = []
        for x, y in [*zip(xs, ys, strict=True), (None, math.nan)]:
            if x is not None and math.isfinite(y):
                run.append(f"{px(x):.1f},{py(y):.1f}")
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{color}"/>')
                continue
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    'stroke-width="1.5"/>'
                )
            run = []
        parts.append(
            f'<text x="{pad_l + 8 + 140 * i}" y="{height - 6}" font-size="11" '
            f'fill="{color}">&#9632; {esc(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = [
    "CURRENT_COLOR",
    "REFERENCE_COLOR",
    "SERIES_COLORS",
    "bar_chart",
    "histogram_chart",
    "interval_chart",
    "line_chart",
    "multi_line_chart",
    "series_color",
    "timeline_chart",
]
