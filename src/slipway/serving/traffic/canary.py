"""The canary's decisions: step up, hold, roll back or promote, from the current step's counts.

The canary starts at `start` percent. Each step lasts at least `every`; the counts of a step
(`step:<n>` windows, added up over every worker) decide:

- **roll back** (to 0 %, at once, whenever the step has at least `min_requests` canary
  requests) when the canary's server-error rate is above `max_error_rate`, or its p99
  latency above `max_p99_ms`; or, when the primary also served `min_requests` in the
  step, when the canary's error rate is above the primary's + `error_rate_margin`, or
  (both with at least 100 requests in the step: below that a p99 is the slowest request,
  mostly noise) its p99 above the primary's x (1 + `p99_margin`) + 1 ms (the millisecond
  keeps sub-millisecond noise from deciding); or, when both received `min_feedback`
  rewards through `/feedback`, when the canary's mean reward is below the primary's -
  `outcome_margin`;
- **step up** by `step` percent once `every` has passed and the step had `min_requests`
  canary requests (until then it holds: a quiet canary is never promoted on no evidence);
- at 100 % **promote**: `promote_alias` is pointed at the canary's version (without a
  `promote_alias` the canary simply stays at 100 %, `complete`).

A rolled-back canary stays at 0 % (also across restarts) until `POST /traffic
{"canary": "restart"}`. Server errors are 5xx answers (model failures, timeouts); 4xx are
the client's and count for nothing. `evaluate` is a pure function of the settings, the
state and the counts; the controller applies its decision and writes the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slipway.serving.traffic.config import CanarySettings
from slipway.serving.traffic.stats import Window

RUNNING = "running"
ROLLED_BACK = "rolled_back"
PROMOTED = "promoted"
COMPLETE = "complete"
P99_SLACK_MS = 1.0
P99_MIN_REQUESTS = 100  # fewer, and a p99 is just the slowest request


@dataclass
class Decision:
    action: str  # step | rollback | promote | complete
    percent: float  # the canary's share after the decision
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)


def initial_state(settings: CanarySettings, now: float) -> dict[str, Any]:
    return {
        "status": RUNNING,
        "percent": settings.start,
        "step": 1,
        "step_started": now,
    }


def evaluate(
    settings: CanarySettings, state: dict[str, Any], windows: dict[str, Window], now: float
) -> Decision | None:
    """What to do now, or None to keep going as is."""
    if state.get("status") != RUNNING:
        return None
    s = settings
    canary = windows.get(s.canary) or Window()
    primary = windows.get(s.primary) or Window()
    percent = float(state.get("percent", s.start))
    numbers = _numbers(canary, primary)
    problems = []
    if canary.requests >= s.min_requests:
        c_p99, p_p99 = canary.p(0.99) or 0.0, primary.p(0.99) or 0.0
        if canary.error_rate > s.max_error_rate:
            problems.append(
                f"error rate {canary.error_rate:.2%} above the limit {s.max_error_rate:.2%}"
            )
        if s.max_p99_ms is not None and c_p99 > s.max_p99_ms:
            problems.append(f"p99 {c_p99:.1f} ms above the limit {s.max_p99_ms:g} ms")
        if primary.requests >= s.min_requests:
            allowed = primary.error_rate + s.error_rate_margin
            if canary.error_rate > allowed:
                problems.append(
                    f"error rate {canary.error_rate:.2%} above the primary's "
                    f"{primary.error_rate:.2%} + {s.error_rate_margin:.2%}"
                )
            slowest = p_p99 * (1 + s.p99_margin) + P99_SLACK_MS
            enough = min(canary.requests, primary.requests) >= P99_MIN_REQUESTS
            if enough and c_p99 > slowest:
                problems.append(
                    f"p99 {c_p99:.1f} ms above the primary's {p_p99:.1f} ms x "
                    f"{1 + s.p99_margin:g} + {P99_SLACK_MS:g} ms"
                )
    if canary.reward_n >= s.min_feedback and primary.reward_n >= s.min_feedback:
        c_mean, p_mean = canary.mean_reward or 0.0, primary.mean_reward or 0.0
        if c_mean < p_mean - s.outcome_margin:
            problems.append(
                f"mean reward {c_mean:.4g} below the primary's {p_mean:.4g} - {s.outcome_margin:g}"
            )
    where = f"canary {s.canary} at {percent:g}%"
    if problems:
        said = f"{where} rolled back: {'; '.join(problems)} ({_said(numbers)})"
        return Decision("rollback", 0.0, said, numbers)
    if now - float(state.get("step_started", now)) < s.every or canary.requests < s.min_requests:
        return None
    target = min(100.0, percent + s.step)
    if target >= 100.0:
        action = "promote" if s.promote_alias else "complete"
        verb = f"promoted to @{s.promote_alias}" if s.promote_alias else "at 100%"
        return Decision(action, 100.0, f"{where} healthy, {verb} ({_said(numbers)})", numbers)
    return Decision(
        "step", target, f"{where} healthy, stepping to {target:g}% ({_said(numbers)})", numbers
    )


def _numbers(canary: Window, primary: Window) -> dict[str, Any]:
    return {"canary": canary.summary(), "primary": primary.summary()}


def _said(numbers: dict[str, Any]) -> str:
    parts = []
    for who in ("canary", "primary"):
        n = numbers[who]
        text = f"{who}: {n['requests']} requests, error rate {n['error_rate']:.2%}"
        if n["p99_ms"] is not None:
            text += f", p99 {n['p99_ms']:.1f} ms"
        if n["rewards"]:
            text += f", mean reward {n['mean_reward']:.4g} over {n['rewards']}"
        parts.append(text)
    return "; ".join(parts)


__all__ = [
    "COMPLETE",
    "PROMOTED",
    "ROLLED_BACK",
    "RUNNING",
    "Decision",
    "evaluate",
    "initial_state",
]
