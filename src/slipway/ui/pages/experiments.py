"""The experiments list: every experiment with its run count and last activity, searchable."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from slipway.entities import ViewType
from slipway.ui.context import client
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
MAX_EXPERIMENTS = 1000


def _name_filter(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("'", "\\'")
    return f"name ILIKE '%{escaped}%'"


@router.get("/")
def experiments_page(request: Request, q: str = "", view: str = "active") -> Response:
    c = client(request)
    view_type = ViewType.DELETED_ONLY if view == "deleted" else ViewType.ACTIVE_ONLY
    found = c.search_experiments(
        view_type=view_type,
        max_results=MAX_EXPERIMENTS,
        filter_string=_name_filter(q.strip()) if q.strip() else None,
        order_by=["last_update_time DESC"],
    )
    experiments = found.items
    summaries = c.store.summarize_runs([e.experiment_id for e in experiments])
    rows = []
    for e in experiments:
        count, latest_run = summaries.get(e.experiment_id, (0, None))
        times = (e.last_update_time, latest_run, e.creation_time)
        activity = max((t for t in times if t), default=None)
        rows.append({"experiment": e, "runs": count, "last_activity": activity})
    rows.sort(key=lambda r: r["last_activity"] or 0, reverse=True)
    return render(
        request,
        "experiments.html",
        fragment="results",
        rows=rows,
        q=q,
        view=view,
        truncated=len(experiments) >= MAX_EXPERIMENTS,
    )


__all__ = ["router"]
