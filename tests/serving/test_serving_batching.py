"""The adaptive batcher alone (a fake model), then many concurrent callers over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from serving_support import numeric_data

from slipway.serving.batching import Batcher

pytestmark = pytest.mark.timeout(120)


class FakeModel:
    """Doubles numbers; calls are recorded; negative rows make a merged call fail."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[list[int]] = []
        self.delay = delay
        self.thread_names: set[str] = set()

    def prepare(self, item):
        if item == "malformed":
            raise ValueError("cannot read this request")
        return item

    def run(self, prepared, key):
        self.thread_names.add(threading.current_thread().name)
        flat = [x for rows in prepared for x in rows]
        self.calls.append(flat)
        if self.delay:
            time.sleep(self.delay)
        if any(x < 0 for x in flat):
            raise RuntimeError("negative input")
        return [[2 * x for x in rows] for rows in prepared]


def run(coro):
    return asyncio.run(coro)


def make(model, **kw):
    executor = ThreadPoolExecutor(1, thread_name_prefix="model")
    return Batcher(model, executor, **kw), executor


def test_concurrent_requests_share_calls_and_get_their_own_rows():
    model = FakeModel(delay=0.01)

    async def main():
        batcher, executor = make(model, max_batch_size=64, max_wait_s=0.005)
        requests = [[i, i + 1000] for i in range(40)]
        results = await asyncio.gather(*(batcher.submit(r, len(r)) for r in requests))
        await batcher.close()
        executor.shutdown()
        return requests, results

    requests, results = run(main())
    assert results == [[2 * x for x in r] for r in requests]
    assert len(model.calls) < 40  # merged
    assert max(len(c) for c in model.calls) <= 64
    assert model.thread_names == {n for n in model.thread_names if n.startswith("model")}


def test_one_bad_request_never_fails_the_others():
    model = FakeModel()

    async def main():
        batcher, executor = make(model, max_batch_size=64, max_wait_s=0.05)
        items = [[1], "malformed", [-5], [2], [3]]
        results = await asyncio.gather(
            *(batcher.submit(item, 1) for item in items), return_exceptions=True
        )
        await batcher.close()
        executor.shutdown()
        return results

    results = run(main())
    assert results[0] == [2] and results[3] == [4] and results[4] == [6]
    assert isinstance(results[1], ValueError)  # failed alone in prepare, never merged
    assert isinstance(results[2], RuntimeError)  # the culprit of a failed merged call
    assert [-5] in [c for c in model.calls if len(c) == 1]  # retried alone


def test_a_lone_caller_does_not_wait():
    model = FakeModel()

    async def main():
        batcher, executor = make(model, max_batch_size=64, max_wait_s=1.0)
        started = time.perf_counter()
        for i in range(5):
            assert await batcher.submit([i], 1) == [2 * i]
        elapsed = time.perf_counter() - started
        await batcher.close()
        executor.shutdown()
        return elapsed

    assert run(main()) < 0.5  # five sequential calls, none waited the 1 s max wait


def test_batches_respect_the_row_limit_and_keys():
    model = FakeModel(delay=0.02)

    async def main():
        batcher, executor = make(model, max_batch_size=5, max_wait_s=0.01)
        coros = [batcher.submit([i, i], 2, key=i % 2) for i in range(12)]
        coros.append(batcher.submit(list(range(9)), 9))  # larger than a batch: runs alone
        results = await asyncio.gather(*coros)
        await batcher.close()
        executor.shutdown()
        return results

    results = run(main())
    assert results[-1] == [2 * x for x in range(9)]
    for call in model.calls:
        assert len(call) <= 5 or len(call) == 9
        if len(call) != 9:
            assert len({x % 2 for x in call}) == 1  # one key per call


def test_disabled_batching_calls_once_per_request():
    model = FakeModel(delay=0.005)

    async def main():
        batcher, executor = make(model, enabled=False)
        await asyncio.gather(*(batcher.submit([i], 1) for i in range(6)))
        await batcher.close()
        executor.shutdown()

    run(main())
    assert sorted(len(c) for c in model.calls) == [1] * 6


def test_cancelled_callers_are_skipped():
    model = FakeModel(delay=0.05)

    async def main():
        batcher, executor = make(model)
        first = asyncio.ensure_future(batcher.submit([1], 1))
        await asyncio.sleep(0.01)  # the first call is running
        gone = asyncio.ensure_future(batcher.submit([2], 1))
        await asyncio.sleep(0)
        gone.cancel()
        third = await batcher.submit([3], 1)
        await first
        await batcher.close()
        executor.shutdown()
        return third

    assert run(main()) == [6]
    assert [2] not in model.calls


# ------------------------------------------------------------------------ over HTTP


async def _hammer(url: str, payloads: list[dict], concurrency: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(body):
            async with semaphore:
                return await client.post("/predict", json=body)

        return await asyncio.gather(*(one(b) for b in payloads))


def test_many_concurrent_callers_each_get_exactly_their_predictions(serve, registry):
    served = serve("models:/forest/2", max_wait_ms=5)
    model = registry.models["forest/2"]
    X, _ = numeric_data(41, rows=1000)
    rng = np.random.default_rng(0)
    payloads, expected = [], []
    start = 0
    for _ in range(200):
        n = int(rng.integers(1, 6))
        rows = X.iloc[start : start + n]
        start += n
        payloads.append({"records": rows.to_dict(orient="records")})
        expected.append((model.predict(rows).tolist(), model.predict_proba(rows)))
    answers = asyncio.run(_hammer(served.url, payloads, concurrency=32))
    for answer, (predictions, probabilities) in zip(answers, expected, strict=True):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["predictions"] == predictions
        np.testing.assert_allclose(body["probabilities"], probabilities)
    request_ids = {a.headers["x-request-id"] for a in answers}
    assert len(request_ids) == 200
    metrics = served.http.get("/metrics").text
    count = _metric(
        metrics, 'slipway_serving_batch_size_count{model="forest",variant="",version="2"}'
    )
    total = _metric(
        metrics, 'slipway_serving_batch_size_sum{model="forest",variant="",version="2"}'
    )
    assert total == start  # every row went through exactly one model call
    assert count < 200  # and calls were shared


def test_a_bad_request_among_concurrent_good_ones_fails_alone(serve, registry):
    served = serve("models:/forest/2", max_wait_ms=20)
    X, _ = numeric_data(42, rows=30)
    payloads = [{"records": X.iloc[i : i + 1].to_dict(orient="records")} for i in range(30)]
    payloads[7] = {"records": [{"a": "bad", "b": 1.0, "c": 1.0, "d": 1.0}]}
    answers = asyncio.run(_hammer(served.url, payloads, concurrency=30))
    statuses = [a.status_code for a in answers]
    assert statuses[7] == 422
    assert statuses.count(200) == 29
    model = registry.models["forest/2"]
    for i, answer in enumerate(answers):
        if i != 7:
            assert answer.json()["predictions"] == model.predict(X.iloc[i : i + 1]).tolist()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


ECHO = """
class Model:
    def predict(self, context, model_input, params=None):
        return model_input
"""


def test_batching_is_on_for_flavors_off_for_python_models_and_switchable(serve, tmp_path):
    from serving_support import python_model

    path = python_model(tmp_path, ECHO, name="custom")

    def batching(served) -> dict[str, bool]:
        return {m["name"]: m["batching"] for m in served.http.get("/version").json()["models"]}

    assert batching(serve("models:/reg/1", str(path))) == {"reg": True, "custom": False}
    switched = serve("models:/reg/1", str(path), model_batching={"custom": True, "reg": False})
    assert batching(switched) == {"reg": False, "custom": True}
    assert batching(serve("models:/reg/1", str(path), batching=False)) == {
        "reg": False,
        "custom": False,
    }
