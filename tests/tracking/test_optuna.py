"""Optuna studies tracked as a parent run with one nested run per trial."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import slipway
from slipway.cli.main import app

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    for step in range(3):
        trial.report((x - 1) ** 2 + step, step)
    if x > 3.0:  # a deterministic pruning rule, so the test sees both states
        raise optuna.TrialPruned()
    return (x - 1) ** 2 + (0.5 if kind == "b" else 0.0)


def _study_runs(client: slipway.Client, name: str) -> tuple[list, list]:
    experiment = client.get_experiment_by_name(name)
    runs = list(client.search_runs([experiment.experiment_id], max_results=1000))
    parents = [r for r in runs if r.data.tags.get("slipway.optuna.role") == "study"]
    trials = [r for r in runs if r.data.tags.get("slipway.optuna.role") == "trial"]
    return parents, trials


def test_trials_in_threads_are_nested_runs_of_the_study(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="threads", sampler=optuna.samplers.RandomSampler(seed=3))
    study.enqueue_trial({"x": 3.5, "kind": "a"})  # one pruned trial for sure
    study.optimize(
        objective, n_trials=8, n_jobs=2, callbacks=[slipway.optuna.Callback(tracking_uri=uri)]
    )

    client = slipway.Client(uri)
    [parent], trials = _study_runs(client, "threads")
    assert len(trials) == 8
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent.info.run_id}
    by_number = {int(t.data.tags["optuna.trial.number"]): t for t in trials}
    for frozen in study.trials:
        run = by_number[frozen.number]
        assert run.data.params["x"] == str(frozen.params["x"])
        assert run.data.tags["optuna.trial.state"] == frozen.state.name
        if frozen.state.name == "PRUNED":
            assert run.info.status == "KILLED"
            assert run.data.tags["slipway.optuna.pruned"] == "true"
        else:
            assert run.info.status == "FINISHED"
            assert run.data.metrics["value"] == pytest.approx(frozen.value)
        steps = client.get_metric_history(run.info.run_id, "intermediate_value")
        assert [m.step for m in steps] == [0, 1, 2]
    assert any(t.state.name == "PRUNED" for t in study.trials)
    assert parent.data.tags["optuna.best_trial.number"] == str(study.best_trial.number)
    assert float(parent.data.tags["optuna.best_value"]) == pytest.approx(study.best_value)
    assert parent.data.tags["optuna.best_params.kind"] == study.best_params["kind"]
    assert parent.info.status == "FINISHED"

    # `slipway runs compare <study run>` shows every trial side by side
    shown = CliRunner().invoke(
        app, ["runs", "compare", parent.info.run_id, "--json", "--tracking-uri", uri]
    )
    assert shown.exit_code == 0, shown.output
    compared = json.loads(shown.stdout)
    assert {r["run_id"] for r in compared["runs"]} == {t.info.run_id for t in trials}
    assert {p["key"] for p in compared["params"]} == {"x", "kind"}
    table = CliRunner().invoke(
        app, ["runs", "compare", parent.info.run_id[:8], "--tracking-uri", uri]
    )
    assert "8 runs" in table.stdout and "trial-7" in table.stdout  # a row per trial


WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    import slipway

    def objective(trial):
        x = trial.suggest_float("x", -4.0, 4.0)
        return (x - 1) ** 2

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, uri, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    study = optuna.create_study(
        study_name="procs", storage=storage, load_if_exists=True,
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.optimize(objective, n_trials=4, callbacks=[slipway.optuna.Callback(tracking_uri=uri)])
    """
)


def test_trials_in_several_processes_share_one_study_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="procs", storage=storage)
    root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, storage, uri, str(seed)],
            cwd=root,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    client = slipway.Client(uri)
    [parent], trials = _study_runs(client, "procs")
    assert len(trials) == 8
    assert {t.data.tags.get("mlflow.parentRunId") for t in trials} == {parent.info.run_id}
    numbers = sorted(int(t.data.tags["optuna.trial.number"]) for t in trials)
    assert numbers == list(range(8))
    study = optuna.load_study(study_name="procs", storage=storage)
    assert study.user_attrs["slipway_parent_run_id"] == parent.info.run_id
