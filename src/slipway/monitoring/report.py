"""The drift report: one self-contained HTML file (inline CSS and SVG, no scripts, no network).

Verdict first, then the findings, the columns sorted by drift score with their test,
statistic, p-value or distance, threshold and verdict, one reference-vs-current chart per
column (aggregated bins or top categories, so the file's size does not grow with the
data), the per-column quality numbers and the expectations. It reads a `DriftResult`
(duck-typed: `result.py` imports this module to render itself).
"""

from __future__ import annotations

import html
import math
from typing import Any

from slipway.monitoring.drift import STAT_TESTS
from slipway.reports.html import REPORT_CSS
from slipway.reports.svg import bar_chart, histogram_chart

_CSS = (
    REPORT_CSS
    + """
.drift{background:#ffebe9;border:1px solid #ff8182}.nodrift{background:#dafbe1;
border:1px solid #4ac26b}.unknown{background:#fff8c5;border:1px solid #d4a72c}
.yes{color:#cf222e;font-weight:600}.no{color:#1a7f37}.na{color:#57606a}
.error{color:#cf222e}.warning{color:#9a6700}.info{color:#57606a}
"""
)


def render_report(result: Any) -> str:
    """The HTML text of a drift report."""
    esc = html.escape
    tested = result.tested_columns
    drifted = [c for c in tested if c.drifted]
    if not tested:
        cls, verdict = "unknown", "No column could be tested: see the findings."
    elif result.dataset_drift:
        cls, verdict = "drift", "Dataset drift detected"
    else:
        cls, verdict = "nodrift", "No dataset drift"
    summary = (
        f"{len(drifted)} of {len(tested)} tested columns drifted "
        f"({100 * result.share_drifted:.1f}%); dataset drift at "
        f"{100 * result.drift_share_threshold:.0f}% or more."
    )
    q = result.quality
    meta = [
        f"reference: {esc(result.reference)}"
        + (" (profile)" if result.reference_is_profile else "")
        + f", {q.rows_reference:,} rows",
        f"current: {esc(result.current)}, {q.rows_current:,} rows",
    ]
    if result.sample is not None:
        meta.append(f"tests ran on random samples of at most {result.sample:,} rows per side")
    sampled = [c.name for c in tested if c.sampled]
    if sampled:
        meta.append(
            f"{len(sampled)} column(s) tested on the reference profile's sample: "
            + esc(", ".join(sampled[:10]))
            + (" …" if len(sampled) > 10 else "")
        )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Drift report: {esc(result.current)}</title><style>{_CSS}</style></head><body>",
        "<h1>Drift report</h1>",
        "".join(f"<div class='meta'>{m}</div>" for m in meta),
        f"<div class='verdict {cls}'><b>{verdict}</b><br>{summary}</div>",
    ]
    parts += _findings(result)
    parts += _columns_table(result)
    parts += _charts(result)
    parts += _quality_table(result)
    parts += _expectations(result)
    parts.append(
        "<p class='meta'>Tests and default choices follow Evidently 0.7's DataDriftPreset. "
        "p-value tests drift below the threshold; distances drift at or above it.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _ordered(result: Any) -> list[Any]:
    return sorted(result.columns.values(), key=lambda c: (-c.drifted, -c.score, c.name))


def _findings(result: Any) -> list[str]:
    findings = result.quality.findings
    if not findings:
        return ["<h2>Findings</h2><p class='meta'>No data-quality findings.</p>"]
    rows = "".join(
        f"<tr><td class='{f.severity}'>{f.severity}</td><td>{html.escape(f.column or '(all)')}"
        f"</td><td>{html.escape(f.kind)}</td><td>{html.escape(f.message)}</td></tr>"
        for f in findings
    )
    return [
        f"<h2>Findings ({len(findings)})</h2><table><tr><th>severity</th><th>column</th>"
        f"<th>kind</th><th>what</th></tr>{rows}</table>"
    ]


def _columns_table(result: Any) -> list[str]:
    rows = []
    for c in _ordered(result):
        title = STAT_TESTS[c.test].title if c.test in STAT_TESTS else ""
        verdict = (
            "<span class='yes'>drift</span>"
            if c.drifted
            else "<span class='no'>no drift</span>"
            if c.tested
            else "<span class='na'>not tested</span>"
        )
        rows.append(
            f"<tr><td><a href='#col-{_anchor(c.name)}'>{html.escape(c.name)}</a></td>"
            f"<td>{c.type}</td><td title='{html.escape(title)}'>{c.test or ''}</td>"
            f"<td class='num'>{_num(c.statistic)}</td><td class='num'>{_num(c.p_value)}</td>"
            f"<td class='num'>{_num(c.threshold)}</td><td>{verdict}</td>"
            f"<td class='num'>{c.n_reference:,}</td><td class='num'>{c.n_current:,}</td>"
            f"<td>{html.escape(c.note)}</td></tr>"
        )
    return [
        "<h2>Columns, by drift score</h2><table><tr><th>column</th><th>type</th><th>test</th>"
        "<th>statistic</th><th>p-value</th><th>threshold</th><th>verdict</th>"
        "<th>n ref</th><th>n cur</th><th>note</th></tr>" + "".join(rows) + "</table>"
    ]


def _charts(result: Any) -> list[str]:
    cards = []
    for c in _ordered(result):
        d = c.distribution
        if d is None:
            continue
        title = f"{c.name}" + (" (drift)" if c.drifted else "")
        if d.edges is not None:
            svg = histogram_chart(list(d.edges), list(d.reference), list(d.current), title)
        else:
            svg = bar_chart(d.labels or [], list(d.reference), list(d.current), title)
        what = (
            f"{c.test}: {_num(c.statistic)}"
            + (f", p = {_num(c.p_value)}" if c.p_value is not None else "")
            + f" (threshold {_num(c.threshold)})"
            if c.tested
            else c.note
        )
        cards.append(
            f"<div class='card' id='col-{_anchor(c.name)}'>{svg}<p>{html.escape(what)}</p></div>"
        )
    if not cards:
        return []
    return ["<h2>Distributions, reference vs current</h2><div class='grid'>", *cards, "</div>"]


def _quality_table(result: Any) -> list[str]:
    q = result.quality
    rows = []
    for name, c in q.columns.items():
        new = ""
        if c.new_category_share:
            shown = ", ".join(map(str, c.new_categories[:5]))
            new = f"{_pct(c.new_category_share)} ({html.escape(shown)})"
        rng = ""
        if c.min_reference is not None:
            rng = f"[{_num(c.min_reference)}, {_num(c.max_reference)}]"
        cur_rng = ""
        if c.min_current is not None:
            cur_rng = f"[{_num(c.min_current)}, {_num(c.max_current)}]"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{c.type}</td>"
            f"<td class='num'>{_pct(c.missing_share_reference)}</td>"
            f"<td class='num'>{_pct(c.missing_share_current)}</td>"
            f"<td>{rng}</td><td>{cur_rng}</td><td class='num'>{_pct(c.out_of_range_share)}</td>"
            f"<td>{new}</td></tr>"
        )
    dup = (
        f"Duplicate rows: reference {_pct(q.duplicate_share_reference)}, "
        f"current {_pct(q.duplicate_share_current)}."
    )
    return [
        f"<h2>Data quality</h2><p class='meta'>{dup}</p><table><tr><th>column</th>"
        "<th>type</th><th>missing ref</th><th>missing cur</th><th>range ref</th>"
        "<th>range cur</th><th>out of range</th><th>new categories</th></tr>"
        + "".join(rows)
        + "</table>"
    ]


def _expectations(result: Any) -> list[str]:
    e = result.expectations
    if e is None:
        return []
    rows = "".join(
        f"<tr><td>{html.escape(r.column)}</td><td>{html.escape(r.rule)}</td>"
        f"<td>{html.escape(str(r.expected))}</td><td>{html.escape(_short(r.observed))}</td>"
        f"<td>{'<span class=no>pass</span>' if r.passed else '<span class=yes>fail</span>'}"
        f"</td><td>{html.escape(r.message)}</td></tr>"
        for r in e.results
    )
    head = f"Expectations: {len(e.results) - len(e.failed)} of {len(e.results)} passed"
    return [
        f"<h2>{head}</h2><table><tr><th>column</th><th>rule</th><th>expected</th>"
        f"<th>observed</th><th>result</th><th>why</th></tr>{rows}</table>"
    ]


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _pct(value: float | None) -> str:
    if value is None:
        return ""
    return f"{100 * value:.3g}%"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


__all__ = [
    "render_report",
]
