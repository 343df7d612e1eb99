"""A seeded synthetic churn dataset: customers, their usage, and whether they left."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "usage_gb", "contract_months"]


def make_churn(
    n_rows: int = 5000, seed: int = 7, drift: float = 0.0, concept: float = 0.0
) -> pd.DataFrame:
    """Customers with five numeric features and a `churned` label (about 25% positive).

    `drift` (0 to 1) shifts the population the way a price rise would: higher charges,
    more support calls, newer customers, less usage; 0 is the training population.
    `concept` (0 to 1) changes why customers leave: support calls and charges weigh more,
    tenure less, so a model trained before the change gets worse.
    """
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be between 0 and 1, got {drift}")
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72 - int(48 * drift), n_rows)
    charges = rng.normal(70 + 35 * drift, 20, n_rows).clip(15, 150)
    calls = rng.poisson(1.5 + 2.0 * drift, n_rows)
    usage = rng.gamma(2.0, 20.0 * (1 - 0.5 * drift), n_rows)
    contract = rng.choice([1, 12, 24], n_rows, p=[0.5, 0.3, 0.2])
    logit = -1.2 - 0.04 * tenure + 0.02 * charges + 0.45 * calls - 0.01 * usage - 0.05 * contract
    logit += concept * (0.04 * tenure + 0.03 * (charges - 90) + 0.6 * (calls - 3))
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges.round(2),
            "support_calls": calls,
            "usage_gb": usage.round(1),
            "contract_months": contract,
            "churned": churned.astype(int),
        }
    )


__all__ = [
    "FEATURES",
    "make_churn",
]
