"""Compare runs: overlaid curves, params and metrics side by side with differences marked,
a param against a metric, and parallel coordinates of every varying param and a metric."""

from __future__ import annotations

from fastapi import Query, Request
from starlette.responses import Response

from slipway.entities import Run
from slipway.errors import InvalidParameterValue
from slipway.tracking.client import Client
from slipway.ui.charts import axis_of, parallel_coordinates, scatter
from slipway.ui.context import client
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
MAX_COMPARED = 100
MAX_PARALLEL_AXES = 8


def _rows(keys: list[str], values: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per key: each run's value, and whether they differ."""
    out = []
    for key in keys:
        cells = [v.get(key) for v in values]
        out.append({"key": key, "cells": cells, "differs": len({repr(c) for c in cells}) > 1})
    return out


def _curve_metric(c: Client, runs: list[Run], keys: list[str]) -> str:
    """The first metric with a history (more than one point) in the first run that has it,
    so the overlaid curves open on a curve rather than on single points."""
    for key in keys:
        owner = next(run for run in runs if key in run.data.metrics)
        if len(c.store.get_metric_history(owner.info.run_id, key, max_results=2).items) > 1:
            return key
    return keys[0] if keys else ""


@router.get("/compare")
def compare_page(
    request: Request,
    r: list[str] = Query(default=[]),
    metric: str = "",
    param: str = "",
) -> Response:
    run_ids = list(dict.fromkeys(i for part in r for i in part.split(",") if i))
    if len(run_ids) < 2:
        raise InvalidParameterValue("Select at least two runs to compare.")
    if len(run_ids) > MAX_COMPARED:
        raise InvalidParameterValue(f"Compare at most {MAX_COMPARED} runs at once.")
    c = client(request)
    runs = [c.get_run(i) for i in run_ids]
    param_keys = sorted({k for run in runs for k in run.data.params})
    metric_keys = sorted({k for run in runs for k in run.data.metrics})
    params = _rows(param_keys, [run.data.params for run in runs])
    metrics = _rows(metric_keys, [run.data.metrics for run in runs])
    metric = metric if metric in metric_keys else _curve_metric(c, runs, metric_keys)
    varying = [row["key"] for row in params if row["differs"]]
    param = param if param in param_keys else (varying[0] if varying else "")
    labels = [run.info.run_name or run.info.run_id[:8] for run in runs]
    scatter_svg = parallel_svg = ""
    if metric and param:
        xs = [run.data.params.get(param) for run in runs]
        ys = [run.data.metrics.get(metric) for run in runs]
        scatter_svg = scatter(
            axis_of(f"params.{param}", xs),
            axis_of(f"metrics.{metric}", ys),
            list(zip(xs, ys, labels, strict=True)),
        )
    if metric and varying:
        keys = varying[: MAX_PARALLEL_AXES - 1]
        axes = [axis_of(k, [run.data.params.get(k) for run in runs]) for k in keys]
        axes.append(axis_of(metric, [run.data.metrics.get(metric) for run in runs]))
        rows = [
            ([run.data.params.get(k) for k in keys] + [run.data.metrics.get(metric)], label)
            for run, label in zip(runs, labels, strict=True)
        ]
        parallel_svg = parallel_coordinates(axes, rows)
    return render(
        request,
        "compare.html",
        runs=runs,
        labels=labels,
        chart_runs=[
            {"id": run.info.run_id, "label": label} for run, label in zip(runs, labels, strict=True)
        ],
        params=params,
        metrics=metrics,
        metric_keys=metric_keys,
        param_keys=param_keys,
        metric=metric,
        param=param,
        scatter_svg=scatter_svg,
        parallel_svg=parallel_svg,
    )


__all__ = ["router"]
