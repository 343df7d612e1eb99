"""Which test a column gets by default: Evidently 0.7's DataDriftPreset rule, exactly.

`n_ref` is the reference's number of values after dropping missing ones and infinities;
`n_unique` counts distinct values of both sides together.

| column type                  | n_ref <= 1000                 | n_ref > 1000          |
|------------------------------|-------------------------------|-----------------------|
| numeric, > 5 unique          | ks (p <= 0.05)                | wasserstein (>= 0.1)  |
| numeric, 3-5 unique          | chisquare (p < 0.05)          | jensenshannon (>= 0.1)|
| numeric, <= 2 unique         | z (p < 0.05)                  | jensenshannon (>= 0.1)|
| categorical/boolean, > 2     | chisquare (p < 0.05)          | jensenshannon (>= 0.1)|
| categorical/boolean, <= 2    | z (p < 0.05)                  | jensenshannon (>= 0.1)|
| text                         | text_content (0.95)           | text_content (0.55)   |

Datetime columns get no drift test (as in the reference tool); their quality is checked.
"""

from __future__ import annotations

from slipway.monitoring.columns import BOOLEAN, CATEGORICAL, NUMERIC, TEXT

SMALL_REFERENCE = 1000
TEXT_THRESHOLD_SMALL = 0.95
TEXT_THRESHOLD_LARGE = 0.55


def default_test(column_type: str, n_ref: int, n_unique: int) -> str | None:
    """The default test's name for a column, or None when the type is not tested."""
    if column_type == TEXT:
        return "text_content"
    small = n_ref <= SMALL_REFERENCE
    if column_type == NUMERIC:
        if n_unique > 5:
            return "ks" if small else "wasserstein"
        if not small:
            return "jensenshannon"
        return "chisquare" if n_unique > 2 else "z"
    if column_type in (CATEGORICAL, BOOLEAN):
        if not small:
            return "jensenshannon"
        return "chisquare" if n_unique > 2 else "z"
    return None


def default_threshold(test: str, n_ref: int) -> float:
    """The default threshold of a test (the text test's depends on the reference size)."""
    from slipway.monitoring.drift import STAT_TESTS

    if test == "text_content":
        return TEXT_THRESHOLD_SMALL if n_ref <= SMALL_REFERENCE else TEXT_THRESHOLD_LARGE
    return STAT_TESTS[test].default_threshold


__all__ = [
    "SMALL_REFERENCE",
    "default_test",
    "default_threshold",
]
