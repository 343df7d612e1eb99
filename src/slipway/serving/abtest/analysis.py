"""Analyse an A/B test from the prediction log and its labels: estimates, tests, verdict.

    analyze_experiment("churn", "conversion")        reads the log of model `churn`
    analyze_predictions(frame, "accuracy")           a frame from `read_predictions`

Variants: rows are grouped by the log's `variant` column when it has values (rows
without one are left out and counted in `excluded_rows`), else by `model_version` (by
`model_name/model_version` when several models are read). When the log has an
`experiment` column, rows that name another experiment are left out too. A shadow's
answers (`shadow` rows) count under the shadow's variant: it answered copies of the same
requests, so it is scored against the same labels as the primary. The control is
the variant given, else the one named `control`, else the first in natural order (so
version 1 before version 2).

Per variant: the labelled sample size, the metric with its confidence interval, the
probability of being best and the expected loss. Each other variant is tested against
the control (two-proportion z-test for rates, Welch's t-test for means), p-values
adjusted with Holm's method when there are several.

The verdict follows a fixed-horizon design. The sample size per variant is planned from
the data seen so far (the control's rate, or the pooled standard deviation), `mde`,
`power` and `alpha` (divided by the number of comparisons), and is at least
`MIN_SAMPLES`. Until every variant has it, the verdict is "not enough data yet" with
the number of labelled samples still missing, whatever the interim p-values say:
acting on the first significant look inflates false positives and overstates effects.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.serving.abtest.metrics import RATE, MetricDefinition, parse_metric
from slipway.serving.abtest.stats import (
    DEFAULT_DRAWS,
    Summary,
    TestResult,
    holm,
    mean_interval,
    posterior_density,
    posterior_draws,
    probability_best,
    sample_size_mean,
    sample_size_rate,
    two_proportion_ztest,
    welch_ttest,
    wilson_interval,
)

if TYPE_CHECKING:
    import pandas as pd

MIN_SAMPLES = 30
OPTIONAL_COLUMNS = ("variant", "experiment")
BATCH_ROWS = 64_000

NOT_ENOUGH_DATA = "not_enough_data"
SIGNIFICANT = "significant"
NO_DIFFERENCE = "no_difference"


@dataclass(frozen=True)
class VariantResult:
    """One variant: how much data, the metric's estimate and interval, the Bayesian view."""

    name: str
    rows: int  # logged rows read for this variant
    units: int  # requests (or rows, for row metrics) in the window
    labelled: int  # units with a value for the metric: the sample size
    value: float | None
    ci_low: float | None
    ci_high: float | None
    successes: int | None  # rates only
    std: float | None  # means only (sample standard deviation)
    prob_best: float | None
    expected_loss: float | None
    more_needed: int | None  # labelled units still missing for the planned sample size


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: the difference, its interval and the test."""

    variant: str
    control: str
    test: str
    difference: float
    ci_low: float
    ci_high: float
    relative_difference: float | None  # difference / control value
    statistic: float
    df: float | None
    p_value: float
    p_value_adjusted: float
    significant: bool  # adjusted p-value below alpha


@dataclass(frozen=True)
class Verdict:
    """What to conclude: `not_enough_data`, `significant` (with a winner) or `no_difference`."""

    status: str
    winner: str | None
    message: str


@dataclass(frozen=True)
class ExperimentAnalysis:
    """The analysis of one A/B test (what `slipway experiment report` prints and renders)."""

    experiment: str
    models: list[str]
    metric: str
    description: str
    kind: str  # "rate" or "mean"
    unit: str  # "request" or "row"
    higher_is_better: bool
    grouped_by: str  # "variant", "model_version" or "model_name/model_version"
    control: str
    since: str | None
    until: str | None
    alpha: float
    power: float
    mde: float
    required_per_variant: int | None
    more_needed_total: int | None
    variants: list[VariantResult]
    comparisons: list[Comparison]
    verdict: Verdict
    excluded_rows: int
    seed: int
    draws: int
    posterior: dict[str, Any] | None = field(default=None, repr=False)  # grid + densities

    def variant(self, name: str) -> VariantResult:
        """The result of the variant called `name`."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become null; no posterior grid)."""
        data = asdict(self)
        data.pop("posterior")
        return _finite(data)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def to_html(self, path: str | Path | None = None) -> str:
        """The self-contained HTML report; written to `path` when given."""
        from slipway.serving.abtest.report import render_report

        text = render_report(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def analyze_experiment(
    name: str,
    metric: str = "conversion",
    *,
    models: str | Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
    mde: float = 0.02,
    power: float = 0.8,
    alpha: float = 0.05,
    control: str | None = None,
    root: str | None = None,
    tracking_uri: str | None = None,
    seed: int = 0,
    draws: int = DEFAULT_DRAWS,
) -> ExperimentAnalysis:
    """Analyse the A/B test `name` from the prediction log of `models` (default: `name`).

    `metric` is one of `METRIC_NAMES`; `mde` is the minimum detectable effect, an
    absolute difference in the metric's units (0.02 = 2 points for a rate); `since` and
    `until` bound the predictions read (as in `read_predictions`). The log is read in
    batches, only the columns the metric needs.
    """
    definition = parse_metric(metric)
    _check_settings(definition, mde, power, alpha, draws)
    model_names = [models] if isinstance(models, str) else list(models or [name])
    if not model_names:
        raise InvalidParameterValue("Give at least one model whose log holds the experiment.")
    tally = _Tally(name, definition)
    for model in model_names:
        for frame in _log_frames(model, definition, since, until, root, tracking_uri):
            tally.add(frame)
    if tally.empty:
        window = _window_text(since, until)
        raise ResourceDoesNotExist(
            f"No predictions logged for {', '.join(map(repr, model_names))}{window}; "
            "give the model(s) whose log holds the experiment with --model."
        )
    return _analyze(
        tally,
        definition,
        name=name,
        models=model_names,
        since=since,
        until=until,
        mde=mde,
        power=power,
        alpha=alpha,
        control=control,
        seed=seed,
        draws=draws,
    )


def analyze_predictions(
    predictions: pd.DataFrame,
    metric: str = "conversion",
    *,
    name: str = "experiment",
    mde: float = 0.02,
    power: float = 0.8,
    alpha: float = 0.05,
    control: str | None = None,
    seed: int = 0,
    draws: int = DEFAULT_DRAWS,
) -> ExperimentAnalysis:
    """`analyze_experiment` on a frame already read (`read_predictions(...)` or the like)."""
    definition = parse_metric(metric)
    _check_settings(definition, mde, power, alpha, draws)
    tally = _Tally(name, definition)
    tally.add(predictions)
    if tally.empty:
        raise InvalidParameterValue("The predictions frame is empty.")
    logged = predictions["model_name"].unique() if "model_name" in predictions else []
    models = sorted(str(m) for m in logged) or [name]
    return _analyze(
        tally,
        definition,
        name=name,
        models=models,
        since=None,
        until=None,
        mde=mde,
        power=power,
        alpha=alpha,
        control=control,
        seed=seed,
        draws=draws,
    )


# --- reading -----------------------------------------------------------------------------


def _log_frames(
    model: str,
    metric: MetricDefinition,
    since: Any,
    until: Any,
    root: str | None,
    tracking_uri: str | None,
) -> Iterator[pd.DataFrame]:
    """The model's log in pandas batches: the columns the metric needs, plus labels."""
    from slipway.serving.export import iter_predictions

    wanted = ["request_id", "row_index", "model_name", "model_version"]
    if metric.needs_prediction:
        wanted.append("prediction")

    def scan(columns: list[str] | None) -> Iterator[Any]:
        return iter_predictions(
            model,
            since=since,
            until=until,
            root=root,
            columns=columns,
            batch_rows=BATCH_ROWS,
            tracking_uri=tracking_uri,
        )

    # The log refuses unknown columns, and `variant`/`experiment` are only in logs of
    # servers that split traffic: ask for fewer until it agrees (the last refusal, e.g.
    # no `prediction` for accuracy, names the columns the log has).
    attempts = [[*wanted, *OPTIONAL_COLUMNS[:n]] for n in range(len(OPTIONAL_COLUMNS), -1, -1)]
    for i, columns in enumerate(attempts):
        batches = scan(columns)
        try:
            first = next(batches, None)
            break
        except InvalidParameterValue:
            if i == len(attempts) - 1:
                raise
    if first is None:
        return
    for table in _chain(first, batches):
        yield table.to_pandas()


def _chain(first: Any, rest: Iterable[Any]) -> Iterator[Any]:
    yield first
    yield from rest


@dataclass
class _Group:
    rows: int = 0
    units: int = 0
    summary: Summary = field(default_factory=Summary)


class _Tally:
    """Per-variant counts and running summaries, built batch by batch."""

    def __init__(self, name: str, metric: MetricDefinition) -> None:
        self.name = name
        self.metric = metric
        self.by_variant: dict[str, _Group] = {}
        self.by_version: dict[tuple[str, str], _Group] = {}
        self.other_experiments = 0

    @property
    def empty(self) -> bool:
        return not self.by_variant and not self.by_version

    def add(self, frame: pd.DataFrame) -> None:
        if "experiment" in frame.columns:
            named = frame["experiment"]
            other = (named.notna() & (named.astype(str) != self.name)).to_numpy()
            self.other_experiments += int(other.sum())
            frame = frame[~other]
        if "variant" in frame.columns:
            in_variant = frame["variant"].notna().to_numpy()
            for key, part in frame[in_variant].groupby("variant", sort=False):
                self._add(self.by_variant, str(key), part)
            frame = frame[~in_variant]
        if len(frame):
            keys = ["model_name", "model_version"]
            for (model, version), part in frame.groupby(keys, sort=False, dropna=False):
                self._add(self.by_version, (str(model), str(version)), part)

    def _add(self, groups: dict[Any, _Group], key: Any, part: pd.DataFrame) -> None:
        group = groups.setdefault(key, _Group())
        values = self.metric.values(part)
        group.rows += len(part)
        group.units += len(values)
        group.summary.add(values[~np.isnan(values)])

    def groups(self) -> tuple[str, dict[str, _Group], int]:
        """(grouped by, the groups by variant name, rows left out)."""
        if self.by_variant:
            left_out = sum(g.rows for g in self.by_version.values())
            return "variant", self.by_variant, self.other_experiments + left_out
        if len({model for model, _ in self.by_version}) > 1:
            named = {f"{m}/{v}": g for (m, v), g in self.by_version.items()}
            return "model_name/model_version", named, self.other_experiments
        named = {v: g for (_, v), g in self.by_version.items()}
        return "model_version", named, self.other_experiments


# --- the analysis ------------------------------------------------------------------------


def _analyze(
    tally: _Tally,
    metric: MetricDefinition,
    *,
    name: str,
    models: list[str],
    since: Any,
    until: Any,
    mde: float,
    power: float,
    alpha: float,
    control: str | None,
    seed: int,
    draws: int,
) -> ExperimentAnalysis:
    grouped_by, groups, excluded = tally.groups()
    names = sorted(groups, key=_natural)
    if len(names) < 2:
        raise InvalidParameterValue(
            f"Found one variant ({names[0]!r}, by {grouped_by}) in the log of "
            f"{', '.join(models)}: an A/B test compares two or more."
        )
    control = _pick_control(names, control)
    order = [control, *[n for n in names if n != control]]
    summaries = [groups[n].summary for n in order]
    rate = metric.kind == RATE

    comparisons = _compare(order, summaries, rate, alpha)
    required = _required_sample(summaries, rate, mde, power, alpha / (len(order) - 1))
    probs, losses, posterior = _bayes(order, summaries, metric, seed, draws)

    variants = []
    for i, (variant_name, s) in enumerate(zip(order, summaries, strict=True)):
        interval = (
            wilson_interval(s.successes, s.n, alpha)
            if rate
            else mean_interval(s.mean, s.std, s.n, alpha)
        )
        group = groups[variant_name]
        variants.append(
            VariantResult(
                name=variant_name,
                rows=group.rows,
                units=group.units,
                labelled=s.n,
                value=s.mean if s.n else None,
                ci_low=interval[0] if interval else None,
                ci_high=interval[1] if interval else None,
                successes=s.successes if rate else None,
                std=None if rate else s.std,
                prob_best=probs[i] if probs else None,
                expected_loss=losses[i] if losses else None,
                more_needed=None if required is None else max(0, required - s.n),
            )
        )
    more_total = None if required is None else sum(v.more_needed or 0 for v in variants)
    verdict = _verdict(variants, comparisons, metric, required, more_total, mde, power, alpha)
    return ExperimentAnalysis(
        experiment=name,
        models=models,
        metric=metric.name if metric.label_value is None else f"label={metric.label_value}",
        description=metric.description,
        kind=metric.kind,
        unit=metric.unit,
        higher_is_better=metric.higher_is_better,
        grouped_by=grouped_by,
        control=control,
        since=None if since is None else str(since),
        until=None if until is None else str(until),
        alpha=alpha,
        power=power,
        mde=mde,
        required_per_variant=required,
        more_needed_total=more_total,
        variants=variants,
        comparisons=comparisons,
        verdict=verdict,
        excluded_rows=excluded,
        seed=seed,
        draws=draws,
        posterior=posterior,
    )


def _compare(
    order: list[str], summaries: list[Summary], rate: bool, alpha: float
) -> list[Comparison]:
    control, base = order[0], summaries[0]
    minimum = 1 if rate else 2
    tests: list[tuple[str, TestResult]] = []
    for variant_name, s in zip(order[1:], summaries[1:], strict=True):
        if base.n < minimum or s.n < minimum:
            continue
        if rate:
            result = two_proportion_ztest(base.successes, base.n, s.successes, s.n, alpha)
        else:
            result = welch_ttest(base, s, alpha)
        tests.append((variant_name, result))
    adjusted = holm([r.p_value for _, r in tests])
    return [
        Comparison(
            variant=variant_name,
            control=control,
            test="two-proportion z-test" if rate else "Welch's t-test",
            difference=r.difference,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            relative_difference=r.difference / base.mean if base.mean else None,
            statistic=r.statistic,
            df=r.df,
            p_value=r.p_value,
            p_value_adjusted=p,
            significant=p < alpha,
        )
        for (variant_name, r), p in zip(tests, adjusted, strict=True)
    ]


def _required_sample(
    summaries: list[Summary], rate: bool, mde: float, power: float, alpha: float
) -> int | None:
    """Labelled units per variant for the design; None while the data cannot plan it."""
    if rate:
        control = summaries[0]
        labelled = sum(s.n for s in summaries)
        if control.n:
            baseline = control.mean
        elif labelled:
            baseline = sum(s.n * s.mean for s in summaries) / labelled
        else:
            return None
        return max(MIN_SAMPLES, sample_size_rate(baseline, mde, alpha, power))
    dof = sum(s.n - 1 for s in summaries if s.n >= 2)
    if dof == 0:
        return None
    pooled_std = math.sqrt(sum(s.m2 for s in summaries if s.n >= 2) / dof)
    return max(MIN_SAMPLES, sample_size_mean(pooled_std, mde, alpha, power))


def _bayes(
    order: list[str], summaries: list[Summary], metric: MetricDefinition, seed: int, draws: int
) -> tuple[list[float] | None, list[float] | None, dict[str, Any] | None]:
    if any(s.n == 0 for s in summaries):
        return None, None, None
    samples = posterior_draws(summaries, metric.kind, draws, seed)
    if samples is None:
        return None, None, None
    probs, losses = probability_best(samples, metric.higher_is_better)
    density = posterior_density(summaries, metric.kind)
    posterior = None
    if density is not None:
        grid, curves = density
        posterior = {"grid": grid, "density": dict(zip(order, curves, strict=True))}
    return probs, losses, posterior


def _verdict(
    variants: list[VariantResult],
    comparisons: list[Comparison],
    metric: MetricDefinition,
    required: int | None,
    more_total: int | None,
    mde: float,
    power: float,
    alpha: float,
) -> Verdict:
    unit = f"{metric.unit}s"
    control = variants[0]
    if sum(v.labelled for v in variants) == 0:
        return Verdict(
            NOT_ENOUGH_DATA,
            None,
            f"Not enough data yet: no labelled {unit} for {metric.name} so far. "
            "Send labels or rewards to POST /feedback.",
        )
    if required is None:
        return Verdict(
            NOT_ENOUGH_DATA,
            None,
            f"Not enough data yet: too few labelled {unit} to estimate the spread of "
            f"{metric.name}; each variant needs at least {MIN_SAMPLES}.",
        )
    short = [v for v in variants if (v.more_needed or 0) > 0]
    if short:
        missing = ", ".join(f"{v.name}: {v.more_needed:,} more" for v in short)
        return Verdict(
            NOT_ENOUGH_DATA,
            None,
            f"Not enough data yet: {more_total:,} more labelled {unit} needed ({missing}). "
            f"Each variant needs {required:,} to detect a difference of "
            f"{_diff(mde, metric, signed=False)} with {power:.0%} power at alpha = {alpha:g}; "
            "interim p-values are shown, not acted on.",
        )
    better = [c for c in comparisons if c.significant and _improves(c, metric)]
    worse = [c for c in comparisons if c.significant and not _improves(c, metric)]
    values = {v.name: v for v in variants}
    if better:
        best = max(better, key=lambda c: c.difference if metric.higher_is_better else -c.difference)
        return Verdict(
            SIGNIFICANT,
            best.variant,
            f"{best.variant} beats {control.name}: {metric.name} "
            f"{_value(values[best.variant].value, metric)} vs {_value(control.value, metric)} "
            f"({_diff(best.difference, metric)}, {1 - alpha:.0%} CI "
            f"[{_diff(best.ci_low, metric)}, {_diff(best.ci_high, metric)}], "
            f"p = {_p(best.p_value_adjusted)}).",
        )
    if worse:
        names = ", ".join(c.variant for c in worse)
        return Verdict(
            SIGNIFICANT,
            control.name,
            f"{control.name} (the control) is better than {names}: "
            + "; ".join(
                f"{c.variant} {_diff(c.difference, metric)}, p = {_p(c.p_value_adjusted)}"
                for c in worse
            )
            + ".",
        )
    largest = max(comparisons, key=lambda c: abs(c.difference), default=None)
    seen = (
        f" Largest difference: {largest.variant} {_diff(largest.difference, metric)} "
        f"(p = {_p(largest.p_value_adjusted)})."
        if largest
        else ""
    )
    return Verdict(
        NO_DIFFERENCE,
        None,
        f"No significant difference at alpha = {alpha:g}: with {required:,}+ labelled {unit} per "
        f"variant, a true difference of {_diff(mde, metric, signed=False)} would have been "
        f"detected with {power:.0%} power.{seen}",
    )


# --- helpers -----------------------------------------------------------------------------


def _check_settings(
    metric: MetricDefinition, mde: float, power: float, alpha: float, draws: int
) -> None:
    problems = []
    if not mde > 0 or not math.isfinite(mde):
        problems.append(f"mde must be positive, got {mde}")
    elif metric.kind == RATE and mde >= 1:
        problems.append(f"mde is an absolute difference of rates, so below 1; got {mde}")
    if not 0 < power < 1:
        problems.append(f"power must be between 0 and 1, got {power}")
    if not 0 < alpha < 1:
        problems.append(f"alpha must be between 0 and 1, got {alpha}")
    if draws < 1000:
        problems.append(f"draws must be at least 1000, got {draws}")
    if problems:
        raise InvalidParameterValue("Invalid A/B settings: " + "; ".join(problems) + ".")


def _pick_control(names: list[str], control: str | None) -> str:
    if control is not None:
        if control not in names:
            raise InvalidParameterValue(
                f"No variant {control!r} in the log; the variants are: {', '.join(names)}."
            )
        return control
    return "control" if "control" in names else names[0]


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: digits as numbers, so version 10 comes after version 9."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def _improves(comparison: Comparison, metric: MetricDefinition) -> bool:
    return (comparison.difference > 0) == metric.higher_is_better


def _value(value: float | None, metric: MetricDefinition) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}%" if metric.kind == RATE else f"{value:.4g}"


def _diff(value: float, metric: MetricDefinition, *, signed: bool = True) -> str:
    sign = "+" if signed else ""
    return f"{100 * value:{sign}.2f} pp" if metric.kind == RATE else f"{value:{sign}.4g}"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _window_text(since: Any, until: Any) -> str:
    parts = ([f"since {since}"] if since is not None else []) + (
        [f"until {until}"] if until is not None else []
    )
    return f" ({', '.join(parts)})" if parts else ""


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


__all__ = [
    "BATCH_ROWS",
    "Comparison",
    "ExperimentAnalysis",
    "MIN_SAMPLES",
    "NOT_ENOUGH_DATA",
    "NO_DIFFERENCE",
    "SIGNIFICANT",
    "Verdict",
    "VariantResult",
    "analyze_experiment",
    "analyze_predictions",
]
