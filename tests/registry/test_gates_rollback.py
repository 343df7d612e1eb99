"""Gated promotion and alias rollback, over every transport: what changes and what does not."""

from __future__ import annotations

import pytest

from slipway import Client
from slipway.errors import GateFailed, InvalidParameterValue, InvalidState
from slipway.registry.gates import parse_must_beat, parse_requirement


def snapshot(client: Client, name: str) -> tuple:
    """Everything a promotion could change, plus the audit trail's length."""
    model = client.get_registered_model(name)
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")}
    return model.aliases, stages, len(client.get_model_history(name))


def test_parse_conditions() -> None:
    assert parse_requirement("accuracy>=0.85").text == "accuracy>=0.85"
    cond = parse_requirement(" val loss < 1e-3 ")
    assert (cond.metric, cond.op, cond.threshold) == ("val loss", "<", 0.001)
    assert parse_requirement("f1=0.5").op == "=="
    beat = parse_must_beat("champion:loss:lower")
    assert (beat.alias, beat.metric, beat.op) == ("champion", "loss", "<")
    assert parse_must_beat("champion:accuracy").op == ">"
    for bad in ("accuracy", "accuracy>=high", ">=0.8", "accuracy>=nan"):
        with pytest.raises(InvalidParameterValue, match="Invalid requirement"):
            parse_requirement(bad)
    for bad in ("champion", ":acc", "champion:"):
        with pytest.raises(InvalidParameterValue, match="must-beat"):
            parse_must_beat(bad)


def test_passing_promotion_sets_alias_and_stage(client: Client, make_run, register) -> None:
    register(client, "churn", {"accuracy": 0.86, "f1": 0.80})
    register(client, "churn", {"accuracy": 0.91, "f1": 0.84})
    client.set_registered_model_alias("churn", "champion", 1)

    result = client.promote(
        "churn",
        2,
        alias="champion",
        stage="Production",
        require=["accuracy>=0.85", "f1>=0.80"],
        must_beat=["champion:accuracy"],
        reason="weekly retrain",
    )
    assert result.passed and result.applied
    assert [c.actual for c in result.checks] == [0.91, 0.84, 0.91]
    assert result.checks[2].expected == 0.86
    assert result.previous_alias_version == 1
    assert client.get_model_version_by_alias("churn", "champion").version == 2
    assert client.get_model_version("churn", 2).current_stage == "Production"
    tail = client.get_model_history("churn")[-3:]
    assert [e.action for e in tail] == ["gate_passed", "alias_set", "stage_transition"]
    assert {e.reason for e in tail} == {"weekly retrain"}
    assert "accuracy>=0.85: pass" in tail[0].new_value


def test_failing_promotion_changes_nothing_but_records_it(
    client: Client, make_run, register
) -> None:
    register(client, "churn", {"accuracy": 0.90})
    register(client, "churn", {"accuracy": 0.83, "loss": 0.5})
    client.set_registered_model_alias("churn", "champion", 1)
    before = snapshot(client, "churn")

    with pytest.raises(GateFailed) as info:
        client.promote(
            "churn",
            2,
            alias="champion",
            stage="Production",
            require=["accuracy>=0.85", "f1>=0.8", "loss<=1"],
            must_beat=["champion:accuracy"],
        )
    message = str(info.value)
    assert "3 of 4 gate(s) failed" in message
    assert "accuracy = 0.83, needs >= 0.85" in message
    assert "f1 = not logged" in message
    assert "must be higher than @champion (version 1) = 0.9" in message
    assert "loss" not in message  # it passed
    assert [c.passed for c in info.value.result.checks] == [False, False, True, False]

    aliases, stages, n_events = snapshot(client, "churn")
    assert (aliases, stages) == before[:2]
    assert n_events == before[2] + 1
    event = client.get_model_history("churn")[-1]
    assert (event.action, event.version) == ("gate_failed", 2)


def test_dry_run_writes_nothing(client: Client, make_run, register) -> None:
    register(client, "churn", {"accuracy": 0.70})
    before = snapshot(client, "churn")
    failing = client.promote("churn", 1, alias="champion", require=["accuracy>0.8"], dry_run=True)
    passing = client.promote("churn", 1, alias="champion", require=["accuracy>0.5"], dry_run=True)
    assert (failing.passed, failing.applied, failing.dry_run) == (False, False, True)
    assert (passing.passed, passing.applied) == (True, False)
    assert snapshot(client, "churn") == before


def test_must_beat_lower_is_better_and_missing_holder(client: Client, make_run, register) -> None:
    register(client, "churn", {"loss": 0.30})
    register(client, "churn", {"loss": 0.25})
    # Nobody holds @champion yet: nothing to beat.
    first = client.promote("churn", 1, alias="champion", must_beat=["champion:loss:lower"])
    assert first.applied and "nothing to beat" in first.checks[0].detail
    second = client.promote("churn", 2, alias="champion", must_beat=["champion:loss:lower"])
    assert second.applied
    with pytest.raises(GateFailed, match="must be lower than @champion"):
        client.promote("churn", 1, alias="champion", must_beat=["champion:loss:lower"])


def test_promotion_needs_a_target(client: Client, make_run, register) -> None:
    register(client, "churn", {"accuracy": 0.9})
    with pytest.raises(InvalidParameterValue, match="needs a target"):
        client.promote("churn", 1, require=["accuracy>0.5"])
    with pytest.raises(InvalidParameterValue):
        client.promote("churn", 1, alias="v2")


def test_rollback_walks_back_through_the_alias_history(client: Client, make_run, register) -> None:
    for _ in range(3):
        register(client, "churn")
    for version in (1, 2, 3):
        client.set_registered_model_alias("churn", "champion", version)
    assert client.rollback_alias("churn", "champion").version == 2
    assert client.rollback_alias("churn", "champion", reason="v2 broke").version == 1
    with pytest.raises(InvalidState, match="no earlier version"):
        client.rollback_alias("churn", "champion")
    assert client.get_model_version_by_alias("churn", "champion").version == 1

    events = [e for e in client.get_model_history("churn") if e.action == "alias_rollback"]
    assert [(e.old_value, e.new_value, e.reason) for e in events] == [
        ("3", "2", "rollback from version 3"),
        ("2", "1", "v2 broke"),
    ]
    with pytest.raises(InvalidState, match="not set"):
        client.rollback_alias("churn", "challenger")


def test_rollback_skips_deleted_versions(client: Client, make_run, register) -> None:
    for _ in range(3):
        register(client, "churn")
    for version in (1, 2, 3):
        client.set_registered_model_alias("churn", "champion", version)
    client.delete_model_version("churn", 2)
    assert client.rollback_alias("churn", "champion").version == 1
