"""What one worker counts per variant, in a form every worker's counts add up from.

A `Window` holds one variant's requests, server errors (5xx), a latency histogram and the
sums of the rewards it received, for one *scope*: `total` (since the experiment's state
began) or `step:<n>` (the current canary step). Workers write their windows to the shared
state folder (`state.py`) as plain JSON; any worker adds them up (`merge`) to decide or to
report. Counting happens on the event loop and costs a few list and int updates.

Latency buckets are log-spaced, 10% apart, from 20 µs to 10 minutes, so a percentile read
from merged histograms is within 10% of the exact one, whatever the number of workers.
`ShadowCounts` are the same idea for the shadow variant: copies sent, shed, failed, and
rows compared and agreeing.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

_RATIO = 1.1
_FIRST = 20e-6
BOUNDS: tuple[float, ...] = tuple(
    _FIRST * _RATIO**i for i in range(int(math.log(600 / _FIRST, _RATIO)) + 2)
)
BUCKETS = len(BOUNDS) + 1  # the last one holds anything slower than the last bound


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a latency."""
    return bisect.bisect_left(BOUNDS, seconds)


def percentile(histogram: list[int], q: float) -> float | None:
    """The `q` quantile (0-1) of a histogram, in seconds (the bucket's upper bound)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return BOUNDS[min(i, len(BOUNDS) - 1)]
    return BOUNDS[-1]


def _sparse(histogram: list[int]) -> dict[str, int]:
    return {str(i): c for i, c in enumerate(histogram) if c}


def _dense(sparse: dict[str, int] | None) -> list[int]:
    out = [0] * BUCKETS
    for i, c in (sparse or {}).items():
        index = int(i)
        if 0 <= index < BUCKETS:
            out[index] += int(c)
    return out


@dataclass
class Window:
    """One variant's counts in one scope."""

    requests: int = 0
    errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    reward_n: int = 0
    reward_sum: float = 0.0
    reward_sq: float = 0.0

    def count(self, failed: bool, seconds: float) -> None:
        self.requests += 1
        if failed:
            self.errors += 1
        self.latency[bisect.bisect_left(BOUNDS, seconds)] += 1

    def reward(self, value: float) -> None:
        self.reward_n += 1
        self.reward_sum += value
        self.reward_sq += value * value

    # ------------------------------------------------------------------ reading
    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def p(self, q: float) -> float | None:
        """Latency quantile in milliseconds."""
        value = percentile(self.latency, q)
        return None if value is None else value * 1000.0

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.reward_n if self.reward_n else None

    def add(self, other: Window) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.reward_n += other.reward_n
        self.reward_sum += other.reward_sum
        self.reward_sq += other.reward_sq

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency": _sparse(list(self.latency)),
            "rewards": [self.reward_n, self.reward_sum, self.reward_sq],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Window:
        n, s, ss = (doc.get("rewards") or [0, 0.0, 0.0])[:3]
        return cls(
            int(doc.get("requests", 0)),
            int(doc.get("errors", 0)),
            _dense(doc.get("latency")),
            int(n),
            float(s),
            float(ss),
        )

    def summary(self) -> dict[str, Any]:
        """The numbers people read (status, audit reasons)."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "p50_ms": _round(self.p(0.5)),
            "p99_ms": _round(self.p(0.99)),
            "rewards": self.reward_n,
            "mean_reward": _round(self.mean_reward, 6),
        }


@dataclass
class ShadowCounts:
    """The shadow variant's copies: sent, shed (queue full), failed; rows that agreed."""

    sent: int = 0
    dropped: int = 0
    errors: int = 0
    rows: int = 0
    agreed: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)  # the shadow's own
    primary_latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)  # same requests

    def add(self, other: ShadowCounts) -> None:
        self.sent += other.sent
        self.dropped += other.dropped
        self.errors += other.errors
        self.rows += other.rows
        self.agreed += other.agreed
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.primary_latency = [
            a + b for a, b in zip(self.primary_latency, other.primary_latency, strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "errors": self.errors,
            "rows": self.rows,
            "agreed": self.agreed,
            "latency": _sparse(list(self.latency)),
            "primary_latency": _sparse(list(self.primary_latency)),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ShadowCounts:
        return cls(
            int(doc.get("sent", 0)),
            int(doc.get("dropped", 0)),
            int(doc.get("errors", 0)),
            int(doc.get("rows", 0)),
            int(doc.get("agreed", 0)),
            _dense(doc.get("latency")),
            _dense(doc.get("primary_latency")),
        )

    def summary(self) -> dict[str, Any]:
        def ms(hist: list[int], q: float) -> float | None:
            value = percentile(hist, q)
            return None if value is None else _round(value * 1000.0)

        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "errors": self.errors,
            "compared_rows": self.rows,
            "agreement": _round(self.agreed / self.rows, 6) if self.rows else None,
            "shadow_p50_ms": ms(self.latency, 0.5),
            "shadow_p99_ms": ms(self.latency, 0.99),
            "primary_p50_ms": ms(self.primary_latency, 0.5),
            "primary_p99_ms": ms(self.primary_latency, 0.99),
        }


Scopes = dict[str, dict[str, Window]]  # scope -> variant -> window


def merge(docs: list[dict[str, Any]]) -> tuple[Scopes, ShadowCounts]:
    """Add up the `scopes` and `shadow` parts of several workers' documents."""
    scopes: Scopes = {}
    shadow = ShadowCounts()
    for doc in docs:
        for scope, variants in (doc.get("scopes") or {}).items():
            into = scopes.setdefault(scope, {})
            for name, window in variants.items():
                into.setdefault(name, Window()).add(Window.from_json(window))
        if doc.get("shadow"):
            shadow.add(ShadowCounts.from_json(doc["shadow"]))
    return scopes, shadow


def scopes_json(scopes: Scopes) -> dict[str, Any]:
    return {s: {n: w.to_json() for n, w in v.items()} for s, v in scopes.items()}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


__all__ = [
    "BOUNDS",
    "BUCKETS",
    "Scopes",
    "ShadowCounts",
    "Window",
    "bucket_of",
    "merge",
    "percentile",
    "scopes_json",
]
