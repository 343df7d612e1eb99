"""`slipway experiment report`: the A/B analysis of a served experiment, from its log.

    slipway experiment report churn --metric conversion -o ab.html --json ab.json

It only parses arguments and calls `slipway.serving.abtest.analyze_experiment`; the
analysis (pyarrow, scipy) is imported when the command runs. Exit status 0 whatever the
verdict (read it from the output or the JSON), 1 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from slipway.cli.output import console, err_console, print_json, print_table
from slipway.cli.tracking_uri import TrackingUriOption
from slipway.errors import SlipwayError

if TYPE_CHECKING:
    from slipway.serving.abtest import ExperimentAnalysis

app = typer.Typer(
    help="A/B tests of served models: is a variant better, and is there enough data to say?",
    no_args_is_help=True,
)

_STYLES = {"significant": "bold green", "no_difference": "bold", "not_enough_data": "bold yellow"}


@app.command("report")
def report(
    name: str = typer.Argument(
        ..., help="The experiment; also the model whose log is read unless --model is given."
    ),
    metric: str = typer.Option(
        "conversion",
        "--metric",
        "-m",
        help="conversion, accuracy, reward, label, label=VALUE, abs_error or squared_error.",
    ),
    models: list[str] | None = typer.Option(
        None,
        "--model",
        help="Model whose prediction log holds the variants (repeatable; default: NAME).",
    ),
    since: str | None = typer.Option(
        None, "--since", help="From this day or time on (2026-11-01, ISO 8601, UTC)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Up to this day (inclusive) or time (exclusive)."
    ),
    mde: float = typer.Option(
        0.02,
        "--mde",
        help="Minimum detectable effect: an absolute difference (0.02 = 2 points of a rate).",
    ),
    power: float = typer.Option(0.8, "--power", help="Chance to detect a difference of --mde."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (two-sided)."),
    control: str | None = typer.Option(
        None, "--control", help="The control variant (default: 'control', else the first)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the HTML report here."),
    json_path: str | None = typer.Option(
        None, "--json", help="Write the JSON result to this file ('-' for stdout)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo draws."),
    log_uri: str | None = typer.Option(
        None,
        "--log-uri",
        envvar="SLIPWAY_PREDICTION_LOG_URI",
        help="Root of the prediction log (folder, s3://…).",
        show_default="<artifact root>/prediction-logs",
    ),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Compare the variants of an experiment on a metric: estimates, tests, verdict."""
    try:
        from slipway.serving.abtest import analyze_experiment

        result = analyze_experiment(
            name,
            metric,
            models=models or None,
            since=since,
            until=until,
            mde=mde,
            power=power,
            alpha=alpha,
            control=control,
            root=log_uri,
            tracking_uri=tracking_uri,
            seed=seed,
        )
        if output is not None:
            result.to_html(output)
        if json_path and json_path != "-":
            result.to_json(json_path)
    except (SlipwayError, OSError) as exc:
        message = exc.message if isinstance(exc, SlipwayError) else str(exc)
        code = exc.error_code if isinstance(exc, SlipwayError) else "INVALID_INPUT"
        err_console.print(
            f"[bold red]Error[/] ({code}): {message}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    if json_path == "-":
        print_json(result.to_dict())
        return
    _print(result, output)


def _print(result: ExperimentAnalysis, output: Path | None) -> None:
    rate = result.kind == "rate"

    def value(v: float | None) -> str:
        if v is None:
            return ""
        return f"{100 * v:.2f}%" if rate else f"{v:.4g}"

    print_table(
        f"{result.experiment}: {result.metric} by {result.grouped_by}",
        ["variant", "labelled", "value", "interval", "P(best)", "more needed"],
        [
            (
                v.name + (" (control)" if v.name == result.control else ""),
                f"{v.labelled:,}",
                value(v.value),
                f"[{value(v.ci_low)}, {value(v.ci_high)}]" if v.ci_low is not None else "",
                "" if v.prob_best is None else f"{100 * v.prob_best:.1f}%",
                "" if v.more_needed is None else f"{v.more_needed:,}",
            )
            for v in result.variants
        ],
    )
    for c in result.comparisons:
        adjusted = f" (Holm {c.p_value_adjusted:.3g})" if c.p_value_adjusted != c.p_value else ""
        console.print(
            f"  {c.variant} vs {c.control}: {c.test}, p = {c.p_value:.3g}{adjusted}",
            highlight=False,
            soft_wrap=True,
        )
    verdict = result.verdict
    console.print(
        f"[{_STYLES.get(verdict.status, 'bold')}]{verdict.message}[/]"
        + (f"\nReport: {output}" if output else ""),
        highlight=False,
        soft_wrap=True,
    )


__all__ = ["app", "report"]
