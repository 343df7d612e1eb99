"""Server-drawn SVG for the compare page: a param against a metric, and parallel coordinates.

Both have a handful to a few hundred points, so plain SVG (styled by the page's CSS, so it
follows light and dark) is enough and needs no script. Params that are not numbers are
placed by category, in sorted order.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from slipway.reports.svg import series_color


@dataclass(frozen=True)
class Axis:
    """Where values of one param or metric go: numeric, or categories in order."""

    name: str
    low: float
    high: float
    categories: tuple[str, ...] = ()

    def position(self, value: str | float | None) -> float | None:
        """0..1 along the axis, None for a missing value."""
        if value is None or value == "":
            return None
        if self.categories:
            index = self.categories.index(str(value))
            return (index + 0.5) / len(self.categories)
        number = _as_float(value)
        if number is None or not math.isfinite(number):
            return None
        if self.high == self.low:
            return 0.5
        return (number - self.low) / (self.high - self.low)

    def label(self, at: float) -> str:
        if self.categories:
            return ""
        return f"{self.low + at * (self.high - self.low):.4g}"


def _as_float(value: str | float | None) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def axis_of(name: str, values: Sequence[str | float | None]) -> Axis:
    present = [v for v in values if v is not None and v != ""]
    numbers = [_as_float(v) for v in present]
    finite = [n for n in numbers if n is not None and math.isfinite(n)]
    if present and len(finite) == len(present):
        return Axis(name, min(finite), max(finite))
    return Axis(name, 0.0, 1.0, tuple(sorted({str(v) for v in present})))


def scatter(
    x: Axis,
    y: Axis,
    points: Sequence[tuple[str | float | None, str | float | None, str]],
    width: int = 520,
    height: int = 320,
) -> str:
    """`points` are (x value, y value, label) — one per run."""
    esc = html.escape
    pad_l, pad_r, pad_t, pad_b = 64, 16, 16, 44
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    out = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(y.name)} against {esc(x.name)}">',
        f'<rect class="frame" x="{pad_l}" y="{pad_t}" width="{w}" height="{h}"/>',
    ]
    for at in (0.0, 0.5, 1.0):
        out.append(
            f'<text class="tick" x="{pad_l - 6}" y="{pad_t + h - at * h + 4:.1f}" '
            f'text-anchor="end">{esc(y.label(at))}</text>'
        )
        if not x.categories:
            out.append(
                f'<text class="tick" x="{pad_l + at * w:.1f}" y="{pad_t + h + 16}" '
                f'text-anchor="middle">{esc(x.label(at))}</text>'
            )
    for i, name in enumerate(x.categories):
        cx = pad_l + (i + 0.5) / len(x.categories) * w
        out.append(
            f'<text class="tick" x="{cx:.1f}" y="{pad_t + h + 16}" '
            f'text-anchor="middle">{esc(name[:16])}</text>'
        )
    out.append(
        f'<text class="axis-name" x="{pad_l + w / 2:.1f}" y="{height - 6}" '
        f'text-anchor="middle">{esc(x.name)}</text>'
    )
    out.append(
        f'<text class="axis-name" x="14" y="{pad_t + h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {pad_t + h / 2:.1f})">{esc(y.name)}</text>'
    )
    for i, (xv, yv, label) in enumerate(points):
        px, py = x.position(xv), y.position(yv)
        if px is None or py is None:
            continue
        cx, cy = pad_l + px * w, pad_t + h - py * h
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{series_color(i)}">'
            f"<title>{esc(label)}: {esc(str(xv))}, {esc(str(yv))}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


def parallel_coordinates(
    axes: Sequence[Axis],
    rows: Sequence[tuple[Sequence[str | float | None], str]],
    width: int = 720,
    height: int = 300,
) -> str:
    """One polyline per run across `axes` (the last is the metric); rows are (values, label)."""
    esc = html.escape
    pad_x, pad_t, pad_b = 60, 44, 24
    h = height - pad_t - pad_b
    step = (width - 2 * pad_x) / max(1, len(axes) - 1)
    out = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="parallel coordinates of {len(axes)} axes">'
    ]
    for i, axis in enumerate(axes):
        ax = pad_x + i * step
        out.append(
            f'<line class="frame" x1="{ax:.1f}" y1="{pad_t}" x2="{ax:.1f}" y2="{pad_t + h}"/>'
        )
        out.append(
            f'<text class="axis-name" x="{ax:.1f}" y="{pad_t - 22}" '
            f'text-anchor="middle">{esc(axis.name[:24])}</text>'
        )
        for at in (0.0, 1.0):
            ty = pad_t + h - at * h + (12 if at == 0 else -2)
            out.append(
                f'<text class="tick" x="{ax + 4:.1f}" y="{ty:.1f}">{esc(axis.label(at))}</text>'
            )
        for j, name in enumerate(axis.categories):
            cy = pad_t + h - (j + 0.5) / len(axis.categories) * h
            out.append(f'<text class="tick" x="{ax + 4:.1f}" y="{cy:.1f}">{esc(name[:14])}</text>')
    for i, (values, label) in enumerate(rows):
        coords = []
        for k, (axis, value) in enumerate(zip(axes, values, strict=True)):
            at = axis.position(value)
            if at is not None:
                coords.append(f"{pad_x + k * step:.1f},{pad_t + h - at * h:.1f}")
        if len(coords) > 1:
            out.append(
                f'<polyline fill="none" stroke="{series_color(i)}" stroke-width="2" '
                f'points="{" ".join(coords)}"><title>{esc(label)}</title></polyline>'
            )
    out.append("</svg>")
    return "".join(out)


__all__ = ["Axis", "axis_of", "parallel_coordinates", "scatter"]
