"""Model cards say what the registry knows, in Markdown and in escaped, self-contained HTML."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from slipway import Client

SIGNATURE = {
    "inputs": json.dumps(
        [
            {"type": "double", "name": "tenure", "required": True},
            {"type": "string", "name": "plan", "required": False},
        ]
    ),
    "outputs": json.dumps([{"type": "long", "required": True}]),
}


def logged_version(client: Client, make_run, tmp_path: Path) -> int:
    """A version whose logged model has an MLmodel file with a signature."""
    run_id = make_run(client, {"accuracy": 0.91, "auc": 0.95}, {"max_depth": "5"})
    logged = client.create_logged_model("0", name="model", source_run_id=run_id)
    folder = tmp_path / "model"
    folder.mkdir()
    mlmodel = {"flavors": {"python_function": {}}, "signature": SIGNATURE}
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    client.log_model_artifacts(logged.model_id, folder)
    client.finalize_logged_model(logged.model_id, "READY")
    client.create_registered_model(
        "churn", description="Flags customers likely to leave. Not for pricing <script>."
    )
    return client.create_model_version("churn", f"models:/{logged.model_id}").version


def test_markdown_card(sqlite_client: Client, make_run, tmp_path: Path) -> None:
    version = logged_version(sqlite_client, make_run, tmp_path)
    sqlite_client.update_model_version("churn", version, description="Retrained on March data.")
    sqlite_client.set_registered_model_alias("churn", "champion", version, reason="beats v0")
    text = sqlite_client.write_model_card(
        "churn", version, extra_sections={"Ethical considerations": "Reviewed by the board."}
    )
    assert text.startswith("# Model card: churn version 1\n")
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "Overview",
        "Intended use and limitations",
        "Training data",
        "Parameters",
        "Metrics",
        "Signature",
        "Lineage",
        "Alias and stage history",
        "Ethical considerations",
    ]
    for expected in (
        "Flags customers likely to leave.",
        "This version: Retrained on March data.",
        "| churn-train | d1g3st | training | local | 120 |",
        "| max_depth | 5 |",
        "| accuracy | 0.91 |",
        "| input | tenure | double | yes |",
        "| input | plan | string | no |",
        "| output |   | long | yes |",
        "| git commit | 0123456789abcdef0123456789abcdef01234567 |",
        "@champion moved: unset → v1",
        "beats v0",
        "Reviewed by the board.",
    ):
        assert expected in text, expected


def test_html_card_is_escaped_and_self_contained(
    sqlite_client: Client, make_run, tmp_path: Path
) -> None:
    version = logged_version(sqlite_client, make_run, tmp_path)
    out = tmp_path / "card.html"
    html = sqlite_client.write_model_card(
        "churn", version, out, html=True, extra_sections={"Notes <b>": "a < b & c"}
    )
    assert out.read_text() == html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script>" not in html and "Not for pricing &lt;script&gt;." in html
    assert "<h2>Notes &lt;b&gt;</h2>" in html and "a &lt; b &amp; c" in html
    assert "<td>tenure</td>" in html
    assert "http" not in html.split("<body>")[0]  # no external stylesheet or script


def test_card_without_run_or_signature(sqlite_client: Client) -> None:
    sqlite_client.create_registered_model("bare")
    sqlite_client.create_model_version("bare", "/nowhere/model")
    text = sqlite_client.write_model_card("bare", 1)
    assert "No description recorded." in text
    assert "No dataset inputs were logged" in text
    assert "could not be read" in text


def test_training_curves_are_drawn_in_the_html_card(
    sqlite_client: Client, make_run, tmp_path: Path
) -> None:
    """A metric logged at several steps gets a row in Markdown and an SVG chart in HTML."""
    from slipway.entities import Metric

    version = logged_version(sqlite_client, make_run, tmp_path)
    run_id = sqlite_client.get_model_version("churn", version).run_id
    losses = [0.9, 0.6, 0.45, 0.4, 0.38]
    sqlite_client.log_batch(
        run_id, metrics=[Metric("val_loss", v, 1000 + i, i) for i, v in enumerate(losses)]
    )
    text = sqlite_client.write_model_card("churn", version)
    assert "## Training curves" in text
    assert "| val_loss | 5 | 0.9 | 0.38 |" in text
    html = sqlite_client.write_model_card("churn", version, html=True)
    svg = html.split('<figure class="curve">', 1)[1].split("</figure>", 1)[0]
    assert svg.startswith("<svg") and 'aria-label="val_loss"' in svg
    polyline = svg.split('points="', 1)[1].split('"', 1)[0]
    ys = [float(p.split(",")[1]) for p in polyline.split()]
    assert len(ys) == 5 and ys == sorted(ys)  # a falling loss is drawn going down
    assert "accuracy" not in html.split("Training curves", 1)[1].split("</table>", 1)[0]
