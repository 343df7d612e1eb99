"""The background metric batcher: `log_metric` enqueues, a flusher writes in bulk.

`add()` costs one lock and one list append, so a training loop is never slowed by the
store. A daemon thread writes whatever has queued every `interval` seconds (or sooner,
when `max_pending` points wait), grouped by run, through the store's columnar bulk path.
`flush()` writes everything queued so far in the caller's thread and raises `FlushError`
if any point — now or in an earlier background write — could not be stored. Nothing is
acknowledged as stored before its transaction commits.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from slipway.errors import FlushError
from slipway.store.interface import TrackingStore

log = logging.getLogger(__name__)

Point = tuple[str, str, float, int, int]  # run_id, key, value, timestamp ms, step


class MetricBatcher:
    """Buffers metric points for one store and writes them in batches."""

    def __init__(
        self, store: TrackingStore, interval: float = 1.0, max_pending: int = 200_000
    ) -> None:
        self._store = store
        self._interval = interval
        self._max_pending = max_pending
        self._pending: list[Point] = []
        self._lock = threading.Lock()  # guards _pending and _errors
        self._write_lock = threading.Lock()  # one writer at a time
        self._errors: list[tuple[int, BaseException]] = []
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="slipway-metric-flusher", daemon=True
        )
        self._thread.start()

    def add(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        """Queue one point; returns at once."""
        with self._lock:
            self._pending.append((run_id, key, value, timestamp, step))
            if len(self._pending) >= self._max_pending:
                self._wake.set()

    def pending(self) -> int:
        return len(self._pending)

    def take(self, run_id: str) -> list[Point]:
        """Remove and return the queued points of `run_id` (the caller now owns them).

        A run's end sends its last points with the end itself; points of the run that a
        background write already took are written (or reported) by that write.
        """
        with self._lock:
            mine = [p for p in self._pending if p[0] == run_id]
            if mine:
                self._pending = [p for p in self._pending if p[0] != run_id]
        return mine

    def flush(self) -> None:
        """Write every queued point now; raise `FlushError` if any write failed."""
        self._write_pending()
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            lost = sum(n for n, _ in errors)
            first = errors[0][1]
            raise FlushError(
                f"{lost} metric point(s) could not be stored: {first}. "
                "They were not written; check the tracking store and log them again.",
                lost=lost,
            ) from first

    def close(self) -> None:
        """Flush and stop the background thread."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return
            self._write_pending()

    def _write_pending(self) -> None:
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            by_run: dict[str, list[Point]] = defaultdict(list)
            for point in batch:
                by_run[point[0]].append(point)
            for run_id, points in by_run.items():
                _, keys, values, timestamps, steps = zip(*points, strict=True)
                try:
                    self._store.log_metric_columns(run_id, keys, values, timestamps, steps)
                except Exception as exc:  # any failure must surface at flush()
                    log.warning("could not store %d metric point(s): %s", len(points), exc)
                    with self._lock:
                        self._errors.append((len(points), exc))


__all__ = [
    "MetricBatcher",
    "Point",
]
