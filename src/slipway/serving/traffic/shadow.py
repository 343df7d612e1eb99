"""Shadow traffic: a copy of each routed request goes to the shadow variant, answered to no one.

`Shadow.mirror` is called after the primary's response has been sent, and costs the
request path an append to a list: with `sample` < 1 only that share of requests (at
random) is copied, and when `queue` copies are already waiting or running the copy is
shed (counted), never waited for, so a slow or failing shadow cannot hold up a response
or pile up memory.

Copies are served in batches by one task: it waits until a batch's worth of rows is
waiting (the shadow's `max_batch_size`) or the oldest copy has waited `max_wait_s`, then
hands all waiting copies to the shadow's own model thread as one job (`serve_copies`):
each copy's input is checked alone (a bad one fails alone), the rest run as one model
call per distinct set of parameters (one by one if that call raises, so only the culprit
fails), the shadow's predictions are compared with the primary's row by row and its
answers logged (prediction log, `variant` = the shadow's name). The event loop then
updates the counts and metrics once per batch. So the shadow costs the primary one list
append per request and a model call per batch, not a task, a future and a model call
per request. On shutdown, copies still waiting are dropped, not served.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from slipway.serving.traffic.stats import ShadowCounts, bucket_of

logger = logging.getLogger("slipway.serving")

# ServedModel -> (payload, params, proba): the shadow's input for one copied request.
CopyInput = Callable[[Any], tuple[Any, "dict[str, Any] | None", bool]]


def agreement(primary: Any, shadow: Any) -> tuple[int, int]:
    """(rows compared, rows on which both predicted the same); floats to 1e-6 relative."""
    a, b = np.asarray(primary), np.asarray(shadow)
    rows = a.shape[0] if a.ndim else 1
    if a.shape != b.shape:
        return rows, 0
    try:
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            same = np.isclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True)
        else:
            same = np.asarray(a == b)
        same = same.reshape(rows, -1).all(axis=1) if a.ndim else same.reshape(1)
    except Exception:  # incomparable outputs (objects that do not compare elementwise)
        return rows, 0
    return rows, int(same.sum())


@dataclass(slots=True)
class _Copy:
    request_id: str
    make_input: CopyInput
    primary: Any  # the primary's predictions for the request
    primary_seconds: float


@dataclass(slots=True)
class _Served:
    """What one batch of copies gave (built in the shadow's model thread)."""

    answered: list[tuple[_Copy, Any]]  # (copy, the shadow's Prediction)
    failed: int
    rows: int
    agreed: int
    seconds: float  # the batch's model time


def serve_copies(
    model: Any,
    copies: list[_Copy],
    on_answer: Callable[[str, Any, Any, str], None],
    variant: str,
) -> _Served:
    """In the shadow's model thread: run a batch of copies, compare, log (see module doc)."""
    started = time.perf_counter()
    groups: dict[Any, list[tuple[_Copy, Any, int]]] = {}
    failed = 0
    for copy in copies:
        try:
            payload, params, proba = copy.make_input(model)
            key, rows = model.batch_key(payload, params, proba)
        except Exception as exc:
            failed += 1
            logger.debug("Shadow %s failed on request %s: %s", variant, copy.request_id, exc)
            continue
        groups.setdefault(key, []).append((copy, payload, rows))
    answered: list[tuple[_Copy, Any]] = []
    for key, members in groups.items():
        size = model.batcher.max_batch_size
        start = 0
        while start < len(members):  # at most max_batch_size rows per call (or one request)
            stop, rows = start + 1, members[start][2]
            while stop < len(members) and rows + members[stop][2] <= size:
                rows += members[stop][2]
                stop += 1
            part = members[start:stop]
            outcomes = model.batcher.run_now([payload for _, payload, _ in part], key)
            for (copy, _, _), (ok, value) in zip(part, outcomes, strict=True):
                if ok:
                    answered.append((copy, value))
                else:
                    failed += 1
                    logger.debug(
                        "Shadow %s failed on request %s: %s", variant, copy.request_id, value
                    )
            start = stop
    seconds = time.perf_counter() - started
    rows_compared, agreed = _agreement_of(answered)
    for copy, prediction in answered:
        try:
            on_answer(copy.request_id, model, prediction, variant)
        except Exception:
            logger.debug("Could not log the shadow's answer to %s", copy.request_id, exc_info=True)
    return _Served(answered, failed, rows_compared, agreed, seconds)


def _agreement_of(answered: list[tuple[_Copy, Any]]) -> tuple[int, int]:
    """(rows compared, rows agreeing) over a batch: one comparison when every answer is
    a 1-D array shaped like the primary's (the usual case), else copy by copy."""
    primaries = [copy.primary for copy, _ in answered]
    shadows = [prediction.predictions for _, prediction in answered]
    if all(
        isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == 1 == b.ndim
        for a, b in zip(primaries, shadows, strict=True)
    ) and all(len(a) == len(b) for a, b in zip(primaries, shadows, strict=True)):
        if not primaries:
            return 0, 0
        try:
            return agreement(np.concatenate(primaries), np.concatenate(shadows))
        except Exception:  # dtypes that do not concatenate: compare copy by copy
            pass
    rows_compared = agreed = 0
    for a, b in zip(primaries, shadows, strict=True):
        try:
            rows, same = agreement(a, b)
        except Exception:
            rows, same = 0, 0
        rows_compared += rows
        agreed += same
    return rows_compared, agreed


class Shadow:
    """The shadow variant's copies of routed requests."""

    def __init__(
        self,
        variant: str,
        queue: int,
        model_of: Callable[[str], Any],
        on_answer: Callable[[str, Any, Any, str], None],
        metrics: Any = None,
        experiment: str = "",
        sample: float = 1.0,
        max_wait_s: float = 0.02,
    ) -> None:
        self.variant = variant
        self.queue = queue
        self.sample = sample
        self.max_wait_s = max_wait_s
        self.counts = ShadowCounts()
        self._model_of = model_of
        self._on_answer = on_answer  # (request_id, model, prediction, variant): the log
        self._metrics = metrics
        self._experiment = experiment
        self._waiting: list[_Copy] = []
        self._running = 0  # copies handed to the model thread
        self._first_at = 0.0  # when the oldest waiting copy arrived
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._unreported = {"sent": 0, "dropped": 0}  # counted since the last metrics update

    @property
    def in_flight(self) -> int:
        return len(self._waiting) + self._running

    def mirror(
        self, request_id: str, make_input: CopyInput, primary: Any, primary_seconds: float
    ) -> None:
        """Queue a copy of a request the primary answered in `primary_seconds` (its model
        call); `primary` is the primary's predictions."""
        if self._closing or (self.sample < 1.0 and random.random() >= self.sample):
            return
        if len(self._waiting) + self._running >= self.queue:
            self.counts.dropped += 1
            self._unreported["dropped"] += 1
            return
        self.counts.sent += 1
        self._unreported["sent"] += 1
        waiting = self._waiting
        waiting.append(_Copy(request_id, make_input, primary, primary_seconds))
        if len(waiting) == 1:
            self._first_at = time.perf_counter()
            if self._task is None:
                self._wake = asyncio.Event()
                self._task = asyncio.get_running_loop().create_task(self._serve())
            assert self._wake is not None
            self._wake.set()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None
        while not self._closing:
            if not self._waiting:
                wake.clear()
                await wake.wait()
                continue
            model = self._model_of(self.variant)
            full = model.batcher.max_batch_size
            late = self._first_at + self.max_wait_s - time.perf_counter()
            if late > 0 and len(self._waiting) < full:
                await asyncio.sleep(min(late, 0.005))  # a fuller batch: fewer, larger calls
                continue
            copies, self._waiting = self._waiting, []
            self._running = len(copies)
            try:
                served = await loop.run_in_executor(
                    model.executor,
                    serve_copies,
                    model,
                    copies,
                    self._on_answer,
                    self.variant,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the model's thread is gone (a version retiring)
                logger.debug(
                    "Shadow %s could not run %d copies: %s", self.variant, len(copies), exc
                )
                served = _Served([], len(copies), 0, 0, 0.0)
            finally:
                self._running = 0
            self._count(served)

    def _count(self, served: _Served) -> None:
        counts = self.counts
        counts.errors += served.failed
        counts.rows += served.rows
        counts.agreed += served.agreed
        if served.answered:
            counts.latency[bucket_of(served.seconds)] += len(served.answered)
            for copy, _ in served.answered:
                counts.primary_latency[bucket_of(copy.primary_seconds)] += 1
        metrics = self._metrics
        if metrics is None:
            return
        self.report_metrics()
        try:
            if served.failed:
                metrics.shadow_copy(self._experiment, self.variant, "error", served.failed)
            if served.answered:
                metrics.shadow_answer(
                    self._experiment,
                    self.variant,
                    served.seconds,
                    served.rows,
                    served.agreed,
                    len(served.answered),
                )
        except Exception:  # metrics never stop the shadow
            logger.debug("Could not record shadow metrics", exc_info=True)

    def report_metrics(self) -> None:
        """Add the copies sent and shed since the last call to the Prometheus counters."""
        metrics, unreported = self._metrics, self._unreported
        if metrics is None or not any(unreported.values()):
            return
        self._unreported = {"sent": 0, "dropped": 0}
        try:
            for outcome, number in unreported.items():
                if number:
                    metrics.shadow_copy(self._experiment, self.variant, outcome, number)
        except Exception:  # metrics never stop the shadow
            logger.debug("Could not record shadow metrics", exc_info=True)

    async def close(self) -> None:
        """Drop the copies still waiting (a shadow never delays a shutdown)."""
        self._closing = True
        self._waiting = []
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


__all__ = ["CopyInput", "Shadow", "agreement", "serve_copies"]
