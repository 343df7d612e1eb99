"""Shadow traffic: a copy of each routed request goes to the shadow variant, answered to no one.

`Shadow.mirror` is called after the primary's response has been sent. With `sample` < 1,
only that share of requests (at random) is copied. Otherwise it starts a task
that runs the copy on the shadow's own `ServedModel` (its own batcher and thread), compares
its predictions with the primary's row by row, counts both model calls' latencies and logs
the shadow's answer (prediction log, `variant` = the shadow's name). At most `queue` copies
are in flight; beyond that a copy is shed and counted, never waited for, so a slow or
failing shadow cannot hold up a response or pile up memory. Its failures are counted and
logged at debug level. On shutdown the copies still queued are cancelled, not served.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from slipway.serving.traffic.stats import ShadowCounts, bucket_of

logger = logging.getLogger("slipway.serving")

Run = Callable[[Any], Awaitable[Any]]  # ServedModel -> Prediction


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
    ) -> None:
        self.variant = variant
        self.queue = queue
        self.sample = sample
        self.counts = ShadowCounts()
        self._model_of = model_of
        self._on_answer = on_answer  # (request_id, model, prediction, variant): the log
        self._metrics = metrics
        self._experiment = experiment
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def mirror(self, request_id: str, run: Run, primary: Any, primary_seconds: float) -> None:
        """Send a copy of a request the primary answered in `primary_seconds` (its model call)."""
        if self._closing or (self.sample < 1.0 and random.random() >= self.sample):
            return
        if len(self._tasks) >= self.queue:
            self.counts.dropped += 1
            self._count("dropped")
            return
        self.counts.sent += 1
        self._count("sent")
        task = asyncio.get_running_loop().create_task(
            self._copy(request_id, run, primary, primary_seconds)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _copy(self, request_id: str, run: Run, primary: Any, primary_seconds: float) -> None:
        counts = self.counts
        try:
            model = self._model_of(self.variant)
            started = time.perf_counter()
            prediction = await run(model)
            seconds = time.perf_counter() - started
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            counts.errors += 1
            self._count("error")
            logger.debug("Shadow %s failed on request %s: %s", self.variant, request_id, exc)
            return
        counts.latency[bucket_of(seconds)] += 1
        counts.primary_latency[bucket_of(primary_seconds)] += 1
        try:
            rows, agreed = agreement(primary.predictions, prediction.predictions)
        except Exception:
            rows, agreed = 0, 0
        counts.rows += rows
        counts.agreed += agreed
        if self._metrics is not None:
            self._metrics.shadow_answer(self._experiment, self.variant, seconds, rows, agreed)
        try:
            self._on_answer(request_id, model, prediction, self.variant)
        except Exception:
            logger.debug("Could not log the shadow's answer to %s", request_id, exc_info=True)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.shadow_copy(self._experiment, self.variant, outcome)

    async def close(self) -> None:
        """Cancel the copies still in flight (a shadow never delays a shutdown)."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Shadow", "agreement"]
