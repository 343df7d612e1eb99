"""Optuna studies as runs: each trial a child run, the study their parent with the best.

`study.optimize(objective, callbacks=[slipway.optuna.Callback()])` records every finished
trial as a run (params, its value, intermediate values by step, its state; a pruned
trial ends KILLED and is tagged `optuna.trial.state=PRUNED`) under one parent run for the
study, tagged with the best trial's number, value and params. Trials may run in threads
(`n_jobs`) or in several processes sharing one Optuna storage: the parent is created once,
by whoever reports trial 0 (its number is unique across every worker), its id kept in
the study's user attributes; a trial reported before that is adopted by the parent later.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from slipway.entities import Metric, Param, RunStatus, Tag, now_ms
from slipway.errors import ResourceAlreadyExists
from slipway.tracking import fluent
from slipway.tracking.client import Client

PARENT_ATTR = "slipway_parent_run_id"
STUDY_TAG = "slipway.optuna.study"
ROLE_TAG = "slipway.optuna.role"
PARENT_TAG = "mlflow.parentRunId"
_STATUS = {"COMPLETE": RunStatus.FINISHED, "PRUNED": RunStatus.KILLED, "FAIL": RunStatus.FAILED}


class Callback:
    """An Optuna callback that logs each finished trial as a nested run of the study's run.

    `experiment_name` defaults to the study's name (as MLflow's Optuna callback does);
    `metric_name` names the objective value(s) (a list for multi-objective studies);
    `tracking_uri` defaults to the fluent API's.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        metric_name: str | Sequence[str] = "value",
        tracking_uri: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self.experiment_name = experiment_name
        self.metric_name = metric_name
        self.tracking_uri = tracking_uri
        self.tags = {k: str(v) for k, v in (tags or {}).items()}
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._experiment_id: str | None = None
        self._parent: str | None = None

    # --- the optuna callback protocol ---------------------------------------------------
    def __call__(self, study: Any, trial: Any) -> None:
        client = self._client_for()
        experiment_id = self._experiment(client, study)
        run_id = self._log_trial(client, experiment_id, study, trial)
        with self._lock:
            parent = self._parent or self._find_or_create_parent(
                client, experiment_id, study, trial
            )
        if parent is None:
            return  # trial 0's reporter creates the parent and adopts this run
        client.set_tag(run_id, PARENT_TAG, parent)
        self._adopt_orphans(client, experiment_id, study, parent)
        self._update_parent(client, parent, study, trial)

    # --- the trial ---------------------------------------------------------------------
    def _log_trial(self, client: Client, experiment_id: str, study: Any, trial: Any) -> str:
        state = trial.state.name
        tags = {
            **self.tags,
            STUDY_TAG: study.study_name,
            ROLE_TAG: "trial",
            "optuna.trial.number": str(trial.number),
            "optuna.trial.state": state,
            "mlflow.runName": f"trial-{trial.number}",
        }
        if state == "PRUNED":
            tags["slipway.optuna.pruned"] = "true"
        start = _ms(trial.datetime_start) or now_ms()
        run = client.create_run(
            experiment_id, start_time=start, tags=tags, run_name=f"trial-{trial.number}"
        )
        end = _ms(trial.datetime_complete) or now_ms()
        metrics = [
            Metric(f"intermediate_{self._names(1)[0]}", float(v), end, int(step))
            for step, v in sorted(trial.intermediate_values.items())
            if v is not None
        ]
        values = trial.values or []
        metrics += [
            Metric(name, float(v), end, 0)
            for name, v in zip(self._names(len(values)), values, strict=True)
        ]
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(k, str(v)) for k, v in trial.params.items()],
        )
        status = _STATUS.get(state, RunStatus.FAILED).value
        client.set_terminated(run.info.run_id, status, end_time=end)
        return run.info.run_id

    def _names(self, n: int) -> list[str]:
        if isinstance(self.metric_name, str):
            return [self.metric_name] if n <= 1 else [f"{self.metric_name}_{i}" for i in range(n)]
        names = list(self.metric_name)
        if len(names) != n and n:
            raise ValueError(f"metric_name names {len(names)} values; the study has {n}.")
        return names

    # --- the study's parent run ---------------------------------------------------------
    def _find_or_create_parent(
        self, client: Client, experiment_id: str, study: Any, trial: Any
    ) -> str | None:
        """The study's run: remembered in the study, else found in the store, else made
        by the reporter of trial 0 (or by anyone once trial 0 is no longer running)."""
        parent = study.user_attrs.get(PARENT_ATTR) or self._study_run(client, experiment_id, study)
        if parent is None and (trial.number == 0 or not _trial_zero_pending(study)):
            run = client.create_run(
                experiment_id,
                tags={
                    **self.tags,
                    STUDY_TAG: study.study_name,
                    ROLE_TAG: "study",
                    "optuna.study.directions": ",".join(d.name for d in study.directions),
                },
                run_name=study.study_name,
            )
            # two workers that created one at the same moment agree on the oldest
            parent = self._study_run(client, experiment_id, study) or run.info.run_id
            if parent != run.info.run_id:
                client.delete_run(run.info.run_id)
        if parent is not None and study.user_attrs.get(PARENT_ATTR) != parent:
            study.set_user_attr(PARENT_ATTR, parent)
        self._parent = parent
        return parent

    def _study_run(self, client: Client, experiment_id: str, study: Any) -> str | None:
        found = client.search_runs(
            [experiment_id],
            f"tags.`{STUDY_TAG}` = '{_quoted(study.study_name)}' and tags.`{ROLE_TAG}` = 'study'",
            max_results=10,
            order_by=["attributes.start_time ASC"],
        )
        if not found:
            return None
        return min(found, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id

    def _adopt_orphans(self, client: Client, experiment_id: str, study: Any, parent: str) -> None:
        orphans = client.search_runs(
            [experiment_id],
            f"tags.`{STUDY_TAG}` = '{_quoted(study.study_name)}' and tags.`{ROLE_TAG}` = 'trial'"
            f" and tags.`{PARENT_TAG}` IS NULL",
            max_results=1000,
        )
        for run in orphans:
            client.set_tag(run.info.run_id, PARENT_TAG, parent)

    def _update_parent(self, client: Client, parent: str, study: Any, trial: Any) -> None:
        finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
        tags = [Tag("optuna.trials", str(finished))]
        metrics = []
        if len(study.directions) == 1:
            try:
                best = study.best_trial
            except ValueError:  # no trial completed yet
                best = None
            if best is not None:
                tags += [
                    Tag("optuna.best_trial.number", str(best.number)),
                    Tag("optuna.best_value", repr(best.value)),
                    *(Tag(f"optuna.best_params.{k}", str(v)) for k, v in best.params.items()),
                ]
                metrics.append(
                    Metric(f"best_{self._names(1)[0]}", best.value, now_ms(), trial.number)
                )
        else:
            numbers = ",".join(str(t.number) for t in study.best_trials)
            tags.append(Tag("optuna.best_trials", numbers))
        client.log_batch(parent, metrics=metrics, tags=tags)
        client.set_terminated(parent, RunStatus.FINISHED.value)

    # --- where -------------------------------------------------------------------------
    def _client_for(self) -> Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = (
                        Client(self.tracking_uri) if self.tracking_uri else fluent.current_client()
                    )
        return self._client

    def _experiment(self, client: Client, study: Any) -> str:
        if self._experiment_id is None:
            with self._lock:
                if self._experiment_id is None:
                    self._experiment_id = _get_or_create_experiment(
                        client, self.experiment_name or study.study_name
                    )
        return self._experiment_id


def _get_or_create_experiment(client: Client, name: str) -> str:
    """Tolerates another worker creating the experiment at the same moment."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except ResourceAlreadyExists:
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        return experiment.experiment_id


def _trial_zero_pending(study: Any) -> bool:
    """Whether trial 0 has yet to report (so its reporter will create the parent)."""
    trials = study.get_trials(deepcopy=False)
    first = next((t for t in trials if t.number == 0), None)
    return first is not None and first.state.name in {"RUNNING", "WAITING"}


def _ms(when: Any) -> int | None:
    return int(when.timestamp() * 1000) if when is not None else None


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


__all__ = ["Callback", "PARENT_ATTR", "ROLE_TAG", "STUDY_TAG"]
