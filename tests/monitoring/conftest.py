"""Small generated data sets for the monitoring tests (seeded, a few thousand rows at most)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.fixture
def frames(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames of 3,000 rows: `shifted` and `plan` drift, the rest not."""
    n = 3000
    ref = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, n),
            "shifted": rng.normal(0, 1, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]),
            "flag": rng.choice([True, False], n),
        }
    )
    cur = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, n),
            "shifted": rng.normal(0.8, 1, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.2, 0.3, 0.5]),
            "flag": rng.choice([True, False], n),
        }
    )
    return ref, cur


from loop_support import loop  # noqa: E402, F401 (the closed-loop fixture, see loop_support)
