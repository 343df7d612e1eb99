"""Logged-model metrics, model inputs, dataset summaries and version sources, the same over
SQLite, PostgreSQL and a live server (the stores behind the mlflow-compatible routes)."""

from __future__ import annotations

import json

import pytest

from slipway import Client
from slipway.entities import Dataset, DatasetInput, LoggedModelMetric, Metric
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist


def test_metrics_linked_to_logged_models(client: Client) -> None:
    exp_id = client.create_experiment("linked")
    run_id = client.create_run(exp_id).info.run_id
    registry, store = client.registry_store, client.store
    first = registry.create_logged_model(exp_id, name="first", source_run_id=run_id)
    second = registry.create_logged_model(exp_id, name="second", source_run_id=run_id)

    store.log_batch(run_id, metrics=[Metric("acc", 0.5, 10, 0)])
    store.log_model_metrics(
        run_id,
        [
            LoggedModelMetric("acc", 0.5, 10, 0, first.model_id, run_id, "train", "d1"),
            LoggedModelMetric("acc", 0.8, 20, 1, second.model_id, run_id, "eval", "d2"),
        ],
    )
    # the first point was already in the run's history: linked, not logged twice
    assert [(m.value, m.step) for m in client.get_metric_history(run_id, "acc")] == [
        (0.5, 0),
        (0.8, 1),
    ]
    got = registry.get_logged_model(first.model_id).metrics
    assert got == [LoggedModelMetric("acc", 0.5, 10, 0, first.model_id, run_id, "train", "d1")]

    def found(**kwargs) -> list[str]:
        return [m.model_id for m in registry.search_logged_models([exp_id], **kwargs).items]

    assert found(datasets=[{"dataset_name": "eval"}]) == [second.model_id]
    assert found(datasets=[{"dataset_name": "train", "dataset_digest": "other"}]) == []
    assert found(filter_string="metrics.acc >= 0.5") == [second.model_id, first.model_id]
    assert found(filter_string="metrics.acc > 0.6", datasets=[{"dataset_name": "train"}]) == []

    with pytest.raises(ResourceDoesNotExist):
        store.log_model_metrics(run_id, [LoggedModelMetric("acc", 1.0, 1, 0, "m-" + "0" * 32)])


def test_model_inputs_and_dataset_summaries(client: Client) -> None:
    exp_id = client.create_experiment("inputs")
    run_id = client.create_run(exp_id).info.run_id
    model = client.registry_store.create_logged_model(exp_id, name="upstream")
    dataset = Dataset(name="frame", digest="abc", source_type="code")
    client.store.log_inputs(
        run_id, [DatasetInput(dataset, {"mlflow.data.context": "training"})], [model.model_id]
    )
    client.store.log_inputs(run_id, [], [model.model_id])  # again: still one input
    assert client.get_run(run_id).model_inputs == [{"model_id": model.model_id}]
    assert client.store.search_datasets([exp_id]) == [
        {"experiment_id": exp_id, "name": "frame", "digest": "abc", "context": "training"}
    ]


def test_registering_a_logged_model_tags_it_and_sources_stay_inside(client: Client) -> None:
    exp_id = client.create_experiment("registered")
    model = client.registry_store.create_logged_model(exp_id, name="m")
    client.registry_store.create_registered_model("tagged")
    client.registry_store.create_model_version("tagged", f"models:/{model.model_id}")
    client.registry_store.create_model_version("tagged", "s3://b/k", model_id=model.model_id)
    tag = client.registry_store.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert json.loads(tag) == [
        {"name": "tagged", "version": "1"},
        {"name": "tagged", "version": "2"},
    ]
    with pytest.raises(InvalidParameterValue, match="Invalid model version source"):
        client.registry_store.create_model_version("tagged", "file:///srv/models/../../etc")
    foreign = client.registry_store.create_model_version("tagged", f"runs:/{'a' * 32}/model")
    assert foreign.run_id == "a" * 32
