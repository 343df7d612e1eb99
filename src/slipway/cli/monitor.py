"""`slipway monitor …`: define monitors, evaluate windows, watch, status and reports;
and `slipway models approve`, the human gate of the retraining loop.

Every command parses arguments and calls `slipway.monitoring.monitors`.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from slipway.cli.output import console, format_time, print_json, print_table, reports_errors
from slipway.cli.tracking_uri import TrackingUriOption, client_for

app = typer.Typer(
    help="Monitors: drift, data quality and performance of a served model, alerts, retraining.",
    no_args_is_help=True,
)
F = TypeVar("F", bound=Callable[..., Any])
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


def _command(name: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        return app.command(name)(reports_errors(fn))

    return register


def _at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@_command("create")
def create(
    name: str = typer.Argument(..., help="Monitor name."),
    model: str = typer.Option(..., "--model", help="model@alias (or model/version) to watch."),
    window: str = typer.Option("1h", "--window", help="Window length: 90s, 30m, 1h, 1d."),
    drift_share: float = typer.Option(0.5, "--drift-share", help="Share of drifted columns."),
    min_rows: int = typer.Option(100, "--min-rows", help="Fewer rows: not enough data."),
    min_labels: int = typer.Option(30, "--min-labels", help="Labelled rows to judge a rule."),
    performance: list[str] = typer.Option(
        [], "--performance", help='Rule like "f1 drop 0.05" (repeatable).'
    ),
    alert: list[str] = typer.Option(
        [], "--alert", help="log, audit, webhook:URL or webhook+slack:URL (repeatable)."
    ),
    alert_column: list[str] = typer.Option(
        [], "--alert-column", help="Also alert when this column drifts (repeatable)."
    ),
    column: list[str] = typer.Option([], "--column", help="Test only these columns."),
    cooldown: str = typer.Option("1h", "--cooldown", help="Between alerts of one condition."),
    retrain: str | None = typer.Option(
        None, "--retrain", help="Shell command or module:function that trains a new version."
    ),
    retrain_cooldown: str = typer.Option("6h", "--retrain-cooldown"),
    promote: str = typer.Option("auto", "--promote", help="auto, approval or none."),
    serving_url: str | None = typer.Option(
        None, "--serving-url", help="A slipway serve URL: alert on its error rate and latency."
    ),
    max_error_rate: float | None = typer.Option(None, "--max-error-rate"),
    max_latency: float | None = typer.Option(None, "--max-latency", help="Mean seconds."),
    prediction_log: str | None = typer.Option(
        None, "--prediction-log", help="Prediction log root (default: the serving default)."
    ),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Define a monitor of a served model."""
    from slipway.monitoring import monitors

    monitor = monitors.create_monitor(
        name,
        model,
        window=window,
        drift_share=drift_share,
        min_rows=min_rows,
        min_labels=min_labels,
        performance=performance,
        alerts=alert or None,
        alert_columns=alert_column or None,
        columns=column or None,
        cooldown=cooldown,
        retrain=retrain,
        retrain_cooldown=retrain_cooldown,
        promote=promote,
        serving_url=serving_url,
        max_error_rate=max_error_rate,
        max_latency_s=max_latency,
        prediction_log=prediction_log,
        client=client_for(tracking_uri),
    )
    if json_output:
        print_json({"monitor": monitor.to_dict()})
        return
    console.print(f"Created monitor [bold]{monitor.name}[/] of {model}.", highlight=False)


@_command("update")
def update(
    name: str = typer.Argument(..., help="Monitor name."),
    setting: list[str] = typer.Option(
        [], "--set", help="key=value of the definition, e.g. min_rows=500 (repeatable)."
    ),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Change a monitor's definition."""
    import json

    from slipway.monitoring import monitors

    changes: dict[str, Any] = {}
    for item in setting:
        key, _, value = item.partition("=")
        try:
            changes[key.strip()] = json.loads(value)
        except ValueError:
            changes[key.strip()] = value
    monitors.update_monitor(name, client=client_for(tracking_uri), **changes)
    console.print(f"Updated monitor [bold]{name}[/].", highlight=False)


@_command("list")
def list_monitors(
    json_output: bool = JsonOption, tracking_uri: str | None = TrackingUriOption
) -> None:
    """List monitors."""
    from slipway.monitoring import monitors
    from slipway.monitoring.spec import MonitorSpec

    found = monitors.list_monitors(client=client_for(tracking_uri))
    if json_output:
        print_json({"monitors": [m.to_dict() for m in found]})
        return
    rows = []
    for m in found:
        spec = MonitorSpec.from_dict(m.spec)
        active = sorted(k for k, v in m.state.get("alerts", {}).items() if v.get("active"))
        rows.append((m.name, spec.model_ref, f"{spec.window_s}s", ", ".join(active)))
    print_table("Monitors", ["name", "model", "window", "active alerts"], rows)


@_command("delete")
def delete(
    name: str = typer.Argument(..., help="Monitor name."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Delete a monitor with its windows and events."""
    from slipway.monitoring import monitors

    monitors.delete_monitor(name, client=client_for(tracking_uri))
    console.print(f"Deleted monitor [bold]{name}[/].", highlight=False)


def _print_run(name: str, run: Any) -> None:
    w = run.window
    console.print(
        f"[bold]{name}[/] window {format_time(w.window_start)} to {format_time(w.window_end)}: "
        f"[bold]{w.status}[/] ({w.rows} rows, {w.labelled_rows} labelled)",
        highlight=False,
    )
    if "drift_share" in w.metrics:
        console.print(f"  drift share {w.metrics['drift_share']:.2f}", highlight=False)
    for key in sorted(w.metrics):
        if key.startswith(("performance.", "estimated.")) and key.count(".") == 1:
            console.print(f"  {key} {w.metrics[key]:.4f}", highlight=False)
    for alert in run.alerts:
        console.print(f"  [red]alert[/] {alert}", highlight=False)
    if run.retrain:
        outcome = run.retrain.get("outcome")
        note = " in the background" if outcome == "started" else ""
        console.print(f"  retrain: {outcome}{note}", highlight=False)


@_command("run")
def run(
    name: str = typer.Argument(..., help="Monitor name."),
    at: str | None = typer.Option(None, "--at", help="Evaluate the window holding this time."),
    no_retrain: bool = typer.Option(False, "--no-retrain", help="Alert, but do not retrain."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Evaluate the latest window of a monitor now (or the one holding --at).

    A retrain it starts runs in the background; this command waits for its outcome.
    """
    from slipway.monitoring import monitors

    outcome = monitors.run_monitor(
        name, at=_at(at), client=client_for(tracking_uri), retrain=not no_retrain, wait=False
    )
    job = monitors.retrain_job(name)
    if outcome.retrain and job is not None:
        if not json_output:
            console.print(
                f"[bold]{name}[/]: an alert started a retrain ({outcome.retrain['outcome']}); "
                "waiting for it to finish (other monitors are not held up by it)",
                highlight=False,
            )
        outcome.retrain = job.wait()
    monitors.wait_for_deliveries(timeout=15)
    if json_output:
        print_json(outcome.to_dict())
        return
    _print_run(name, outcome)


@_command("status")
def status(
    name: str = typer.Argument(..., help="Monitor name."),
    limit: int = typer.Option(24, "--limit", help="Windows and events to show."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Drift and performance over time, alerts and retrains."""
    from slipway.monitoring import monitors

    found = monitors.monitor_status(name, limit=limit, client=client_for(tracking_uri))
    if json_output:
        print_json(found.to_dict())
        return
    console.print(
        f"[bold]{name}[/]: active alerts: {', '.join(found.active_alerts) or 'none'}",
        highlight=False,
    )
    perf_keys = sorted(
        {
            k
            for w in found.windows
            for k in w.metrics
            if k.startswith(("performance.", "estimated.")) and k.count(".") == 1
        }
    )[:4]
    rows = [
        (
            format_time(w.window_start),
            w.status,
            w.rows,
            w.labelled_rows,
            w.model_version or "",
            _num(w.metrics.get("drift_share")),
            *(_num(w.metrics.get(k)) for k in perf_keys),
        )
        for w in found.windows
    ]
    print_table(
        "Windows",
        ["window", "status", "rows", "labelled", "version", "drift share", *perf_keys],
        rows,
    )
    print_table(
        "Events",
        ["when", "event", "condition", "message"],
        [(format_time(e.timestamp), e.kind, e.condition, e.message) for e in found.events],
    )


def _num(value: Any) -> str:
    return "" if not isinstance(value, int | float) else f"{value:.3f}"


@_command("report")
def report(
    name: str = typer.Argument(..., help="Monitor name."),
    output: Path = typer.Option(..., "--output", "-o", help="HTML file to write."),
    limit: int = typer.Option(500, "--limit", help="Windows to include."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Write a self-contained HTML report of a monitor."""
    from slipway.monitoring import monitors
    from slipway.monitoring.monitor_report import write_monitor_report

    found = monitors.monitor_status(name, limit=limit, client=client_for(tracking_uri))
    write_monitor_report(found, str(output))
    console.print(f"Wrote {output}", highlight=False)


@_command("watch")
def watch(
    names: list[str] = typer.Argument(None, help="Monitors to run (default: all)."),
    interval: float | None = typer.Option(
        None, "--interval", help="Seconds between runs (default: a quarter window, max 60)."
    ),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Run every monitor on its schedule until interrupted."""
    from slipway.monitoring import monitors

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report_run(name: str, outcome: Any) -> None:
        if isinstance(outcome, Exception):
            console.print(f"[red]{name}: {outcome}[/]", highlight=False)
        else:
            _print_run(name, outcome)

    def report_retrain(name: str, outcome: dict[str, Any]) -> None:
        detail = outcome.get("error") or (
            f"challenger v{outcome['challenger']}" if outcome.get("challenger") else ""
        )
        console.print(
            f"[bold]{name}[/] retrain finished: {outcome.get('outcome')} {detail}".rstrip(),
            highlight=False,
        )

    try:
        monitors.watch(
            names or None,
            interval_s=interval,
            client=client_for(tracking_uri),
            stop=stop,
            on_run=report_run,
            on_retrain=report_retrain,
        )
    except KeyboardInterrupt:
        pass
    running = [j.monitor for j in monitors.retrain_jobs() if not j.done]
    if running:
        console.print(
            f"Waiting for the retrain of {', '.join(running)} to finish (Ctrl-C abandons it).",
            highlight=False,
        )
        try:
            monitors.wait_for_retrains()
        except KeyboardInterrupt:
            pass


def approve(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Option(..., "--version", "-v", help="The challenger to promote."),
    reason: str | None = typer.Option(None, "--reason", help="Why; kept in the audit trail."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Approve a challenger that waits for a person: it becomes the champion (gates apply)."""
    from slipway.monitoring import monitors

    outcome = monitors.approve_challenger(name, version, reason, client=client_for(tracking_uri))
    console.print(
        f"{name} version {version} is now @{outcome['alias']} "
        f"(approved by {outcome['approved_by']}).",
        highlight=False,
    )


approve_command = reports_errors(approve)

__all__ = ["app", "approve_command"]
