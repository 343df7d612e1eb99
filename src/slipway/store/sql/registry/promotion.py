"""Gated promotion in SQL: check a version's metrics against conditions and, if every
check passes, set the alias and/or stage, all in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from slipway.entities import AuditAction, GateCondition, PromotionResult
from slipway.store.sql.registry.aliases import move_to_stage, point_alias
from slipway.store.sql.registry.audit import Change, record
from slipway.store.sql.registry.lookups import alias_version, model_row, version_row
from slipway.store.sql.registry.versions import gate_metrics


def promote(
    conn: Connection,
    name: str,
    version: int,
    conditions: Sequence[GateCondition],
    alias: str | None,
    stage: str | None,
    archive_existing: bool,
    dry_run: bool,
    actor: str,
    reason: str | None,
) -> PromotionResult:
    """Evaluate `conditions`; record the outcome and, if all pass, apply the promotion.

    A dry run only evaluates (it writes nothing); a failure records a `gate_failed` event
    and changes nothing else.
    """
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    candidate = gate_metrics(conn, row)
    holders = _alias_holders(conn, model, conditions)
    checks = [c.evaluate(version, candidate, holders.get(c.alias or "")) for c in conditions]
    passed = all(c.passed for c in checks)
    result = PromotionResult(
        name=name,
        version=version,
        alias=alias,
        stage=stage,
        passed=passed,
        applied=False,
        dry_run=dry_run,
        checks=checks,
        previous_alias_version=None if alias is None else alias_version(conn, model, alias),
        previous_stage=row.current_stage,
    )
    if dry_run:
        return result
    summary = (
        "; ".join(f"{c.condition}: {'pass' if c.passed else 'FAIL'} ({c.detail})" for c in checks)
        or "no conditions"
    )
    target = ", ".join(t for t in (alias and f"@{alias}", stage and f"stage {stage}") if t)
    action = AuditAction.GATE_PASSED if passed else AuditAction.GATE_FAILED
    change = Change(action, actor, field=target, version=version, reason=reason)
    record(conn, model, change, new=summary)
    if not passed:
        return result
    if alias is not None:
        point_alias(conn, model, alias, version, actor, reason)
    if stage is not None:
        move_to_stage(conn, model, version, stage, archive_existing, actor, reason)
    result.applied = True
    return result


def _alias_holders(
    conn: Connection, model: Any, conditions: Sequence[GateCondition]
) -> dict[str, tuple[int, dict[str, float]] | None]:
    """For each alias a condition compares with: (the version it holds, its metrics)."""
    holders: dict[str, tuple[int, dict[str, float]] | None] = {}
    for cond in conditions:
        if cond.alias is None or cond.alias in holders:
            continue
        held = alias_version(conn, model, cond.alias)
        holders[cond.alias] = (
            None if held is None else (held, gate_metrics(conn, version_row(conn, model, held)))
        )
    return holders


__all__ = ["promote"]
