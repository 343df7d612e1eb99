"""`slipway runs compare`, `Client.compare_runs`, short run ids and an 80-column terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slipway import Client
from slipway.cli import output
from slipway.cli.main import app
from slipway.entities import Metric, Param
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.tracking.run_ids import resolve_run_id, short_ids


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'compare.db'}"


@pytest.fixture
def three_runs(uri: str) -> list[str]:
    client = Client(uri)
    ids = []
    for name, lr, losses in [
        ("base", "0.1", [0.9, 0.6, 0.5]),
        ("fast", "0.3", [0.8, 0.4, 0.3, 0.25]),
        ("same", "0.1", [0.9, 0.7]),
    ]:
        run = client.create_run("0", run_name=name)
        rid = run.info.run_id
        client.log_batch(
            rid,
            params=[Param("lr", lr), Param("layers", "3")],
            metrics=[Metric("loss", v, 1000 + i, i) for i, v in enumerate(losses)]
            + [Metric("acc", 0.8 if name == "base" else 0.85, 1000, 0)],
        )
        client.set_terminated(rid)
        ids.append(rid)
    client.close()
    return ids


@pytest.fixture(autouse=True)
def terminal_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.console, "width", 80)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_client_compare_marks_differences_and_deltas(uri: str, three_runs: list[str]) -> None:
    comparison = Client(uri).compare_runs(three_runs)
    params = {p.key: p for p in comparison.params}
    assert params["lr"].values == ["0.1", "0.3", "0.1"] and params["lr"].differs
    assert not params["layers"].differs
    loss = {m.key: m for m in comparison.metrics}["loss"]
    assert loss.values == [0.5, 0.25, 0.7]
    assert loss.deltas[0] == 0 and loss.deltas[1] == pytest.approx(-0.25)
    assert loss.deltas[2] == pytest.approx(0.2)
    with pytest.raises(InvalidParameterValue):
        Client(uri).compare_runs(three_runs[:1])


def test_cli_compare_tables_fit_80_columns_and_write_html(
    uri: str, three_runs: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "compare.html"
    prefixes = [r[:8] for r in three_runs]
    result = invoke("runs", "compare", *prefixes, "-o", str(out), "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "* lr" in result.stdout and "-0.25" in result.stdout
    page = out.read_text()
    assert page.count("<svg") == 1 and "<polyline" in page  # loss; acc has one point a run
    assert (
        "base" in page
        and "fast" in page
        and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )

    as_json = json.loads(
        invoke("runs", "compare", *three_runs, "--json", "--tracking-uri", uri).stdout
    )
    assert [r["run_id"] for r in as_json["runs"]] == three_runs


def test_run_tables_show_short_ids_and_full_ones_when_asked(
    uri: str, three_runs: list[str]
) -> None:
    narrow = invoke("runs", "list", "--tracking-uri", uri)
    assert narrow.exit_code == 0
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for rid in three_runs:
        assert rid not in narrow.stdout
        assert sum(short_ids(three_runs)[rid] in line for line in lines) == 1  # not wrapped
    wide = invoke("runs", "list", "--wide", "--tracking-uri", uri)
    assert all(rid in wide.stdout for rid in three_runs)  # whole, on one line each
    listed = json.loads(invoke("runs", "search", "--json", "--tracking-uri", uri).stdout)
    assert {r["info"]["run_id"] for r in listed["runs"]} == set(three_runs)


def test_a_prefix_is_accepted_wherever_a_run_id_is(uri: str, three_runs: list[str]) -> None:
    rid = three_runs[1]
    shown = invoke("runs", "show", rid[:6], "--json", "--tracking-uri", uri)
    assert json.loads(shown.stdout)["run"]["info"]["run_id"] == rid
    assert invoke("runs", "delete", rid[:6], "--tracking-uri", uri).exit_code == 0
    assert invoke("runs", "restore", rid[:6], "--tracking-uri", uri).exit_code == 0
    missing = invoke("runs", "show", "ffffffffff", "--tracking-uri", uri)
    assert missing.exit_code == 1 and "No run has an id starting with" in missing.stderr


def test_an_ambiguous_prefix_lists_the_candidates(uri: str) -> None:
    client = Client(uri)
    seen: dict[str, str] = {}
    for _ in range(3000):  # ~300 runs until two ids share their first 4 characters
        rid = client.create_run("0").info.run_id
        if rid[:4] in seen:
            break
        seen[rid[:4]] = rid
    else:
        pytest.fail("no two of 3000 run ids shared 4 characters")
    with pytest.raises(InvalidParameterValue) as err:
        resolve_run_id(client, rid[:4])
    assert rid in err.value.message and seen[rid[:4]] in err.value.message
    assert "ambiguous" in err.value.message
    assert resolve_run_id(client, rid) == rid
    with pytest.raises(ResourceDoesNotExist):
        resolve_run_id(client, "0123456789abcdef")
    result = invoke("runs", "show", rid[:4], "--tracking-uri", uri)
    assert result.exit_code == 1 and "ambiguous" in result.stderr


def test_search_with_an_unknown_experiment_name_says_so(uri: str, three_runs: list[str]) -> None:
    result = invoke("runs", "search", "-e", "no-such-experiment", "--tracking-uri", uri)
    assert result.exit_code == 1
    assert "No experiment is named 'no-such-experiment'" in result.stderr
    assert "integer" not in result.stderr
    by_id = invoke("runs", "search", "-e", "0", "--json", "--tracking-uri", uri)
    assert len(json.loads(by_id.stdout)["runs"]) == 3


def test_the_installed_command_in_an_80_column_terminal(uri: str, three_runs: list[str]) -> None:
    exe = Path(sys.executable).parent / "slipway"
    result = subprocess.run(
        [str(exe), "runs", "list", "--tracking-uri", uri],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for rid in three_runs:
        assert sum(rid[:8] in line for line in lines) == 1


def test_model_versions_fit_80_columns(uri: str, three_runs: list[str]) -> None:
    client = Client(uri)
    client.create_registered_model("churn")
    for rid in three_runs[:2]:
        run = client.get_run(rid)
        client.create_model_version("churn", f"{run.info.artifact_uri}/model", run_id=rid)
    narrow = invoke("models", "versions", "churn", "--tracking-uri", uri)
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for rid in three_runs[:2]:
        assert rid not in narrow.stdout
        assert sum(rid[:8] in line for line in lines) == 2  # its run id and its source
    wide = invoke("models", "versions", "churn", "--wide", "--tracking-uri", uri)
    assert all(
        f"{client.get_run(r).info.artifact_uri}/model" in wide.stdout for r in three_runs[:2]
    )


def test_short_ids_grow_until_unique() -> None:
    a, b, c = "abcdef0123" + "0" * 22, "abcdef0199" + "0" * 22, "12345678" + "f" * 24
    assert short_ids([a, b, c]) == {a: "abcdef012", b: "abcdef019", c: "12345678"}
