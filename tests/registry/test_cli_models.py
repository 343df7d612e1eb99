"""`slipway models …` against a real SQLite store, the way a person or a CI job runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slipway import Client
from slipway.cli.models import models_app

runner = CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def churn(uri: str, make_run) -> Client:
    """Model `churn` with versions 1 (accuracy 0.86) and 2 (0.91); @champion → 1."""
    client = Client(uri)
    client.create_registered_model("churn", description="Predicts which customers leave.")
    for acc, depth in ((0.86, "3"), (0.91, "5")):
        run_id = make_run(client, {"accuracy": acc, "f1": acc - 0.05}, {"max_depth": depth})
        client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("churn", "champion", 1)
    yield client
    client.close()


def invoke(uri: str, *args: str):
    return runner.invoke(models_app, [*args, "--tracking-uri", uri])


def test_list_versions_and_show(churn: Client, uri: str) -> None:
    listed = invoke(uri, "list")
    assert listed.exit_code == 0
    assert "churn" in listed.stdout and "@champion→v1" in listed.stdout
    data = json.loads(invoke(uri, "list", "--json").stdout)
    assert [m["name"] for m in data["registered_models"]] == ["churn"]

    versions = json.loads(invoke(uri, "versions", "churn", "--json").stdout)
    assert [v["version"] for v in versions["model_versions"]] == ["2", "1"]

    shown = invoke(uri, "show", "churn", "--version", "2")
    assert shown.exit_code == 0
    for expected in ("Lineage", "max_depth", "0.91", "churn-train", "training", "0123456789ab"):
        assert expected in shown.stdout
    lineage = json.loads(invoke(uri, "show", "churn", "--version", "2", "--json").stdout)
    assert lineage["git_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert lineage["params"] == {"max_depth": "5"}
    assert lineage["datasets"][0]["dataset"]["name"] == "churn-train"


def test_aliases_transition_and_history(churn: Client, uri: str) -> None:
    assert invoke(uri, "set-alias", "churn", "challenger", "2", "--reason", "a/b").exit_code == 0
    assert churn.get_model_version_by_alias("churn", "challenger").version == 2
    assert invoke(uri, "delete-alias", "churn", "challenger").exit_code == 0
    moved = invoke(uri, "transition", "churn", "2", "production", "--archive-existing")
    assert moved.exit_code == 0 and "Production" in moved.stdout
    events = json.loads(invoke(uri, "history", "churn", "--json").stdout)["events"]
    assert [e["action"] for e in events][-3:] == ["alias_set", "alias_deleted", "stage_transition"]
    assert events[-3]["reason"] == "a/b"
    table = invoke(uri, "history", "churn")
    assert table.exit_code == 0 and "challenger" in table.stdout


def test_bad_input_is_one_error_line(churn: Client, uri: str) -> None:
    result = invoke(uri, "set-alias", "churn", "v2", "2")
    assert result.exit_code == 1
    assert "Error" in result.stderr and "looks like a version number" in result.stderr
    assert "Traceback" not in result.output
    result = invoke(uri, "show", "nope")
    assert result.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in result.stderr


def test_promote_fails_with_each_condition_and_exit_code(churn: Client, uri: str) -> None:
    result = invoke(
        uri,
        "promote",
        "churn",
        "--version",
        "2",
        "--alias",
        "champion",
        "--require",
        "accuracy>=0.95",
        "--require",
        "f1>=0.80",
        "--must-beat",
        "champion:accuracy",
    )
    assert result.exit_code == 1
    assert "FAIL accuracy>=0.95 — accuracy = 0.91, needs >= 0.95" in result.stdout
    assert "PASS f1>=0.8 — f1 = 0.86" in result.stdout
    assert "PASS champion:accuracy" in result.stdout
    assert "nothing was changed" in result.stdout
    assert churn.get_model_version_by_alias("churn", "champion").version == 1


def test_promote_dry_run_then_for_real(churn: Client, uri: str) -> None:
    args = (
        "promote",
        "churn",
        "--version",
        "2",
        "--alias",
        "champion",
        "--stage",
        "Production",
        "--require",
        "accuracy>=0.9",
        "--must-beat",
        "champion:accuracy",
    )
    dry = invoke(uri, *args, "--dry-run")
    assert dry.exit_code == 0 and "would be promoted" in dry.stdout
    assert churn.get_model_version_by_alias("churn", "champion").version == 1

    done = invoke(uri, *args, "--reason", "CI #42", "--json")
    assert done.exit_code == 0
    promotion = json.loads(done.stdout)["promotion"]
    assert promotion["applied"] and promotion["previous_alias_version"] == "1"
    assert churn.get_model_version_by_alias("churn", "champion").version == 2
    assert churn.get_model_version("churn", 2).current_stage == "Production"

    back = invoke(uri, "rollback", "churn", "--alias", "champion")
    assert back.exit_code == 0 and "version 1" in back.stdout
    assert churn.get_model_version_by_alias("churn", "champion").version == 1


def test_card_markdown_and_html(churn: Client, uri: str, tmp_path: Path) -> None:
    notes = tmp_path / "ethics.md"
    notes.write_text("Not for credit decisions.")
    printed = invoke(uri, "card", "churn", "--version", "1", "--section", "Ethics=@" + str(notes))
    assert printed.exit_code == 0
    assert printed.stdout.startswith("# Model card: churn version 1")
    assert "Predicts which customers leave." in printed.stdout
    assert "## Ethics\n\nNot for credit decisions." in printed.stdout

    out = tmp_path / "card.html"
    written = invoke(uri, "card", "churn", "--version", "1", "--html", "--output", str(out))
    assert written.exit_code == 0 and str(out) in written.stdout
    assert out.read_text().startswith("<!DOCTYPE html>")
    bad = invoke(uri, "card", "churn", "--version", "1", "--section", "no equals sign")
    assert bad.exit_code == 1 and "Title=text" in bad.stderr


def test_delete_version_and_model(churn: Client, uri: str) -> None:
    refused = invoke(uri, "delete", "churn", "--version", "1")
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert invoke(uri, "delete", "churn", "--version", "1", "--force").exit_code == 0
    assert churn.get_registered_model("churn").aliases == {}
    assert invoke(uri, "delete", "churn", "--yes").exit_code == 0
    assert json.loads(invoke(uri, "list", "--json").stdout)["registered_models"] == []
    # The trail survives the model.
    events = json.loads(invoke(uri, "history", "churn", "--json").stdout)["events"]
    assert events[-1]["action"] == "model_deleted"
