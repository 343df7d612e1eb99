"""Direct dispatch of the plain protocol routes: the same answers as FastAPI, only sooner.

Every protocol test in this folder already goes through the dispatcher; these check what
is dispatched (the per-run calls must stay on the fast path), that FastAPI's first-match
order is kept, and that answers are identical with and without the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from slipway.server.app import create_app
from slipway.server.dispatch import DirectDispatch, direct_routes
from slipway.server.protocol import RequestFields, Store, json_response

API = "/api/2.0/mlflow"


def _client(tmp_path: Path, name: str, *, dispatch: bool) -> TestClient:
    app = create_app(f"sqlite:///{tmp_path / name}.db", str(tmp_path / f"{name}-artifacts"))
    if not dispatch:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectDispatch]
    return TestClient(app)


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        _client(tmp_path, "direct", dispatch=True) as direct,
        _client(tmp_path, "fastapi", dispatch=False) as plain,
    ):
        yield direct, plain


def test_the_per_run_calls_are_dispatched_directly(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    (table,) = [m.kwargs["table"] for m in app.user_middleware if m.cls is DirectDispatch]
    for prefix in (API, "/ajax-api/2.0/mlflow"):
        for method, path in (
            ("POST", "/runs/create"),
            ("POST", "/runs/log-batch"),
            ("POST", "/runs/set-tag"),
            ("POST", "/runs/update"),
            ("GET", "/runs/get"),
            ("GET", "/experiments/get-by-name"),
        ):
            assert (method, prefix + path) in table
    assert ("POST", "/api/2.0/slipway/runs/log-metrics") in table
    # Routes with path parameters or other inputs stay with FastAPI.
    assert not any("artifacts" in path or "registered-models" in path for _, path in table)
    assert ("GET", "/health") not in table


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/runs/create", b'{"experiment_id": "77"}'),
        ("POST", "/runs/log-batch", b'{"run_id": "' + b"f" * 32 + b'"}'),
        ("POST", "/runs/log-batch", b"{oops"),
        ("POST", "/runs/set-tag", b"[1, 2]"),
        ("POST", "/runs/update", b'{"run_id": "x", "status": "DONE"}'),
        ("GET", "/runs/get?run_id=" + "f" * 32, None),
        ("GET", "/experiments/get?experiment_id=abc", None),
        ("GET", "/experiments/get-by-name?experiment_name=Default", None),
        ("GET", "/runs/create", None),  # wrong method: not dispatched, FastAPI's 405
    ],
)
def test_answers_are_the_same_with_and_without_dispatch(both, method, path, body) -> None:
    headers = {"Content-Type": "application/json"}
    got, expected = (c.request(method, API + path, content=body, headers=headers) for c in both)
    assert got.status_code == expected.status_code
    if got.status_code >= 400:
        assert got.json() == expected.json()
    else:
        assert got.json().keys() == expected.json().keys()
    assert got.headers["content-type"] == expected.headers["content-type"]


def test_fastapis_first_match_order_is_kept() -> None:
    """A literal path behind an earlier route with a matching path parameter is FastAPI's."""
    first, second = APIRouter(), APIRouter()

    @first.get("/things/{name}")
    def by_name(name: str) -> Response:
        return json_response({"route": "by_name", "name": name})

    @second.get("/things/special")
    def special(fields: RequestFields, store: Store) -> Response:
        return json_response({"route": "special"})

    @second.post("/things/special")
    def special_post(fields: RequestFields, store: Store) -> Response:
        return json_response({"route": "special_post", "x": fields.string("x")})

    @second.get("/needs-request")
    def needs_request(request: Request) -> Response:
        return json_response({"route": "needs_request"})

    mounts = [("/p", first), ("/p", second)]
    table = direct_routes(mounts)
    assert set(table) == {("POST", "/p/things/special")}

    app = FastAPI()
    app.state.store = None
    for prefix, router in mounts:
        app.include_router(router, prefix=prefix)
    app.add_middleware(DirectDispatch, table=table)
    with TestClient(app) as client:
        assert client.get("/p/things/special").json() == {"route": "by_name", "name": "special"}
        answer = client.post("/p/things/special", json={"x": "y"}).json()
        assert answer == {"route": "special_post", "x": "y"}
        assert client.get("/p/needs-request").json() == {"route": "needs_request"}
