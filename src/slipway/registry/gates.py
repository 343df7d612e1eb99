"""Quality gates for promotions: `accuracy>=0.85` and `champion:accuracy` conditions.

A requirement compares one metric of the candidate version's run with a number (>=, >,
<=, <, ==, !=). A must-beat condition (`champion:accuracy`) requires the candidate to be
strictly better than the version holding the alias: higher by default, lower with
`champion:loss:lower`. The store evaluates them inside the promotion's transaction (see
`GateCondition.evaluate`), so the champion cannot change between the check and the move.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from slipway.entities import GateCheck, GateCondition, PromotionResult
from slipway.errors import InvalidParameterValue
from slipway.store.interface import validate_alias

_REQUIREMENT_RE = re.compile(
    r"^\s*(?P<metric>[^<>=!]+?)\s*(?P<op>>=|<=|==|!=|>|<|=)\s*(?P<value>\S+)\s*$"
)
_LOWER = ("lower", "min", "minimize")
_HIGHER = ("higher", "max", "maximize")


def parse_requirement(text: str) -> GateCondition:
    """`"accuracy>=0.85"` → a threshold condition (a single `=` means `==`)."""
    match = _REQUIREMENT_RE.match(text or "")
    if match is None:
        raise InvalidParameterValue(
            f"Invalid requirement {text!r}: write <metric><op><number>, e.g. 'accuracy>=0.85' "
            "(op is one of >=, >, <=, <, ==, !=)."
        )
    try:
        threshold = float(match["value"])
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid requirement {text!r}: {match['value']!r} is not a number."
        ) from None
    if math.isnan(threshold):
        raise InvalidParameterValue(f"Invalid requirement {text!r}: the threshold is NaN.")
    op = "==" if match["op"] == "=" else match["op"]
    return GateCondition(metric=match["metric"], op=op, threshold=threshold)


def parse_must_beat(text: str) -> GateCondition:
    """`"champion:accuracy"` (higher wins) or `"champion:loss:lower"` → a must-beat condition."""
    parts = (text or "").split(":")
    direction = ">"
    if len(parts) >= 3 and parts[-1].strip().lower() in (*_LOWER, *_HIGHER):
        direction = "<" if parts.pop().strip().lower() in _LOWER else ">"
    if len(parts) < 2 or not parts[0].strip() or not ":".join(parts[1:]).strip():
        raise InvalidParameterValue(
            f"Invalid must-beat condition {text!r}: write <alias>:<metric>, e.g. "
            "'champion:accuracy', or '<alias>:<metric>:lower' for metrics where lower is "
            "better, e.g. 'champion:loss:lower'."
        )
    alias = validate_alias(parts[0].strip())
    return GateCondition(metric=":".join(parts[1:]).strip(), op=direction, alias=alias)


def parse_conditions(
    require: Iterable[str] = (), must_beat: Iterable[str] = ()
) -> list[GateCondition]:
    """All conditions of one promotion, requirements first."""
    return [*map(parse_requirement, require), *map(parse_must_beat, must_beat)]


def describe_check(check: GateCheck) -> str:
    """One line per check: `PASS accuracy>=0.85 — accuracy = 0.91, needs >= 0.85`."""
    return f"{'PASS' if check.passed else 'FAIL'} {check.condition} — {check.detail}"


def failure_message(result: PromotionResult) -> str:
    """The GateFailed message: every failed condition with the actual value."""
    target = ", ".join(
        t
        for t in (result.alias and f"@{result.alias}", result.stage and f"stage {result.stage}")
        if t
    )
    failed = result.failed_checks
    lines = [
        f"Promotion of '{result.name}' version {result.version} to {target} blocked: "
        f"{len(failed)} of {len(result.checks)} gate(s) failed; nothing was changed."
    ]
    lines += [f"  - {c.condition}: {c.detail}" for c in failed]
    return "\n".join(lines)


__all__ = [
    "describe_check",
    "failure_message",
    "parse_conditions",
    "parse_must_beat",
    "parse_requirement",
]
