"""The A/B report: one self-contained HTML file (inline CSS and SVG, no scripts, no network).

Verdict first, then the variants (sample size, metric and interval, probability of being
best), the comparisons with the control, an interval plot per variant and the posterior
densities. It reads an `ExperimentAnalysis` (duck-typed, as the drift report does).
"""

from __future__ import annotations

import html
import math
from typing import Any

from slipway.reports.html import REPORT_CSS
from slipway.reports.svg import interval_chart, multi_line_chart

_CSS = (
    REPORT_CSS
    + """
.significant{background:#dafbe1;border:1px solid #4ac26b}
.no_difference{background:#ddf4ff;border:1px solid #54aeff}
.not_enough_data{background:#fff8c5;border:1px solid #d4a72c}
.yes{color:#1a7f37;font-weight:600}.no{color:#57606a}
"""
)

_TITLES = {
    "significant": "Significant difference",
    "no_difference": "No significant difference",
    "not_enough_data": "Not enough data yet",
}


def render_report(result: Any) -> str:
    """The HTML text of an A/B report."""
    esc = html.escape
    level = f"{1 - result.alpha:.0%}"
    window = ", ".join(
        p
        for p in (
            f"since {result.since}" if result.since else "",
            f"until {result.until}" if result.until else "",
        )
        if p
    )
    meta = [
        f"model log: {esc(', '.join(result.models))}"
        + (f" ({esc(window)})" if window else " (all logged predictions)"),
        f"metric: {esc(result.description)}",
        f"variants by {esc(result.grouped_by)}; control: {esc(result.control)}",
        f"&alpha; = {result.alpha:g}, power = {result.power:.0%}, minimum detectable effect = "
        f"{esc(_diff(result, result.mde, signed=False))}",
    ]
    if result.excluded_rows:
        meta.append(
            f"{result.excluded_rows:,} logged rows left out (no variant, or another experiment)"
        )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>A/B report: {esc(result.experiment)}</title><style>{_CSS}</style></head><body>",
        f"<h1>A/B report: {esc(result.experiment)}</h1>",
        "".join(f"<div class='meta'>{m}</div>" for m in meta),
        f"<div class='verdict {result.verdict.status}'><b>"
        f"{_TITLES.get(result.verdict.status, result.verdict.status)}</b><br>"
        f"{esc(result.verdict.message)}</div>",
    ]
    parts += _variants_table(result, level)
    parts += _comparisons_table(result, level)
    parts += _charts(result, level)
    parts.append(
        "<p class='meta'>Intervals: Wilson for rates, Student t for means; differences: "
        "Wald (rates) or Welch (means). Tests are two-sided: two-proportion z-test with a "
        "pooled standard error, Welch's t-test; Holm-adjusted when several variants face "
        "the control. P(best) and expected loss: Monte Carlo over Beta(1+successes, "
        "1+failures) posteriors for rates, Normal(mean, s²/n) for means "
        f"({result.draws:,} draws, seed {result.seed}). The verdict waits for the planned "
        "sample size in every variant (a fixed-horizon design), so an early significant "
        "p-value is shown but not acted on.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _variants_table(result: Any, level: str) -> list[str]:
    esc = html.escape
    rows = []
    for v in result.variants:
        interval = (
            f"[{_value(result, v.ci_low)}, {_value(result, v.ci_high)}]"
            if v.ci_low is not None
            else ""
        )
        sample = f"{v.labelled:,} of {v.units:,}"
        extra = f"{v.successes:,}" if v.successes is not None else _num(v.std)
        rows.append(
            f"<tr><td>{esc(v.name)}{' (control)' if v.name == result.control else ''}</td>"
            f"<td class='num'>{sample}</td><td class='num'>{extra}</td>"
            f"<td class='num'>{_value(result, v.value)}</td><td>{interval}</td>"
            f"<td class='num'>{_pct(v.prob_best)}</td>"
            f"<td class='num'>{_diff(result, v.expected_loss, signed=False)}</td>"
            f"<td class='num'>{'' if v.more_needed is None else f'{v.more_needed:,}'}</td></tr>"
        )
    extra_head = "successes" if result.kind == "rate" else "std"
    need = (
        f"more needed (of {result.required_per_variant:,})"
        if result.required_per_variant is not None
        else "more needed"
    )
    return [
        f"<h2>Variants</h2><table><tr><th>variant</th><th>labelled {result.unit}s</th>"
        f"<th>{extra_head}</th><th>{esc(result.metric)}</th><th>{level} interval</th>"
        f"<th>P(best)</th><th>expected loss</th><th>{need}</th></tr>" + "".join(rows) + "</table>"
    ]


def _comparisons_table(result: Any, level: str) -> list[str]:
    esc = html.escape
    if not result.comparisons:
        return [
            "<h2>Against the control</h2><p class='meta'>No test yet: a variant has too "
            "few labelled samples.</p>"
        ]
    rows = []
    for c in result.comparisons:
        relative = "" if c.relative_difference is None else f"{100 * c.relative_difference:+.1f}%"
        flag = "<span class='yes'>yes</span>" if c.significant else "<span class='no'>no</span>"
        rows.append(
            f"<tr><td>{esc(c.variant)} vs {esc(c.control)}</td>"
            f"<td class='num'>{_diff(result, c.difference)}</td>"
            f"<td>[{_diff(result, c.ci_low)}, {_diff(result, c.ci_high)}]</td>"
            f"<td class='num'>{relative}</td><td>{esc(c.test)}</td>"
            f"<td class='num'>{_num(c.statistic)}</td><td class='num'>{_p(c.p_value)}</td>"
            f"<td class='num'>{_p(c.p_value_adjusted)}</td><td>{flag}</td></tr>"
        )
    return [
        "<h2>Against the control</h2><table><tr><th>comparison</th><th>difference</th>"
        f"<th>{level} interval</th><th>relative</th><th>test</th><th>statistic</th>"
        "<th>p-value</th><th>adjusted p</th><th>significant</th></tr>" + "".join(rows) + "</table>"
    ]


def _charts(result: Any, level: str) -> list[str]:
    names = [v.name for v in result.variants]

    def axis(value: float) -> str:
        return f"{100 * value:.3g}%" if result.kind == "rate" else f"{value:.4g}"

    cards = [
        interval_chart(
            names,
            [v.value for v in result.variants],
            [v.ci_low for v in result.variants],
            [v.ci_high for v in result.variants],
            f"{result.metric} with {level} intervals",
            reference=result.variants[0].value,
            value_format=axis,
        )
        + "<p>The dashed line is the control's value.</p>"
    ]
    if result.posterior is not None:
        cards.append(
            multi_line_chart(
                result.posterior["grid"],
                result.posterior["density"],
                f"Posterior of {result.metric}",
                x_format=axis,
            )
            + "<p>Where each variant's true value probably lies, given the data.</p>"
        )
    return [
        "<h2>Charts</h2><div class='grid'>",
        *(f"<div class='card'>{card}</div>" for card in cards),
        "</div>",
    ]


def _value(result: Any, value: float | None) -> str:
    if value is None:
        return ""
    return f"{100 * value:.2f}%" if result.kind == "rate" else _num(value)


def _diff(result: Any, value: float | None, *, signed: bool = True) -> str:
    if value is None:
        return ""
    sign = "+" if signed else ""
    return f"{100 * value:{sign}.2f} pp" if result.kind == "rate" else f"{value:{sign}.4g}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.4g}"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


__all__ = ["render_report"]
