"""`slipway runs list|show|search|compare|delete|restore`.

Tables show run ids as a short unique prefix (git-style, full with `--wide` or `--json`);
every command that takes a run id takes such a prefix too.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from slipway.cli.output import (
    console,
    format_duration,
    format_time,
    print_json,
    print_table,
    reports_errors,
)
from slipway.cli.tracking_uri import TrackingUriOption, client_for, resolve_experiment_id
from slipway.entities import Run, ViewType
from slipway.errors import InvalidParameterValue
from slipway.tracking.compare import RunComparison, comparison_html
from slipway.tracking.run_ids import resolve_run_id, short_ids

app = typer.Typer(help="Inspect, search and delete runs.", no_args_is_help=True)

ExperimentOption = typer.Option(
    None,
    "--experiment",
    "-e",
    help="Experiment name or id (repeat for several; default: the Default experiment).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
WideOption = typer.Option(False, "--wide", "-w", help="Show full run ids.")
RunIdArgument = typer.Argument(..., help="Run id, or a unique prefix of one (4+ characters).")
MAX_METRIC_COLUMNS = 4
SIDE_BY_SIDE_MAX_RUNS = 4  # more runs than this: one row per run instead of a column each


def _runs_table(title: str, runs: list[Run], wide: bool = False) -> None:
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[:MAX_METRIC_COLUMNS]
    shown = {r.info.run_id: r.info.run_id for r in runs} if wide else short_ids(_ids(runs))
    print_table(
        title,
        ["run id", "name", "status", "started", "duration", *metric_keys],
        [
            (
                shown[r.info.run_id],
                r.info.run_name,
                r.info.status,
                format_time(r.info.start_time),
                format_duration(r.info.start_time, r.info.end_time),
                *(_fmt_metric(r.data.metrics.get(k)) for k in metric_keys),
            )
            for r in runs
        ],
        wide,
    )


def _ids(runs: list[Run]) -> list[str]:
    return [r.info.run_id for r in runs]


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
@reports_errors
def list_runs(
    experiment: list[str] | None = ExperimentOption,
    max_results: int = typer.Option(100, help="At most this many runs, newest first."),
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY, help="Which lifecycle stages to show."),
    json_output: bool = JsonOption,
    wide: bool = WideOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """List the runs of an experiment, newest first."""
    runs = _search(tracking_uri, experiment, "", None, max_results, view)
    if json_output:
        print_json({"runs": [r.to_dict() for r in runs]})
    else:
        _runs_table(f"Runs ({len(runs)})", runs, wide)


@app.command("search")
@reports_errors
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
    wide: bool = WideOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Search runs with the MLflow filter grammar."""
    runs = _search(tracking_uri, experiment, filter_string, order_by, max_results, view)
    if json_output:
        print_json({"runs": [r.to_dict() for r in runs]})
    else:
        _runs_table(f"Runs matching {filter_string!r} ({len(runs)})", runs, wide)


@app.command("show")
@reports_errors
def show_run(
    run_id: str = RunIdArgument,
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Show one run: info, params, latest metrics, tags and dataset inputs."""
    client = client_for(tracking_uri)
    run = client.get_run(resolve_run_id(client, run_id))
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


@app.command("compare")
@reports_errors
def compare(
    run_ids: list[str] = typer.Argument(
        ...,
        metavar="RUN",
        help="Two or more run ids (or prefixes); one parent run (e.g. an Optuna study) "
        "compares its child runs.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write an HTML page with the metric curves overlaid."
    ),
    json_output: bool = JsonOption,
    wide: bool = WideOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Compare runs: params side by side (differences marked), metrics with deltas."""
    client = client_for(tracking_uri)
    ids = [resolve_run_id(client, r) for r in run_ids]
    if len(ids) == 1:
        ids = _child_run_ids(client, ids[0])
    comparison = client.compare_runs(ids, histories=output is not None)
    if output is not None:
        output.write_text(comparison_html(comparison), encoding="utf-8")
    if json_output:
        print_json(comparison.to_dict())
        return
    _comparison_tables(comparison, wide)
    if output is not None:
        console.print(f"Wrote {output}")


def _child_run_ids(client, parent_id: str) -> list[str]:
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent_id}'",
        max_results=1000,
        order_by=["attributes.start_time ASC"],
    )
    if len(children) < 1:
        raise InvalidParameterValue(
            f"Run {parent_id} has no child runs: give two or more runs to compare."
        )
    return [r.info.run_id for r in children]


def _comparison_tables(comparison: RunComparison, wide: bool) -> None:
    ids = comparison.run_ids
    shown = dict(zip(ids, ids, strict=True)) if wide else short_ids(ids)
    if len(ids) > SIDE_BY_SIDE_MAX_RUNS:
        _one_row_per_run(comparison, shown, wide)
        return
    heads = [shown[r] for r in ids]
    print_table(
        "Runs",
        ["run id", "name", "status"],
        [(shown[r.info.run_id], r.info.run_name, r.info.status) for r in comparison.runs],
        wide,
    )
    if comparison.params:
        print_table(
            "Params (* differs)",
            ["param", *heads],
            [
                (f"* {p.key}" if p.differs else f"  {p.key}", *(v or "" for v in p.values))
                for p in comparison.params
            ],
            wide,
        )
    if comparison.metrics:
        print_table(
            "Metrics (latest; delta to the first run)",
            ["metric", *heads],
            [
                (
                    f"* {m.key}" if m.differs else f"  {m.key}",
                    *(
                        _with_delta(v, d, i)
                        for i, (v, d) in enumerate(zip(m.values, m.deltas, strict=True))
                    ),
                )
                for m in comparison.metrics
            ],
            wide,
        )


def _one_row_per_run(comparison: RunComparison, shown: dict[str, str], wide: bool) -> None:
    """Many runs (a study's trials): a row each, with the params that differ."""
    limit = None if wide else MAX_METRIC_COLUMNS
    params = [p for p in comparison.params if p.differs][:limit]
    metrics = comparison.metrics[:limit]
    print_table(
        f"{len(comparison.runs)} runs (metric deltas to the first run)",
        ["run id", "name", "status", *(p.key for p in params), *(m.key for m in metrics)],
        [
            (
                shown[run.info.run_id],
                run.info.run_name,
                run.info.status,
                *(_fmt_param(p.values[i], wide) for p in params),
                *(_with_delta(m.values[i], m.deltas[i], i) for m in metrics),
            )
            for i, run in enumerate(comparison.runs)
        ],
        wide,
    )
    same = [f"{p.key}={p.values[0]}" for p in comparison.params if not p.differs]
    if same:
        console.print(f"Same in every run: {', '.join(same)}", highlight=False)


def _fmt_param(value: str | None, wide: bool) -> str:
    """A param for a narrow column: long floats (a study's samples) to 4 digits."""
    if value is None:
        return ""
    if wide or len(value) <= 10:
        return value
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value


def _with_delta(value: float | None, delta: float | None, index: int) -> str:
    text = _fmt_metric(value)
    if index and delta is not None and delta != 0 and math.isfinite(delta):
        text += f" ({delta:+.4g})"
    return text


@app.command("delete")
@reports_errors
def delete_run(
    run_id: str = RunIdArgument,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Mark a run deleted (restore brings it back)."""
    client = client_for(tracking_uri)
    full_id = resolve_run_id(client, run_id)
    client.delete_run(full_id)
    console.print(f"Deleted run {full_id}")


@app.command("restore")
@reports_errors
def restore_run(
    run_id: str = RunIdArgument,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Restore a deleted run."""
    client = client_for(tracking_uri)
    full_id = resolve_run_id(client, run_id)
    client.restore_run(full_id)
    console.print(f"Restored run {full_id}")


__all__ = [
    "app",
]
