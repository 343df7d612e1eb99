"""A monitor's HTML report: one self-contained page (inline SVG, no scripts).

Drift over time (the share of drifted columns and each column's statistic), performance
over time (measured, and CBPE's estimate with its band), data quality, and the alerts,
retrains and promotions as markers on the same time axis, then the event log.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import Any

from slipway.monitoring.monitors import MonitorStatus
from slipway.monitoring.spec import MonitorSpec, target_text
from slipway.reports.html import REPORT_CSS
from slipway.reports.svg import timeline_chart

_MARKER_COLORS = {
    "alert": "#cf222e",
    "alert_cleared": "#1a7f37",
    "retrain_started": "#8250df",
    "retrain_failed": "#bc4c00",
    "promoted": "#0969da",
    "challenger_refused": "#57606a",
    "awaiting_approval": "#bf3989",
}
_MAX_COLUMNS_CHARTED = 8


def _when(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _series(windows: list[Any], key: str) -> list[float]:
    out = []
    for w in windows:
        value = w.metrics.get(key)
        out.append(float(value) if isinstance(value, int | float) else math.nan)
    return out


def render_monitor_report(status: MonitorStatus) -> str:
    """The report of `status` (see the module docstring) as one HTML document."""
    esc = html.escape
    monitor = status.monitor
    spec = MonitorSpec.from_dict(monitor.spec)
    windows = status.windows
    xs = [float(w.window_start) for w in windows]
    span = (min(xs), max(xs) + spec.window_s * 1000) if xs else None
    markers = [
        (float(e.timestamp), f"{e.kind} {e.condition or ''} {e.message or ''}", color)
        for e in status.events
        if (color := _MARKER_COLORS.get(e.kind))
    ]
    if span:  # events outside the charted windows would squash the axis
        markers = [m for m in markers if span[0] <= m[0] <= span[1]]
    common = {"markers": markers, "x_range": span, "x_format": _when}

    drift = timeline_chart(
        xs,
        {"share of drifted columns": _series(windows, "drift_share")},
        "Dataset drift",
        **common,
    )
    columns = sorted(
        {k.split(".")[1] for w in windows for k in w.metrics if k.endswith(".statistic")}
    )[:_MAX_COLUMNS_CHARTED]
    per_column = timeline_chart(
        xs,
        {c: _series(windows, f"column.{c}.statistic") for c in columns},
        "Drift statistic per column",
        **common,
    )
    metric_names = sorted(
        {k.split(".")[1] for w in windows for k in w.metrics if k.startswith("estimated.")}
        | {r.metric for r in spec.rules}
    ) or ["accuracy"]
    perf_charts = []
    for name in metric_names:
        perf_charts.append(
            timeline_chart(
                xs,
                {
                    f"measured {name}": _series(windows, f"performance.{name}"),
                    f"estimated {name} (CBPE)": _series(windows, f"estimated.{name}"),
                    f"reference {name}": _series(windows, f"reference.{name}"),
                },
                f"Performance: {name}",
                bands={
                    f"estimated {name} (CBPE)": (
                        _series(windows, f"estimated.{name}.lower"),
                        _series(windows, f"estimated.{name}.upper"),
                    )
                },
                **common,
            )
        )
    quality = timeline_chart(
        xs,
        {
            "data-quality findings": _series(windows, "quality_findings"),
            "rows": _series(windows, "rows"),
            "labelled rows": _series(windows, "labelled_rows"),
        },
        "Data quality and volume",
        **common,
    )
    rows = "".join(
        f"<tr><td>{esc(_when(w.window_start))}</td><td class='{esc(w.status)}'>"
        f"{esc(w.status)}</td><td>{w.rows}</td><td>{w.labelled_rows}</td>"
        f"<td>{esc(str(w.model_version or ''))}</td>"
        f"<td>{_fmt(w.metrics.get('drift_share'))}</td></tr>"
        for w in reversed(windows)
    )
    events = "".join(
        f"<tr><td>{esc(_when(e.timestamp))}</td><td>{esc(e.kind)}</td>"
        f"<td>{esc(e.condition or '')}</td><td>{esc(e.message or '')}</td></tr>"
        for e in reversed(status.events)
    )
    targets = ", ".join(target_text(t) for t in spec.alerts)
    active = ", ".join(status.active_alerts) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>slipway monitor {esc(monitor.name)}</title>
<style>{REPORT_CSS}
table{{margin:8px 0 24px}}
.drift,.concept_drift{{color:#cf222e;font-weight:600}}.not_enough_data{{color:#57606a}}
.ok{{color:#1a7f37}} svg{{display:block;margin:12px 0}}
</style></head><body>
<h1>Monitor {esc(monitor.name)}</h1>
<p>Model <b>{esc(spec.model_ref)}</b>; windows of {spec.window_s}s, at least
{spec.min_rows} rows; dataset drift at {spec.drift_share:.0%} of columns;
rules: {esc(", ".join(spec.performance) or "none")}; alerts to {esc(targets)};
retrain: {esc(spec.retrain or "none")} (promotion: {esc(spec.promote)}).
Active alerts: <b>{esc(active)}</b>.</p>
<h2>Drift</h2>{drift}{per_column}
<h2>Performance</h2>{"".join(perf_charts)}
<h2>Data quality</h2>{quality}
<h2>Windows</h2><table><tr><th>window (UTC)</th><th>status</th><th>rows</th>
<th>labelled</th><th>version</th><th>drift share</th></tr>{rows}</table>
<h2>Alerts, retrains and promotions</h2><table><tr><th>when (UTC)</th><th>event</th>
<th>condition</th><th>message</th></tr>{events}</table>
</body></html>
"""


def _fmt(value: Any) -> str:
    return "" if not isinstance(value, int | float) else f"{value:.3g}"


def write_monitor_report(status: MonitorStatus, path: str) -> str:
    """Write the report to `path` (a local file or fsspec URL); returns the HTML."""
    from slipway.monitoring.reading import write_binary

    text = render_monitor_report(status)
    write_binary(str(path), text.encode("utf-8"))
    return text


__all__ = ["render_monitor_report", "write_monitor_report"]
