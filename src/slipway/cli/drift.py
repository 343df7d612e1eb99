"""`slipway drift` and `slipway profile`: data drift and quality on the command line.

`slipway drift REFERENCE CURRENT` exits 0 when there is no dataset drift, 1 when there is
(so CI and cron can act on it) and 2 on bad input (one `Error (CODE): …` line), including
when no column could be tested at all. The monitoring package is imported only when a
command runs, so `slipway --help` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from slipway.cli.output import console, err_console, print_json, print_table
from slipway.errors import InvalidParameterValue, SlipwayError

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
EXIT_BAD_INPUT = 2
SHOWN_COLUMNS = 15


def _assignments(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in values or []:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidParameterValue(f"{what} expects column=value, got {spec!r}.")
        out[name.strip()] = value.strip()
    return out


def _fail(exc: BaseException) -> typer.Exit:
    if isinstance(exc, SlipwayError):
        text = f"[bold red]Error[/] ({exc.error_code}): {exc.message}"
    else:
        text = f"[bold red]Error[/] (INVALID_INPUT): {exc}"
    err_console.print(text, highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _progress(description: str) -> Iterator[Any]:
    """A Rich progress bar on stderr when it is a terminal (or SLIPWAY_PROGRESS=1)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    show = err_console.is_terminal or os.environ.get("SLIPWAY_PROGRESS") == "1"
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not show,
    )
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        yield update


def drift_command(
    reference: str = typer.Argument(..., help="Reference data: .parquet, .csv or .profile."),
    current: str = typer.Argument(..., help="Current data: .parquet or .csv."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the HTML report here."),
    json_path: str | None = typer.Option(
        None, "--json", help="Write the JSON result to this file ('-' for stdout)."
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="Comma-separated columns to test (default: all)."
    ),
    test: list[str] | None = typer.Option(
        None, "--test", help="Per-column test, e.g. income=psi (repeatable)."
    ),
    threshold: list[str] | None = typer.Option(
        None, "--threshold", help="Per-column threshold, e.g. income=0.2 (repeatable)."
    ),
    column_type: list[str] | None = typer.Option(
        None, "--column-type", help="Override a column's type, e.g. zip=categorical."
    ),
    drift_share: float = typer.Option(
        0.5, "--drift-share", help="Dataset drift when this share of columns drifted."
    ),
    sample: int | None = typer.Option(
        None, "--sample", help="Test a random sample of N rows per side (approximate)."
    ),
    expectations: str | None = typer.Option(
        None, "--expectations", help="YAML expectation suite to check on the current data."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed for --sample."),
) -> None:
    """Compare CURRENT with REFERENCE: drift per column, dataset verdict, data quality.

    Exit status: 0 no dataset drift, 1 dataset drift, 2 bad input.
    """
    try:
        from slipway.monitoring import detect_drift

        with _progress("testing columns") as update:
            result = detect_drift(
                reference,
                current,
                columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
                column_types=_assignments(column_type, "--column-type"),
                tests=_assignments(test, "--test"),
                thresholds=_assignments(threshold, "--threshold"),  # type: ignore[arg-type]
                drift_share=drift_share,
                sample=sample,
                expectations=expectations,
                seed=seed,
                progress=update,
            )
        if output is not None:
            result.to_html(str(output))
        if json_path == "-":
            print_json(result.to_dict())
        elif json_path:
            result.to_json(json_path)
    except (SlipwayError, OSError) as exc:
        raise _fail(exc) from None
    except Exception as exc:
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):
            raise _fail(exc) from None
        raise
    if json_path != "-":
        _print_result(result, output)
    if not result.any_tested:
        raise _fail(InvalidParameterValue("no column could be tested for drift; see the report."))
    raise typer.Exit(EXIT_DRIFT if result.dataset_drift else EXIT_NO_DRIFT)


def _print_result(result: Any, output: Path | None) -> None:
    tested = result.tested_columns
    ordered = sorted(result.columns.values(), key=lambda c: (-c.drifted, -c.score, c.name))
    rows = [
        (
            c.name,
            c.type,
            c.test or "",
            _num(c.statistic),
            _num(c.p_value),
            _num(c.threshold),
            "DRIFT" if c.drifted else ("ok" if c.tested else "not tested"),
        )
        for c in ordered[:SHOWN_COLUMNS]
    ]
    print_table(
        "Columns by drift score"
        + (f" (top {SHOWN_COLUMNS} of {len(ordered)})" if len(ordered) > SHOWN_COLUMNS else ""),
        ["column", "type", "test", "statistic", "p-value", "threshold", "verdict"],
        rows,
    )
    findings = [f for f in result.quality.findings if f.severity != "info"]
    for f in findings[:10]:
        where = f"{f.column}: " if f.column else ""
        console.print(f"  [{f.severity}] {where}{f.message}", highlight=False, soft_wrap=True)
    if len(findings) > 10:
        console.print(f"  … and {len(findings) - 10} more findings in the report")
    if result.expectations is not None:
        e = result.expectations
        console.print(
            f"Expectations: {len(e.results) - len(e.failed)} of {len(e.results)} passed",
            highlight=False,
        )
    drifted = len(result.drifted_columns)
    verdict = (
        "[bold red]Dataset drift[/]" if result.dataset_drift else "[bold green]No dataset drift[/]"
    )
    console.print(
        f"{verdict}: {drifted} of {len(tested)} tested columns drifted "
        f"({100 * result.share_drifted:.1f}%, threshold {100 * result.drift_share_threshold:.0f}%)"
        + (f"; report: {output}" if output else ""),
        highlight=False,
        soft_wrap=True,
    )


def profile_command(
    data: str = typer.Argument(..., help="Data to profile: .parquet or .csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Profile file to write (default: <data name>.profile)."
    ),
    sample_size: int = typer.Option(
        100_000, "--sample-size", help="Reservoir sample kept per numeric column."
    ),
    column_type: list[str] | None = typer.Option(
        None, "--column-type", help="Override a column's type, e.g. zip=categorical."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the profile overview as JSON."),
) -> None:
    """Profile reference data once (one streaming pass); use the file as drift's reference."""
    target = output or Path(Path(data).name.split(".")[0] + ".profile")
    try:
        from slipway.monitoring import profile

        with _progress("profiling rows") as update:
            built = profile(
                data,
                column_types=_assignments(column_type, "--column-type"),
                sample_size=sample_size,
                progress=update,
            )
        built.save(str(target))
    except (SlipwayError, OSError) as exc:
        raise _fail(exc) from None
    except Exception as exc:
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):
            raise _fail(exc) from None
        raise
    if json_output:
        print_json(built.to_dict())
        return
    print_table(
        f"Profile of {built.source}: {built.rows:,} rows",
        ["column", "type", "missing", "min", "max", "distinct / categories"],
        [
            (
                name,
                c.type,
                f"{100 * (c.summary.rows - c.summary.count) / max(c.summary.rows, 1):.3g}%",
                _num(getattr(c.summary, "minimum", None)),
                _num(getattr(c.summary, "maximum", None)),
                _distinct(c.summary),
            )
            for name, c in list(built.columns.items())[:50]
        ],
    )
    console.print(f"Wrote {target} ({target.stat().st_size:,} bytes)", highlight=False)


def _distinct(summary: Any) -> str:
    if hasattr(summary, "categories"):
        return f"{len(summary.categories):,}"
    d = getattr(summary, "distinct", None)
    return "many" if d is None and hasattr(summary, "values") else ("" if d is None else f"{d:,}")


def _num(value: float | None) -> str:
    if value is None or value != value:
        return ""
    return f"{value:.4g}"


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_DRIFT",
    "EXIT_NO_DRIFT",
    "drift_command",
    "profile_command",
]
