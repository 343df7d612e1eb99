"""`slipway runs list|show|search|delete|restore`."""

from __future__ import annotations

import math

import typer

from slipway.cli.output import console, format_duration, format_time, print_json, print_table
from slipway.cli.tracking_uri import TrackingUriOption, client_for, resolve_experiment_id
from slipway.entities import Run, ViewType

app = typer.Typer(help="Inspect, search and delete runs.", no_args_is_help=True)

ExperimentOption = typer.Option(
    None,
    "--experiment",
    "-e",
    help="Experiment name or id (repeat for several; default: the Default experiment).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
MAX_METRIC_COLUMNS = 4


def _runs_table(title: str, runs: list[Run]) -> None:
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[:MAX_METRIC_COLUMNS]
    print_table(
        title,
        ["run id", "name", "status", "started", "duration", *metric_keys],
        [
            (
                r.info.run_id,
                r.info.run_name,
                r.info.status,
                format_time(r.info.start_time),
                format_duration(r.info.start_time, r.info.end_time),
                *(_fmt_metric(r.data.metrics.get(k)) for k in metric_keys),
            )
            for r in runs
        ],
    )


def _fmt_metric(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _search(
    tracking_uri: str | None,
    experiments: list[str] | None,
    filter_string: str,
    order_by: list[str] | None,
    max_results: int,
    view: ViewType,
) -> list[Run]:
    client = client_for(tracking_uri)
    ids = [resolve_experiment_id(client, e) for e in experiments or ["0"]]
    page = client.search_runs(ids, filter_string, view, max_results, order_by or None)
    return list(page.items)


@app.command("list")
def list_runs(
    experiment: list[str] | None = ExperimentOption,
    max_results: int = typer.Option(100, help="At most this many runs, newest first."),
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY, help="Which lifecycle stages to show."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """List the runs of an experiment, newest first."""
    runs = _search(tracking_uri, experiment, "", None, max_results, view)
    if json_output:
        print_json({"runs": [r.to_dict() for r in runs]})
    else:
        _runs_table(f"Runs ({len(runs)})", runs)


@app.command("search")
def search_runs(
    filter_string: str = typer.Argument(
        "", metavar="FILTER", help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\""
    ),
    experiment: list[str] | None = ExperimentOption,
    order_by: list[str] = typer.Option(
        None, "--order-by", "-o", help="e.g. 'metrics.acc DESC' (repeatable)."
    ),
    max_results: int = typer.Option(100, help="At most this many runs."),
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY, help="Which lifecycle stages to search."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Search runs with the MLflow filter grammar."""
    runs = _search(tracking_uri, experiment, filter_string, order_by, max_results, view)
    if json_output:
        print_json({"runs": [r.to_dict() for r in runs]})
    else:
        _runs_table(f"Runs matching {filter_string!r} ({len(runs)})", runs)


@app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="Run id."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Show one run: info, params, latest metrics, tags and dataset inputs."""
    run = client_for(tracking_uri).get_run(run_id)
    if json_output:
        print_json({"run": run.to_dict()})
        return
    info = run.info
    console.print(f"[bold]{info.run_name}[/]  ({info.run_id})")
    for label, value in [
        ("experiment", info.experiment_id),
        ("status", info.status),
        ("started", format_time(info.start_time)),
        ("ended", format_time(info.end_time)),
        ("duration", format_duration(info.start_time, info.end_time)),
        ("user", info.user_id),
        ("artifacts", info.artifact_uri),
        ("lifecycle", info.lifecycle_stage),
    ]:
        console.print(f"  {label:<11} {value}")
    if run.data.params:
        print_table("Params", ["key", "value"], sorted(run.data.params.items()))
    if run.data.latest_metrics:
        print_table(
            "Metrics (latest)",
            ["key", "value", "step"],
            [(m.key, _fmt_metric(m.value), m.step) for m in run.data.latest_metrics],
        )
    if run.data.tags:
        print_table("Tags", ["key", "value"], sorted(run.data.tags.items()))
    if run.inputs:
        print_table(
            "Dataset inputs",
            ["name", "digest", "context"],
            [
                (i.dataset.name, i.dataset.digest, i.tags.get("mlflow.data.context", ""))
                for i in run.inputs
            ],
        )


@app.command("delete")
def delete_run(
    run_id: str = typer.Argument(..., help="Run id."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Mark a run deleted (restore brings it back)."""
    client_for(tracking_uri).delete_run(run_id)
    console.print(f"Deleted run {run_id}")


@app.command("restore")
def restore_run(
    run_id: str = typer.Argument(..., help="Run id."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Restore a deleted run."""
    client_for(tracking_uri).restore_run(run_id)
    console.print(f"Restored run {run_id}")


__all__ = [
    "app",
]
