"""Which variant answers a request: weighted random, or sticky by a key's hash.

A `Split` is immutable: the controller builds a new one whenever the weights change and
swaps it in with one assignment, so a request reads one consistent split without a lock.

Sticky keys (`ab: {key: user_id}`): blake2b of the key gives a point in [0, 1), mapped
onto the cumulative weights in the variants' file order. The same key therefore reaches
the same variant in every worker and after every restart, for as long as the weights stay
the same; moving weights moves only the keys whose point falls in the moved slice.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Mapping
from typing import Any

_SCALE = float(2**64)


def key_point(key: str) -> float:
    """A key's stable point in [0, 1)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


class Split:
    """Percent per variant, and the choice of a variant by them."""

    __slots__ = ("_bounds", "_names", "weights")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)
        total = sum(w for w in self.weights.values() if w > 0)
        names, bounds, acc = [], [], 0.0
        for name, weight in self.weights.items():
            if weight > 0:
                acc += weight / total
                names.append(name)
                bounds.append(acc)
        if bounds:
            bounds[-1] = 1.0  # no point may fall past the last variant through rounding
        self._names = names
        self._bounds = bounds

    def choose(self, key: str | None = None) -> str | None:
        """A variant: by the key's point when given, else at random; None if all are 0."""
        if not self._names:
            return None
        point = key_point(key) if key is not None else random.random()
        return self._names[bisect.bisect_right(self._bounds, point)]

    def percent(self) -> dict[str, float]:
        total = sum(w for w in self.weights.values() if w > 0) or 1.0
        return {n: round(100.0 * max(w, 0.0) / total, 4) for n, w in self.weights.items()}


def key_from_body(doc: Any, key: str) -> str | None:
    """The sticky key in a parsed JSON body: a top-level field, else OIP `parameters`."""
    if not isinstance(doc, dict):
        return None
    value = doc.get(key)
    if value is None and isinstance(doc.get("parameters"), dict):
        value = doc["parameters"].get(key)
    return key_text(value)


def key_text(value: Any) -> str | None:
    """A key value as text (strings and whole numbers; anything else is no key)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


__all__ = ["Split", "key_from_body", "key_point", "key_text"]
