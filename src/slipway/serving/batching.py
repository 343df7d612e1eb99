"""Adaptive batching: concurrent requests for one model become one model call.

A `Batcher` belongs to one loaded model version and owns nothing but a queue and the task
that empties it. Requests are `submit`ted from the event loop; the dispatcher takes every
queued request with the same key (same params, same outputs wanted) up to `max_batch_size`
rows and hands them to the model's own thread, where the handler

1. `prepare`s each request alone (reads and checks its rows against the signature), so a
   malformed request fails by itself and never joins the batch;
2. `run`s all prepared requests as one call (the handler merges and splits the rows).

If that merged call raises, each request is run again alone, so only the culprit fails.

When to wait for more requests: while the model is busy, requests simply queue and the
next call takes them all (that is where most batching comes from). When the model is idle,
the dispatcher waits, at most `max_wait_s`, only when the previous call served more
requests than are queued now, i.e. when other callers are probably a few hundred
microseconds away (their previous answers just went out); it stops waiting as soon as that
many are queued or the batch is full. So a lone caller never waits, except for the first
request after a burst (once, at most `max_wait_s`). A request larger than
`max_batch_size` runs alone.

A `patient` batcher (for work nobody waits for) always waits up to `max_wait_s` for a full
batch, trading its latency for fewer, larger model calls. (The shadow variant batches its
copies itself, see `traffic/shadow.py`, with the batcher's `run_now`.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol


class BatchHandler(Protocol):
    """What the batcher calls, in the model's thread."""

    def prepare(self, item: Any) -> Any:
        """Read and check one request's input; raise to fail that request alone."""

    def run(self, prepared: list[Any], key: Hashable) -> list[Any]:
        """Run the model once on all prepared inputs; one result per input, in order."""


@dataclass(slots=True)
class _Waiting:
    item: Any
    rows: int
    key: Hashable
    future: asyncio.Future[Any]


class Batcher:
    """Queue of one model's requests, served by one call per batch in the model's thread."""

    def __init__(
        self,
        handler: BatchHandler,
        executor: Executor,
        *,
        max_batch_size: int = 64,
        max_wait_s: float = 0.002,
        enabled: bool = True,
        patient: bool = False,
    ) -> None:
        self.handler = handler
        self.executor = executor
        self.enabled = enabled
        self.max_batch_size = max_batch_size if enabled else 1
        self.max_wait_s = max_wait_s if enabled else 0.0
        self._queue: deque[_Waiting] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._expected = 1  # requests in the previous call: how many callers seem active
        self.patient = patient and enabled

    async def submit(
        self, item: Any, rows: int, key: Hashable = None, timeout: float | None = None
    ) -> Any:
        """Queue one request of `rows` rows; returns its own result (or raises its error).

        Past `timeout` seconds the caller gets TimeoutError and its request is dropped from
        the queue (a call already running finishes in the model's thread regardless).
        """
        if self._closing:
            raise RuntimeError("this model version is no longer served")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Waiting(item, rows, key, future))
        if self._task is None:
            self._arrived = asyncio.Event()
            self._task = loop.create_task(self._dispatch())
        assert self._arrived is not None
        self._arrived.set()
        if timeout is None:
            return await future
        timer = loop.call_later(timeout, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    async def close(self) -> None:
        """Serve what is queued, then stop the dispatcher."""
        self._closing = True
        if self._task is None:
            return
        assert self._arrived is not None
        self._arrived.set()
        await self._task

    # ------------------------------------------------------------------ dispatcher
    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        arrived = self._arrived
        assert arrived is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                arrived.clear()
                await arrived.wait()
                continue
            batch, rows = self._take([], 0, None)
            if not batch:
                continue
            if self.enabled and self._wants_more(batch, rows):
                rows = await self._top_up(batch, rows)
            try:
                outcomes = await loop.run_in_executor(
                    self.executor, self.run_now, [w.item for w in batch], batch[0].key
                )
            except asyncio.CancelledError:
                for waiting in (*batch, *self._queue):
                    waiting.future.cancel()
                raise
            except Exception as exc:  # the executor is gone: fail the batch, keep going
                outcomes = [(False, exc)] * len(batch)
            for waiting, (ok, value) in zip(batch, outcomes, strict=True):
                if waiting.future.done():  # the caller gave up (timeout, disconnect)
                    continue
                if ok:
                    waiting.future.set_result(value)
                else:
                    waiting.future.set_exception(value)
            self._expected = len(batch)

    def _take(self, batch: list[_Waiting], rows: int, key: Hashable) -> tuple[list[_Waiting], int]:
        """Move queued requests with the batch's key into `batch` while they fit."""
        keep: deque[_Waiting] = deque()
        queue = self._queue
        while queue:
            waiting = queue.popleft()
            if waiting.future.done():
                continue
            if not batch:
                batch.append(waiting)
                rows, key = waiting.rows, waiting.key
                if not self.enabled:
                    break
                continue
            if waiting.key == key and rows + waiting.rows <= self.max_batch_size:
                batch.append(waiting)
                rows += waiting.rows
                if rows >= self.max_batch_size:
                    break
            else:
                keep.append(waiting)
        if keep:
            keep.extend(queue)
            self._queue = keep
        return batch, rows

    def _wants_more(self, batch: list[_Waiting], rows: int) -> bool:
        if rows >= self.max_batch_size:
            return False
        return self.patient or len(batch) < self._expected

    async def _top_up(self, batch: list[_Waiting], rows: int) -> int:
        """Wait up to `max_wait_s` for the callers the previous call suggests are coming."""
        loop = asyncio.get_running_loop()
        arrived = self._arrived
        assert arrived is not None
        deadline = loop.time() + self.max_wait_s
        key = batch[0].key
        while self._wants_more(batch, rows):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if not self._queue:
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), remaining)
                except TimeoutError:
                    break
            before = len(batch)
            batch, rows = self._take(batch, rows, key)
            if len(batch) == before and self._queue:
                break  # what is queued does not fit this batch
        return rows

    # ------------------------------------------------------------------ model thread
    def run_now(self, items: list[Any], key: Hashable) -> list[tuple[bool, Any]]:
        """Prepare each request, run them as one call, fall back to one call each on error;
        (ok, result or error) per item. In the model's thread (the dispatcher's, or a
        caller that batches on its own, like the shadow)."""
        outcomes: list[tuple[bool, Any]] = [(False, None)] * len(items)
        prepared: list[Any] = []
        where: list[int] = []
        for i, item in enumerate(items):
            try:
                prepared.append(self.handler.prepare(item))
                where.append(i)
            except Exception as exc:
                outcomes[i] = (False, exc)
        if not prepared:
            return outcomes
        try:
            results = self.handler.run(prepared, key)
            for i, result in zip(where, results, strict=True):
                outcomes[i] = (True, result)
        except Exception as exc:
            if len(prepared) == 1:
                outcomes[where[0]] = (False, exc)
                return outcomes
            for i, one in zip(where, prepared, strict=True):
                try:
                    outcomes[i] = (True, self.handler.run([one], key)[0])
                except Exception as single_exc:
                    outcomes[i] = (False, single_exc)
        return outcomes


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


__all__ = ["BatchHandler", "Batcher"]
