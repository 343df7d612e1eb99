"""`slipway predict` (batch scoring of a file) and `slipway predictions export` (the log).

Both only parse arguments and call `slipway.serving.batch.predict_file` or
`slipway.serving.export.export_predictions`; a `SlipwayError` is one `Error` line on stderr
and exit code 1. pyarrow and the model stack are imported when a command runs, not when
the CLI starts.
"""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.output import console, err_console, print_json, reports_errors
from slipway.cli.tracking_uri import TrackingUriOption

predictions_app = typer.Typer(
    help="The prediction log of served models: export it, joined with its labels.",
    no_args_is_help=True,
)

JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


@reports_errors
def predict(
    model_uri: str = typer.Argument(
        ..., help="models:/name@alias, models:/name/3, runs:/<id>/model or a local path."
    ),
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="Rows to score: a .parquet or .csv file."
    ),
    output_path: Path = typer.Option(
        ..., "--output", "-o", help="Where to write inputs + predictions: .parquet or .csv."
    ),
    tracking_uri: str | None = TrackingUriOption,
    chunk_rows: int = typer.Option(
        50_000, "--chunk-rows", min=1, help="Rows per chunk (bounds memory)."
    ),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, help="Processes scoring chunks (each loads the model once)."
    ),
    with_proba: bool = typer.Option(
        False, "--with-proba", help="Add probability.<class> columns (classifiers)."
    ),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow pickle-based models (only from sources you trust)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Score a Parquet or CSV file in chunks and write the inputs with their predictions."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from slipway.serving.batch import predict_file

    with Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=json_output,
    ) as bar:
        task = bar.add_task("scoring", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        result = predict_file(
            model_uri,
            input_path,
            output_path,
            chunk_rows=chunk_rows,
            workers=workers,
            with_proba=with_proba,
            progress=progress,
            allow_pickle=allow_pickle,
            tracking_uri=tracking_uri,
        )
    if json_output:
        print_json(result.to_dict())
        return
    console.print(
        f"Scored {result.rows:,} rows in {result.chunks} chunk(s) with {result.workers} "
        f"worker(s) in {result.seconds:.1f}s → {result.output_path}",
        highlight=False,
        soft_wrap=True,
    )


@predictions_app.command("export")
@reports_errors
def export(
    model_name: str = typer.Argument(..., help="Registered model name, as the server logs it."),
    output_path: Path = typer.Option(
        ..., "--output", "-o", help="File to write: .parquet or .csv."
    ),
    version: str | None = typer.Option(None, "--version", "-v", help="Only this version."),
    since: str | None = typer.Option(
        None, "--since", help="From this day or time on (2026-11-01, ISO 8601, UTC)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Up to this day (inclusive) or time (exclusive)."
    ),
    no_labels: bool = typer.Option(False, "--no-labels", help="Do not join the labels."),
    no_shadow: bool = typer.Option(
        False, "--no-shadow", help="Leave out a shadow's answers (served to no client)."
    ),
    log_uri: str | None = typer.Option(
        None,
        "--log-uri",
        envvar="SLIPWAY_PREDICTION_LOG_URI",
        help="Root of the prediction log (folder, s3://…).",
        show_default="<artifact root>/prediction-logs",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Export a model's logged predictions (left-joined with their labels) to one file."""
    from slipway.serving.export import export_predictions

    result = export_predictions(
        model_name,
        output_path,
        version,
        since=since,
        until=until,
        root=log_uri,
        with_labels=not no_labels,
        include_shadow=not no_shadow,
    )
    if json_output:
        print_json(
            {
                "path": result.path,
                "rows": result.rows,
                "labelled_rows": result.labelled_rows,
                "labelled_share": result.labelled_share,
            }
        )
        return
    share = result.labelled_share
    labelled = "labels not joined" if share is None else f"{share:.1%} labelled"
    console.print(
        f"Exported {result.rows:,} rows of {model_name} to {result.path} ({labelled})",
        highlight=False,
        soft_wrap=True,
    )


__all__ = ["predict", "predictions_app"]
