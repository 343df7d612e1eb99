"""The same condition raises the same error class on every transport.

Over SQLite, PostgreSQL and a live server (REST): a missing thing is
`ResourceDoesNotExist`; a write to a deleted run or into a deleted experiment is
`InvalidParameterValue`, the code MLflow's server answers with (`INVALID_STATE` where
MLflow uses it: renaming a deleted experiment); a change to a deleted logged model, or
restoring a run of a deleted experiment, which MLflow does not refuse, is `InvalidState`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slipway.entities import Dataset, DatasetInput, Metric, Param, Tag
from slipway.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceDoesNotExist,
    SlipwayError,
)
from slipway.store.factory import open_registry_store, open_tracking_store
from slipway.store.interface import RegistryStore, TrackingStore

MISSING_RUN = "0" * 32
MISSING_EXPERIMENT = "987654"


@dataclass
class World:
    tracking: TrackingStore
    registry: RegistryStore
    run: str  # active
    deleted_run: str
    experiment: str  # active
    deleted_experiment: str
    run_in_deleted_experiment: str
    logged_model: str
    deleted_logged_model: str


@pytest.fixture
def world(tracking_uri: str, tmp_path: Path) -> Iterator[World]:
    tracking = open_tracking_store(tracking_uri, artifact_root=str(tmp_path / "artifacts"))
    registry = open_registry_store(tracking_uri, tracking_store=tracking)
    experiment = tracking.create_experiment("errors")
    deleted_experiment = tracking.create_experiment("errors-deleted")
    run = tracking.create_run(experiment, "u", 1).info.run_id
    deleted_run = tracking.create_run(experiment, "u", 1).info.run_id
    tracking.set_tag(deleted_run, "t", "v")
    tracking.delete_run(deleted_run)
    run_in_deleted = tracking.create_run(deleted_experiment, "u", 1).info.run_id
    tracking.set_experiment_tag(deleted_experiment, "t", "v")
    tracking.delete_experiment(deleted_experiment)
    logged = registry.create_logged_model(experiment, name="m").model_id
    deleted_logged = registry.create_logged_model(experiment, name="d").model_id
    registry.delete_logged_model(deleted_logged)
    registry.create_registered_model("churn")
    yield World(
        tracking,
        registry,
        run,
        deleted_run,
        experiment,
        deleted_experiment,
        run_in_deleted,
        logged,
        deleted_logged,
    )
    registry.close()
    tracking.close()


DATASET = [DatasetInput(Dataset("d", "digest"))]
Case = tuple[str, Callable[[World], Any], type[SlipwayError]]

CASES: list[Case] = [
    # --- a deleted run (it still exists) ------------------------------------------------
    (
        "log metric to deleted run",
        lambda w: w.tracking.log_metric(w.deleted_run, Metric("m", 1, 1, 0)),
        InvalidParameterValue,
    ),
    (
        "log param to deleted run",
        lambda w: w.tracking.log_param(w.deleted_run, "p", "1"),
        InvalidParameterValue,
    ),
    (
        "set tag on deleted run",
        lambda w: w.tracking.set_tag(w.deleted_run, "t", "x"),
        InvalidParameterValue,
    ),
    (
        "delete tag of deleted run",
        lambda w: w.tracking.delete_tag(w.deleted_run, "t"),
        InvalidParameterValue,
    ),
    (
        "log columns to deleted run",
        lambda w: w.tracking.log_metric_columns(w.deleted_run, ["m"], [1.0], [1], [0]),
        InvalidParameterValue,
    ),
    (
        "end deleted run",
        lambda w: w.tracking.update_run_info(w.deleted_run, "FINISHED", 2),
        InvalidParameterValue,
    ),
    (
        "log inputs to deleted run",
        lambda w: w.tracking.log_inputs(w.deleted_run, DATASET),
        InvalidParameterValue,
    ),
    (
        "log outputs of deleted run",
        lambda w: w.tracking.log_outputs(w.deleted_run, [{"model_id": w.logged_model, "step": 0}]),
        InvalidParameterValue,
    ),
    (
        "log to run of deleted experiment",
        lambda w: w.tracking.log_batch(w.run_in_deleted_experiment, params=[Param("p", "1")]),
        InvalidParameterValue,
    ),
    (
        "restore run of deleted experiment",
        lambda w: w.tracking.restore_run(w.run_in_deleted_experiment),
        InvalidState,
    ),
    # --- a missing run --------------------------------------------------------------------
    ("get missing run", lambda w: w.tracking.get_run(MISSING_RUN), ResourceDoesNotExist),
    (
        "log to missing run",
        lambda w: w.tracking.log_batch(MISSING_RUN, tags=[Tag("t", "v")]),
        ResourceDoesNotExist,
    ),
    (
        "log columns to missing run",
        lambda w: w.tracking.log_metric_columns(MISSING_RUN, ["m"], [1.0], [1], [0]),
        ResourceDoesNotExist,
    ),
    (
        "end missing run",
        lambda w: w.tracking.update_run_info(MISSING_RUN, "FINISHED", 2),
        ResourceDoesNotExist,
    ),
    ("delete missing run", lambda w: w.tracking.delete_run(MISSING_RUN), ResourceDoesNotExist),
    ("restore missing run", lambda w: w.tracking.restore_run(MISSING_RUN), ResourceDoesNotExist),
    (
        "delete tag of missing run",
        lambda w: w.tracking.delete_tag(MISSING_RUN, "t"),
        ResourceDoesNotExist,
    ),
    (
        "history of missing run",
        lambda w: w.tracking.get_metric_history(MISSING_RUN, "m"),
        ResourceDoesNotExist,
    ),
    (
        "inputs of missing run",
        lambda w: w.tracking.log_inputs(MISSING_RUN, DATASET),
        ResourceDoesNotExist,
    ),
    # --- a deleted experiment (it still exists) -------------------------------------------
    (
        "run into deleted experiment",
        lambda w: w.tracking.create_run(w.deleted_experiment, "u", 1),
        InvalidParameterValue,
    ),
    (
        "model into deleted experiment",
        lambda w: w.registry.create_logged_model(w.deleted_experiment),
        InvalidParameterValue,
    ),
    (
        "tag deleted experiment",
        lambda w: w.tracking.set_experiment_tag(w.deleted_experiment, "k", "v"),
        InvalidParameterValue,
    ),
    (
        "untag deleted experiment",
        lambda w: w.tracking.delete_experiment_tag(w.deleted_experiment, "t"),
        InvalidParameterValue,
    ),
    (
        "rename deleted experiment",
        lambda w: w.tracking.rename_experiment(w.deleted_experiment, "new"),
        InvalidState,
    ),
    # --- a missing experiment -------------------------------------------------------------
    (
        "get missing experiment",
        lambda w: w.tracking.get_experiment(MISSING_EXPERIMENT),
        ResourceDoesNotExist,
    ),
    (
        "run into missing experiment",
        lambda w: w.tracking.create_run(MISSING_EXPERIMENT, "u", 1),
        ResourceDoesNotExist,
    ),
    (
        "model into missing experiment",
        lambda w: w.registry.create_logged_model(MISSING_EXPERIMENT),
        ResourceDoesNotExist,
    ),
    (
        "tag missing experiment",
        lambda w: w.tracking.set_experiment_tag(MISSING_EXPERIMENT, "k", "v"),
        ResourceDoesNotExist,
    ),
    (
        "rename missing experiment",
        lambda w: w.tracking.rename_experiment(MISSING_EXPERIMENT, "x"),
        ResourceDoesNotExist,
    ),
    (
        "delete missing experiment",
        lambda w: w.tracking.delete_experiment(MISSING_EXPERIMENT),
        ResourceDoesNotExist,
    ),
    (
        "restore missing experiment",
        lambda w: w.tracking.restore_experiment(MISSING_EXPERIMENT),
        ResourceDoesNotExist,
    ),
    # --- logged models --------------------------------------------------------------------
    (
        "get missing logged model",
        lambda w: w.registry.get_logged_model("m-" + "0" * 32),
        ResourceDoesNotExist,
    ),
    (
        "tag missing logged model",
        lambda w: w.registry.set_logged_model_tags("m-" + "0" * 32, {"k": "v"}),
        ResourceDoesNotExist,
    ),
    (
        "get deleted logged model",
        lambda w: w.registry.get_logged_model(w.deleted_logged_model),
        ResourceDoesNotExist,
    ),
    (
        "tag deleted logged model",
        lambda w: w.registry.set_logged_model_tags(w.deleted_logged_model, {"k": "v"}),
        InvalidState,
    ),
    (
        "finalize deleted logged model",
        lambda w: w.registry.finalize_logged_model(w.deleted_logged_model, "READY"),
        InvalidState,
    ),
    (
        "params of deleted logged model",
        lambda w: w.registry.log_logged_model_params(w.deleted_logged_model, {"k": "v"}),
        InvalidState,
    ),
    # --- registered models ----------------------------------------------------------------
    ("get missing model", lambda w: w.registry.get_registered_model("ghost"), ResourceDoesNotExist),
    (
        "version of missing model",
        lambda w: w.registry.create_model_version("ghost", "/m"),
        ResourceDoesNotExist,
    ),
    (
        "tag missing model",
        lambda w: w.registry.set_registered_model_tag("ghost", "k", "v"),
        ResourceDoesNotExist,
    ),
    (
        "alias on missing model",
        lambda w: w.registry.set_registered_model_alias("ghost", "champion", 1),
        ResourceDoesNotExist,
    ),
    ("missing version", lambda w: w.registry.get_model_version("churn", 9), ResourceDoesNotExist),
    (
        "version from a source climbing out of its storage",
        lambda w: w.registry.create_model_version("churn", "s3://bucket/models/../../other"),
        InvalidParameterValue,
    ),
    (
        "event on missing model",
        lambda w: w.registry.append_audit_event("ghost", "deployed"),
        ResourceDoesNotExist,
    ),
]


def test_same_condition_same_class(world: World) -> None:
    """Every case of the table on one world per transport (a server start per case would
    cost more than all the cases together)."""
    wrong = []
    for what, action, expected in CASES:
        try:
            action(world)
        except SlipwayError as exc:
            if type(exc) is not expected:
                wrong.append(f"{what}: {type(exc).__name__} ({exc}), not {expected.__name__}")
        else:
            wrong.append(f"{what}: no error, not {expected.__name__}")
    assert wrong == []


def test_what_still_works_on_deleted_things(world: World) -> None:
    """Idempotent deletes and reads of deleted things are not errors."""
    world.tracking.delete_run(world.deleted_run)
    world.tracking.delete_experiment(world.deleted_experiment)
    world.registry.delete_logged_model(world.deleted_logged_model)
    assert world.tracking.get_run(world.deleted_run).info.lifecycle_stage == "deleted"
    assert world.tracking.get_experiment(world.deleted_experiment).lifecycle_stage == "deleted"
    got = world.registry.get_logged_model(world.deleted_logged_model, allow_deleted=True)
    assert got.model_id == world.deleted_logged_model
