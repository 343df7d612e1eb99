"""Runs side by side: params with their differences marked, metrics with deltas, curves.

`compare_runs` is what `Client.compare_runs` and `slipway runs compare` return and show;
`comparison_html` writes it as one self-contained HTML page with the metric curves of
every run overlaid (charts from `slipway.reports.svg`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slipway.entities import Run
from slipway.errors import InvalidParameterValue
from slipway.reports.html import REPORT_CSS
from slipway.reports.svg import MAX_POINTS, timeline_chart

Points = list[tuple[int, float]]  # (step, value)


@dataclass(frozen=True)
class ParamComparison:
    """One param across the compared runs (None where a run has no such param)."""

    key: str
    values: list[str | None]
    differs: bool


@dataclass(frozen=True)
class MetricComparison:
    """One metric's latest value per run, and each run's delta to the first run."""

    key: str
    values: list[float | None]
    deltas: list[float | None]
    differs: bool


@dataclass
class RunComparison:
    """Runs in the order asked for; the first is the baseline of every delta."""

    runs: list[Run]
    params: list[ParamComparison]
    metrics: list[MetricComparison]
    histories: dict[str, dict[str, Points]] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return [r.info.run_id for r in self.runs]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what `slipway runs compare --json` prints)."""
        return {
            "runs": [
                {
                    "run_id": r.info.run_id,
                    "run_name": r.info.run_name,
                    "experiment_id": r.info.experiment_id,
                    "status": r.info.status,
                }
                for r in self.runs
            ],
            "params": [
                {"key": p.key, "values": p.values, "differs": p.differs} for p in self.params
            ],
            "metrics": [
                {
                    "key": m.key,
                    "values": [_json_float(v) for v in m.values],
                    "deltas": [_json_float(v) for v in m.deltas],
                    "differs": m.differs,
                }
                for m in self.metrics
            ],
        }


def compare_runs(client: Any, run_ids: Sequence[str], histories: bool = False) -> RunComparison:
    """Compare runs by id; with `histories`, also fetch every metric's full history."""
    if len(run_ids) < 2:
        raise InvalidParameterValue("Give at least two runs to compare.")
    if len(set(run_ids)) != len(run_ids):
        raise InvalidParameterValue("Each run may be given once.")
    runs = [client.get_run(rid) for rid in run_ids]
    param_keys = sorted({k for r in runs for k in r.data.params})
    params = []
    for key in param_keys:
        values = [r.data.params.get(key) for r in runs]
        params.append(ParamComparison(key, values, len(set(values)) > 1))
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    metrics = []
    for key in metric_keys:
        values = [r.data.metrics.get(key) for r in runs]
        base = values[0]
        deltas = [None if base is None or v is None else v - base for v in values]
        differs = len({repr(v) for v in values}) > 1
        metrics.append(MetricComparison(key, values, deltas, differs))
    comparison = RunComparison(runs, params, metrics)
    if histories:
        for key in metric_keys:
            comparison.histories[key] = {
                r.info.run_id: [
                    (m.step, m.value) for m in client.get_metric_history(r.info.run_id, key)
                ]
                for r in runs
                if key in r.data.metrics
            }
    return comparison


def comparison_html(comparison: RunComparison, title: str = "Run comparison") -> str:
    """One HTML page: the runs, params (differences marked), metrics with deltas, curves."""
    esc = html.escape
    names = _labels(comparison.runs)
    head_cells = "".join(f"<th>{esc(n)}</th>" for n in names)
    num_head_cells = "".join(f'<th class="num">{esc(n)}</th>' for n in names)
    run_rows = "".join(
        f"<tr><td>{esc(n)}</td><td><code>{esc(r.info.run_id)}</code></td>"
        f"<td>{esc(r.info.experiment_id)}</td><td>{esc(r.info.status)}</td></tr>"
        for n, r in zip(names, comparison.runs, strict=True)
    )
    param_rows = "".join(
        f'<tr class="{"diff" if p.differs else ""}"><td>{esc(p.key)}</td>'
        + "".join(f"<td>{esc('' if v is None else v)}</td>" for v in p.values)
        + "</tr>"
        for p in comparison.params
    )
    metric_rows = "".join(
        f'<tr class="{"diff" if m.differs else ""}"><td>{esc(m.key)}</td>'
        + "".join(
            f'<td class="num">{_fmt(v)}{_delta(d) if i else ""}</td>'
            for i, (v, d) in enumerate(zip(m.values, m.deltas, strict=True))
        )
        + "</tr>"
        for m in comparison.metrics
    )
    charts = "".join(
        f'<div class="card">{_curves_chart(key, by_run, comparison.runs, names)}</div>'
        for key, by_run in comparison.histories.items()
        if any(len(points) > 1 for points in by_run.values())
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{REPORT_CSS}tr.diff td{{background:#fff8c5}}th.num{{text-align:right}}"
        f".delta{{color:#57606a;"
        f"font-size:11px;margin-left:6px}}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='meta'>{len(comparison.runs)} runs; deltas are "
        f"to the first run; highlighted rows differ between runs.</p>"
        f"<h2>Runs</h2><table><tr><th>run</th><th>id</th><th>experiment</th><th>status</th>"
        f"</tr>{run_rows}</table>"
        f"<h2>Params</h2><table><tr><th>param</th>{head_cells}</tr>{param_rows}</table>"
        f"<h2>Metrics (latest)</h2><table><tr><th>metric</th>{num_head_cells}</tr>{metric_rows}"
        f"</table>"
        + (f"<h2>Metric curves</h2><div class='grid'>{charts}</div>" if charts else "")
        + "</body></html>"
    )


def _curves_chart(key: str, by_run: dict[str, Points], runs: list[Run], names: list[str]) -> str:
    steps = sorted({s for points in by_run.values() for s, _ in points})
    stride = max(1, math.ceil(len(steps) / MAX_POINTS))
    steps = steps[::stride]
    series = {}
    for name, run in zip(names, runs, strict=True):
        points = dict(by_run.get(run.info.run_id, []))  # the last value logged at a step
        series[name] = [points.get(s, math.nan) for s in steps]
    return timeline_chart(steps, series, key, x_format=lambda x: f"step {x:g}")


def _labels(runs: list[Run]) -> list[str]:
    """Each run's name, with an id prefix where two runs share a name."""
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    return [
        f"{n} ({r.info.run_id[:8]})" if names.count(n) > 1 else n
        for n, r in zip(names, runs, strict=True)
    ]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _delta(delta: float | None) -> str:
    if delta is None or delta == 0 or not math.isfinite(delta):
        return ""
    return f'<span class="delta">{delta:+.4g}</span>'


def _json_float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)


__all__ = [
    "MetricComparison",
    "ParamComparison",
    "RunComparison",
    "compare_runs",
    "comparison_html",
]
