"""Which variant answered a request, so that a later reward reaches the right posterior.

`RequestMemory` keeps the last `capacity` routed requests of this worker: request id ->
(variant, its predictions when the request had at most `KEPT_ROWS` rows). A feedback
record names a request id; its reward is the record's `reward`, else, when a `label` came
and the predictions were kept, the share of the request's rows predicted right (so a
classifier's accuracy needs no reward computed by the client).

With several workers, a request may have been answered by another worker than the one the
feedback reaches. Records this worker cannot place wait in `Handover` and are published in
its state document; the worker that answered the request claims them at its next sync and
credits the reward (its claim is published in turn, and the waiting record dropped). A
record nobody claims within `PENDING_TTL_S` (the request is older than every worker's
memory, or was answered before a restart) is dropped and counted as unplaced: its label is
in the prediction log regardless, which records the variant of every logged prediction,
so offline analysis (`slipway.serving.export`) still sees it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

KEPT_ROWS = 8
DEFAULT_CAPACITY = 100_000
PENDING_TTL_S = 30.0
MAX_PENDING = 10_000
CLAIM_TTL_S = 120.0


@dataclass(frozen=True, slots=True)
class Served:
    variant: str
    predictions: tuple[Any, ...] | None


def kept_predictions(predictions: Any) -> tuple[Any, ...] | None:
    """A request's predictions as a small tuple, when it is 1-D and short."""
    if isinstance(predictions, np.ndarray):
        if predictions.ndim == 1 and len(predictions) <= KEPT_ROWS:
            return tuple(predictions.tolist())
        return None
    if (
        isinstance(predictions, list)
        and len(predictions) <= KEPT_ROWS
        and all(not isinstance(p, (list, dict)) for p in predictions)
    ):
        return tuple(predictions)
    return None


class RequestMemory:
    """The last `capacity` routed requests: id -> `Served` (oldest forgotten first)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._served: OrderedDict[str, Served] = OrderedDict()

    def remember(self, request_id: str, variant: str, predictions: Any) -> None:
        served = self._served
        served[request_id] = Served(variant, kept_predictions(predictions))
        if len(served) > self.capacity:
            served.popitem(last=False)

    def get(self, request_id: str) -> Served | None:
        return self._served.get(request_id)

    def __len__(self) -> int:
        return len(self._served)


def reward_of(record: dict[str, Any], served: Served) -> float | None:
    """The reward a feedback record gives the request's variant (None: it gives none)."""
    reward = record.get("reward")
    if reward is not None:
        try:
            return float(reward)
        except (TypeError, ValueError):
            return None
    if "label" not in record or record["label"] is None or not served.predictions:
        return None
    label = record["label"]
    right = sum(1 for p in served.predictions if p == label or str(p) == str(label))
    return right / len(served.predictions)


class Handover:
    """Feedback waiting for the worker that answered the request, and what this one claimed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._claimed: dict[str, float] = {}
        self.unplaced = 0

    def wait(self, request_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._pending[request_id] = (record, time.time())
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
                self.unplaced += 1

    def published(self) -> tuple[list[list[Any]], list[str]]:
        """(waiting records as [id, record, since], ids claimed lately) for the state file."""
        now = time.time()
        with self._lock:
            expired = [r for r, (_, since) in self._pending.items() if now - since > PENDING_TTL_S]
            for rid in expired:
                del self._pending[rid]
            self.unplaced += len(expired)
            for rid in [r for r, at in self._claimed.items() if now - at > CLAIM_TTL_S]:
                del self._claimed[rid]
            waiting = [[rid, record, since] for rid, (record, since) in self._pending.items()]
            return waiting, list(self._claimed)

    def claim(self, request_id: str) -> bool:
        """Whether this worker may credit another's waiting record (once per id)."""
        with self._lock:
            if request_id in self._claimed:
                return False
            self._claimed[request_id] = time.time()
            return True

    def settled(self, request_ids: set[str]) -> None:
        """Another worker claimed these: stop waiting for them."""
        with self._lock:
            for rid in request_ids:
                self._pending.pop(rid, None)

    @property
    def waiting(self) -> int:
        return len(self._pending)


__all__ = [
    "DEFAULT_CAPACITY",
    "Handover",
    "RequestMemory",
    "Served",
    "kept_predictions",
    "reward_of",
]
