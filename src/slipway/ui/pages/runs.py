"""The runs table of one or several experiments: chosen columns, sorting, the API's filter
grammar, server-side paging, selection for comparing, and bulk delete / restore / tag.

One page of runs is one `search_runs` call plus one count, so the table stays fast at any
number of runs. The chosen columns are remembered per set of experiments in a cookie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode

from fastapi import Query, Request
from starlette.responses import Response

from slipway.entities import Run, ViewType
from slipway.errors import InvalidFilter, InvalidParameterValue
from slipway.store.search import encode_page_token
from slipway.ui.context import client
from slipway.ui.forms import Form, redirect
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_DEFAULT_METRICS = 5
MAX_DEFAULT_PARAMS = 3
SYSTEM_TAG_PREFIX = "mlflow."
_KINDS = {"metrics": "metric", "params": "param", "tags": "tag"}
_ATTRIBUTES = {"run_name": "Run", "start_time": "Started", "status": "Status"}


@dataclass(frozen=True)
class Column:
    """A chosen column: `kind` is metrics/params/tags, `key` the name inside it."""

    kind: str
    key: str

    @property
    def ref(self) -> str:
        return f"{self.kind}.{self.key}"

    @property
    def order_ref(self) -> str:
        return f"{self.kind}.`{self.key}`"

    def value(self, run: Run) -> object:
        return getattr(run.data, self.kind).get(self.key)


def parse_columns(text: str) -> list[Column]:
    out = []
    for item in text.split(","):
        kind, _, key = item.strip().partition(".")
        if kind in _KINDS and key and Column(kind, key) not in out:
            out.append(Column(kind, key))
    return out


def default_columns(runs: list[Run]) -> list[Column]:
    metrics = sorted({k for r in runs for k in r.data.metrics})[:MAX_DEFAULT_METRICS]
    params = sorted({k for r in runs for k in r.data.params})[:MAX_DEFAULT_PARAMS]
    return [Column("metrics", k) for k in metrics] + [Column("params", k) for k in params]


def available_columns(runs: list[Run], chosen: list[Column]) -> dict[str, list[str]]:
    """Keys seen on this page (and those chosen), per kind, for the column picker."""
    out: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    for r in runs:
        out["metrics"].update(r.data.metrics)
        out["params"].update(r.data.params)
        out["tags"].update(k for k in r.data.tags if not k.startswith(SYSTEM_TAG_PREFIX))
    for c in chosen:
        out[c.kind].add(c.key)
    return {kind: sorted(keys) for kind, keys in out.items()}


def cookie_name(experiment_ids: list[str]) -> str:
    return "slipway-cols-" + "_".join(sorted(experiment_ids))


def position_marker(filter_string: str, position: int | None) -> str | None:
    """A line with a caret under the character where the filter stopped making sense."""
    if position is None:
        return None
    return " " * max(0, min(position, len(filter_string))) + "^"


@router.get("/runs")
def runs_page(
    request: Request,
    e: list[str] = Query(default=[]),
    filter: str = "",
    order: str = "",
    page: int = 1,
    size: int = DEFAULT_PAGE_SIZE,
    cols: str | None = None,
    view: str = "active",
) -> Response:
    c = client(request)
    experiment_ids = [i for part in e for i in part.split(",") if i]
    if not experiment_ids:
        raise InvalidParameterValue("Choose at least one experiment (the e= parameter).")
    experiments = [c.get_experiment(i) for i in experiment_ids]
    view_type = {"deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}.get(
        view, ViewType.ACTIVE_ONLY
    )
    size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    page = max(1, page)
    order_by = [order] if order.strip() else None
    runs: list[Run] = []
    total = 0
    problem: InvalidFilter | InvalidParameterValue | None = None
    try:
        total = c.store.count_runs(experiment_ids, filter, view_type)
        pages = max(1, math.ceil(total / size))
        page = min(page, pages)
        token = encode_page_token((page - 1) * size) if page > 1 else None
        runs = c.search_runs(experiment_ids, filter, view_type, size, order_by, token).items
    except InvalidFilter as exc:
        problem = exc
    pages = max(1, math.ceil(total / size))

    remembered = request.cookies.get(cookie_name(experiment_ids))
    if cols is not None:
        chosen = parse_columns(cols)
    elif remembered:
        chosen = parse_columns(unquote(remembered))
    else:
        chosen = default_columns(runs)

    state = {"e": experiment_ids, "filter": filter, "order": order, "size": size, "view": view}
    state["cols"] = ",".join(col.ref for col in chosen)

    def link(**changes: object) -> str:
        return "/runs?" + urlencode({**state, **changes}, doseq=True)

    names = {x.experiment_id: x.name for x in experiments}
    response = render(
        request,
        "runs.html",
        fragment="panel",
        experiments=experiments,
        experiment_names=names,
        runs=runs,
        total=total,
        page=page,
        pages=pages,
        size=size,
        page_sizes=PAGE_SIZES,
        columns=chosen,
        available=available_columns(runs, chosen),
        attributes=_ATTRIBUTES,
        filter=filter,
        order=order,
        view=view,
        problem=problem,
        marker=position_marker(filter, getattr(problem, "position", None)),
        link=link,
        state=state,
        here=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
    )
    if cols is not None:
        response.set_cookie(
            cookie_name(experiment_ids),
            quote(state["cols"]),
            max_age=365 * 86400,
            samesite="lax",
            httponly=True,
        )
    return response


@router.post("/runs/bulk")
def bulk_action(request: Request, form: Form) -> Response:
    """Delete, restore or tag the selected runs, then go back to the table."""
    c = client(request)
    action = form.get("action")
    run_ids = form.getlist("r")
    back = form.get("next", "/")
    if not run_ids:
        return redirect(back, problem="Select at least one run first.")
    if action == "delete":
        for run_id in run_ids:
            c.delete_run(run_id)
        return redirect(back, notice=f"Deleted {len(run_ids)} run(s); show deleted runs to undo.")
    if action == "restore":
        for run_id in run_ids:
            c.restore_run(run_id)
        return redirect(back, notice=f"Restored {len(run_ids)} run(s).")
    if action == "tag":
        key = form.required("tag_key", "the tag's key")
        value = form.get("tag_value")
        for run_id in run_ids:
            c.set_tag(run_id, key, value)
        return redirect(back, notice=f"Tagged {len(run_ids)} run(s) with {key}={value}.")
    raise InvalidParameterValue(f"Unknown action {action!r}: expected delete, restore or tag.")


__all__ = ["Column", "default_columns", "parse_columns", "position_marker", "router"]
