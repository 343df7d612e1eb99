"""The UI's pages over plain HTTP: what they answer, what they refuse, what they remember.

(The browser tests drive the same server through Chromium; these need no browser.)
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from slipway.tracking.client import Client


@pytest.fixture(scope="module")
def http(ui_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, timeout=60) as client:
        yield client


def test_every_page_answers_html(http: httpx.Client, ui_server) -> None:
    s = ui_server.seeded
    for path in (
        "/",
        f"/runs?e={s.experiment_id}",
        f"/runs/{s.best_run}",
        f"/compare?r={s.best_run}&r={s.worst_run}",
        "/models",
        "/models/churn-classifier",
        "/monitors",
        "/monitors/churn-watch",
    ):
        page = http.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path


def test_a_missing_run_is_an_html_page_and_api_404s_stay_json(http: httpx.Client) -> None:
    page = http.get("/runs/0123456789abcdef0123456789abcdef")
    assert page.status_code == 404
    assert "Not found" in page.text and "0123456789abcdef" in page.text
    api = http.get("/api/2.0/mlflow/no-such-endpoint")
    assert api.status_code == 404
    assert api.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_artifact_files_are_sandboxed_and_paths_cannot_escape(
    http: httpx.Client, ui_server
) -> None:
    run = ui_server.seeded.artifact_run
    report = http.get(f"/runs/{run}/files", params={"path": "eval/report.html"})
    assert report.status_code == 200
    assert report.headers["content-security-policy"].startswith("sandbox")
    assert "Evaluation report" in report.text
    download = http.get(f"/runs/{run}/files", params={"path": "notes.txt", "download": "true"})
    assert download.headers["content-disposition"] == 'attachment; filename="notes.txt"'
    assert download.text.startswith("trained on 10,000 rows")
    escape = http.get(f"/runs/{run}/files", params={"path": "../../server.db"})
    assert escape.status_code == 400
    missing = http.get(f"/runs/{run}", params={"artifact": "eval/nothing.txt"})
    assert missing.status_code == 404 and "nothing.txt" in missing.text


def test_metric_data_for_charts_is_thinned_to_the_points_asked(
    http: httpx.Client, ui_server
) -> None:
    run = ui_server.seeded.best_run
    body = http.get(f"/runs/{run}/metrics.json", params={"key": ["loss", "val_loss"]}).json()
    assert [s["key"] for s in body["series"]] == ["loss", "val_loss"]
    assert body["series"][0]["step"] == list(range(60))
    thin = http.get(f"/runs/{run}/metrics.json", params={"key": "loss", "points": 20}).json()
    assert len(thin["series"][0]["step"]) <= 20


def test_chosen_columns_are_remembered_per_experiment(http: httpx.Client, ui_server) -> None:
    exp = ui_server.seeded.experiment_id
    chosen = http.get("/runs", params={"e": exp, "cols": "params.max_depth,tags.team"})
    assert f"slipway-cols-{exp}" in chosen.cookies
    later = http.get("/runs", params={"e": exp})  # the client sends the cookie back
    header = later.text.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "max_depth" in header and "team" in header and "val_loss" not in header


def test_bulk_tag_delete_and_restore(http: httpx.Client, ui_server) -> None:
    s = ui_server.seeded
    picked = s.run_ids[:2]
    back = f"/runs?e={s.experiment_id}"
    form = {"r": picked, "action": "tag", "tag_key": "reviewed", "tag_value": "yes", "next": back}
    done = http.post("/runs/bulk", data=form)
    assert done.status_code == 303
    assert "Tagged+2+run" in done.headers["location"]
    client = Client(ui_server.url)
    assert all(client.get_run(r).data.tags["reviewed"] == "yes" for r in picked)

    http.post("/runs/bulk", data={"r": picked, "action": "delete", "next": back})
    assert all(client.get_run(r).info.lifecycle_stage == "deleted" for r in picked)
    http.post("/runs/bulk", data={"r": picked, "action": "restore", "next": back})
    assert all(client.get_run(r).info.lifecycle_stage == "active" for r in picked)


def test_a_form_posted_from_another_site_is_refused(http: httpx.Client, ui_server) -> None:
    run = ui_server.seeded.run_ids[3]
    answer = http.post(
        "/runs/bulk",
        data={"r": run, "action": "delete", "next": "/"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert Client(ui_server.url).get_run(run).info.lifecycle_stage == "active"


def test_a_redirect_after_a_form_never_leaves_the_server(http: httpx.Client, ui_server) -> None:
    run = ui_server.seeded.run_ids[4]
    answer = http.post(
        "/runs/bulk", data={"r": run, "action": "tag", "tag_key": "k", "next": "//evil.example/"}
    )
    assert answer.headers["location"].startswith("/?")
