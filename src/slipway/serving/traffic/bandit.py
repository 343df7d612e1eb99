"""Thompson sampling: the share of traffic each variant gets from its reward posterior.

Two reward models, chosen by `bandit: {reward: ...}`:

- `binary` - Beta-Bernoulli: each reward is a success (1) or a failure (0); fractional
  rewards in [0, 1] count as that share of a success. Prior Beta(1, 1), so the posterior
  after `s` successes in `n` rewards is Beta(1 + s, 1 + n - s).
- `gaussian` - Normal-Inverse-Gamma (unknown mean *and* variance), prior m0 = 0,
  kappa0 = 0.01, alpha0 = 1, beta0 = 1 (weak: after a handful of rewards the data
  dominate). After n rewards of mean xbar and squared deviations M2 the posterior is
  kappa = kappa0 + n, m = (kappa0 * m0 + n * xbar) / kappa, alpha = alpha0 + n / 2,
  beta = beta0 + M2 / 2 + kappa0 * n * (xbar - m0)**2 / (2 * kappa); a draw is
  var ~ InvGamma(alpha, beta), mean ~ N(m, var / kappa). Higher rewards are better.

Posteriors need only (n, sum of rewards, sum of squares) per variant, which add up across
workers, so every worker derives the same posterior from the shared counts. Rather than
drawing once per request, `allocation` draws `DRAWS` times from each posterior and gives
each variant the share of draws it wins (probability matching: what per-request Thompson
sampling does in expectation); the controller recomputes it at every sync (4 times a
second), so the request path only makes a weighted choice. Each variant keeps at least
`min_explore` of the traffic: share = min_explore + (1 - K * min_explore) * P(best).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

DRAWS = 4000
PRIOR_MEAN = 0.0
PRIOR_KAPPA = 0.01
PRIOR_ALPHA = 1.0
PRIOR_BETA = 1.0

Sums = tuple[int, float, float]  # (n, sum of rewards, sum of squared rewards)


def _beta_params(sums: Sums) -> tuple[float, float]:
    n, s, _ = sums
    successes = min(max(s, 0.0), float(n))
    return 1.0 + successes, 1.0 + n - successes


def _nig_params(sums: Sums) -> tuple[float, float, float, float]:
    n, s, ss = sums
    if n <= 0:
        return PRIOR_MEAN, PRIOR_KAPPA, PRIOR_ALPHA, PRIOR_BETA
    mean = s / n
    m2 = max(ss - s * s / n, 0.0)
    kappa = PRIOR_KAPPA + n
    mu = (PRIOR_KAPPA * PRIOR_MEAN + n * mean) / kappa
    alpha = PRIOR_ALPHA + n / 2.0
    beta = PRIOR_BETA + m2 / 2.0 + PRIOR_KAPPA * n * (mean - PRIOR_MEAN) ** 2 / (2.0 * kappa)
    return mu, kappa, alpha, beta


def draw(reward: str, sums: Sums, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` draws of a variant's mean reward from its posterior."""
    if reward == "binary":
        a, b = _beta_params(sums)
        return rng.beta(a, b, size)
    mu, kappa, alpha, beta = _nig_params(sums)
    variance = 1.0 / rng.gamma(alpha, 1.0 / beta, size)
    return rng.normal(mu, np.sqrt(variance / kappa))


def allocation(
    reward: str,
    sums: Mapping[str, Sums],
    min_explore: float,
    rng: np.random.Generator,
    draws: int = DRAWS,
) -> dict[str, float]:
    """Percent of traffic per variant (in `sums`' order), summing to 100."""
    names = list(sums)
    if not names:
        return {}
    if not any(sums[n][0] for n in names):  # no reward yet: no draw can tell them apart
        return {n: 100.0 / len(names) for n in names}
    samples = np.vstack([draw(reward, sums[n], draws, rng) for n in names])
    wins = np.bincount(np.argmax(samples, axis=0), minlength=len(names)) / draws
    rest = max(0.0, 1.0 - min_explore * len(names))
    return {n: 100.0 * (min_explore + rest * float(w)) for n, w in zip(names, wins, strict=True)}


def posterior(reward: str, sums: Sums) -> dict[str, Any]:
    """A variant's posterior, for people: its parameters and mean reward."""
    n = sums[0]
    if reward == "binary":
        a, b = _beta_params(sums)
        return {"rewards": n, "alpha": a, "beta": b, "mean": a / (a + b)}
    mu, kappa, alpha, beta = _nig_params(sums)
    # the mean's posterior is a Student t with 2 alpha degrees of freedom and this scale
    scale = math.sqrt(beta / (alpha * kappa))
    return {
        "rewards": n,
        "mean": mu,
        "mean_scale": scale,
        "kappa": kappa,
        "alpha": alpha,
        "beta": beta,
    }


def reward_value(reward: str, value: float) -> float | None:
    """A reward as the model takes it; None when it does not fit (binary outside [0, 1])."""
    if not math.isfinite(value):
        return None
    if reward == "binary" and not 0.0 <= value <= 1.0:
        return None
    return value


__all__ = ["DRAWS", "Sums", "allocation", "draw", "posterior", "reward_value"]
