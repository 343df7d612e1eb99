"""Model cards: what the registry knows about a version, as Markdown or self-contained HTML.

Sections: intended use and limitations (the model's and the version's descriptions),
training data (the run's dataset inputs), parameters, metrics, signature (from the MLmodel
file, when it can be read), lineage, alias and stage history (from the audit trail), and
any sections the user adds. The card is built once as plain data and rendered twice, so
both formats always say the same thing; every value is escaped for its format.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from slipway.artifacts import get_artifact_repository
from slipway.entities import AuditAction, AuditEvent, DatasetInput
from slipway.errors import SlipwayError
from slipway.reports.svg import line_chart

_HISTORY_ACTIONS = {
    AuditAction.VERSION_CREATED.value,
    AuditAction.ALIAS_SET.value,
    AuditAction.ALIAS_DELETED.value,
    AuditAction.ALIAS_ROLLBACK.value,
    AuditAction.STAGE_TRANSITION.value,
    AuditAction.GATE_PASSED.value,
    AuditAction.GATE_FAILED.value,
}
_CONTEXT_TAG = "mlflow.data.context"
MAX_CURVES = 8

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1f2328;line-height:1.5}
h1{border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
h2{margin-top:2rem;border-bottom:1px solid #eaeef2;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}
.muted{color:#656d76}
"""


@dataclass(slots=True)
class Curve:
    """One metric's history (steps and values), drawn as a chart in the HTML card."""

    metric: str
    steps: list[int]
    values: list[float]


@dataclass(slots=True)
class CardSection:
    """A titled section: paragraphs of plain text, then an optional table and curves."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)


@dataclass(slots=True)
class ModelCard:
    """One version's card as data; `to_markdown()` and `to_html()` render it."""

    title: str
    sections: list[CardSection]

    def to_markdown(self) -> str:
        out = [f"# {_md_text(self.title)}", ""]
        for section in self.sections:
            out += [f"## {_md_text(section.title)}", ""]
            for paragraph in section.paragraphs:
                out += [paragraph, ""]
            if section.columns:
                out.append("| " + " | ".join(_md_cell(c) for c in section.columns) + " |")
                out.append("|" + "|".join(" --- " for _ in section.columns) + "|")
                out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in section.rows]
                out.append("")
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        esc = html.escape
        body = [f"<h1>{esc(self.title)}</h1>"]
        for section in self.sections:
            body.append(f"<h2>{esc(section.title)}</h2>")
            for paragraph in section.paragraphs:
                lines = "<br>".join(esc(line) for line in paragraph.splitlines())
                body.append(f"<p>{lines}</p>")
            if section.columns:
                head = "".join(f"<th>{esc(c)}</th>" for c in section.columns)
                rows = "".join(
                    "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
                    for row in section.rows
                )
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            body.extend(
                f'<figure class="curve">{line_chart(c.steps, c.values, c.metric)}</figure>'
                for c in section.curves
            )
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body)
            + "\n</body>\n</html>\n"
        )


def _md_text(text: str) -> str:
    return " ".join(str(text).split())


def _md_cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|") or " "


def _time(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float) -> str:
    return f"{value:.6g}"


def _dataset_rows(datasets: list[DatasetInput]) -> list[list[str]]:
    rows = []
    for inp in datasets:
        d = inp.dataset
        try:
            n_rows = json.loads(d.profile or "{}").get("num_rows", "")
        except (ValueError, AttributeError):
            n_rows = ""
        rows.append([d.name, d.digest, inp.tags.get(_CONTEXT_TAG, ""), d.source_type, str(n_rows)])
    return rows


def _signature_rows(artifact_uri: str, tracking_uri: str | None) -> list[list[str]] | None:
    """Rows (role, name, type, required) from the MLmodel file; None if unreadable."""
    try:
        repo = get_artifact_repository(artifact_uri, tracking_uri)
        doc = yaml.safe_load(repo.read_bytes("MLmodel"))
    except (SlipwayError, OSError, yaml.YAMLError):
        return None
    signature = doc.get("signature") if isinstance(doc, dict) else None
    if not isinstance(signature, dict):
        return []
    rows = []
    for role in ("inputs", "outputs", "params"):
        raw = signature.get(role)
        if not raw:
            continue
        try:
            specs = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        for spec in specs if isinstance(specs, list) else []:
            if not isinstance(spec, dict):
                continue
            kind = spec.get("type", "")
            if kind == "tensor" and isinstance(spec.get("tensor-spec"), dict):
                tensor = spec["tensor-spec"]
                kind = f"tensor {tensor.get('dtype', '')} {tensor.get('shape', '')}".strip()
            required = spec.get("required", True)
            rows.append(
                [role[:-1], str(spec.get("name", "")), str(kind), "yes" if required else "no"]
            )
    return rows


def _curves_section(client: Any, run_id: str | None) -> CardSection | None:
    """Training curves: every metric of the run logged at more than one step."""
    if not run_id:
        return None
    run = client.get_run(run_id)
    curves = []
    for key in sorted(run.data.metrics)[:MAX_CURVES]:
        history = client.get_metric_history(run_id, key)
        if len({m.step for m in history}) > 1:
            curves.append(Curve(key, [m.step for m in history], [m.value for m in history]))
    if not curves:
        return None
    section = CardSection("Training curves", columns=["metric", "points", "first", "last"])
    section.rows = [
        [c.metric, str(len(c.values)), _number(c.values[0]), _number(c.values[-1])] for c in curves
    ]
    section.curves = curves
    return section


def _history_rows(events: list[AuditEvent]) -> list[list[str]]:
    rows = []
    for e in events:
        if e.action not in _HISTORY_ACTIONS:
            continue
        if e.action == AuditAction.VERSION_CREATED.value:
            what = "registered"
        elif e.action in (AuditAction.GATE_PASSED.value, AuditAction.GATE_FAILED.value):
            what = f"{e.action.replace('_', ' ')} for {e.field or 'promotion'}"
        elif e.action == AuditAction.STAGE_TRANSITION.value:
            what = f"stage {e.old_value} → {e.new_value}"
        else:
            old = f"v{e.old_value}" if e.old_value else "unset"
            new = f"v{e.new_value}" if e.new_value else "unset"
            verb = "rolled back" if e.action == AuditAction.ALIAS_ROLLBACK.value else "moved"
            what = f"@{e.field} {verb}: {old} → {new}"
        rows.append(
            [
                _time(e.timestamp),
                "" if e.version is None else str(e.version),
                what,
                e.actor,
                e.reason or "",
            ]
        )
    return rows


def build_model_card(
    client: Any, name: str, version: int, extra_sections: dict[str, str] | None = None
) -> ModelCard:
    """Gather a version's card from the registry, its run and its MLmodel file."""
    model = client.get_registered_model(name)
    lineage = client.get_model_version_lineage(name, version)
    mv = lineage.version
    events = client.get_model_history(name)

    overview = CardSection(
        "Overview",
        columns=["field", "value"],
        rows=[
            ["model", model.name],
            ["version", str(mv.version)],
            ["aliases", ", ".join(f"@{a}" for a in mv.aliases) or "none"],
            ["stage", mv.current_stage],
            ["status", mv.status],
            ["registered", f"{_time(mv.creation_timestamp)} by {mv.user_id or 'unknown'}"],
            ["source", mv.source],
        ],
    )
    use = CardSection("Intended use and limitations")
    if model.description:
        use.paragraphs.append(model.description)
    if mv.description:
        use.paragraphs.append(f"This version: {mv.description}")
    if not use.paragraphs:
        use.paragraphs.append(
            "No description recorded. Describe what the model is for, and what it must not be "
            f"used for, with `Client().update_registered_model('{name}', description=...)`."
        )

    data = CardSection("Training data")
    if lineage.datasets:
        data.columns = ["dataset", "digest", "context", "source type", "rows"]
        data.rows = _dataset_rows(lineage.datasets)
    else:
        data.paragraphs.append("No dataset inputs were logged with the run (slipway.log_input).")

    params = CardSection("Parameters")
    if lineage.params:
        params.columns = ["parameter", "value"]
        params.rows = [[k, v] for k, v in sorted(lineage.params.items())]
    else:
        params.paragraphs.append("No parameters recorded.")

    metrics = CardSection("Metrics")
    if lineage.metrics:
        metrics.columns = ["metric", "value"]
        metrics.rows = [[k, _number(v)] for k, v in sorted(lineage.metrics.items())]
    else:
        metrics.paragraphs.append("No metrics recorded.")

    curves = _curves_section(client, lineage.run_id)

    signature = CardSection("Signature")
    sig_rows = _signature_rows(lineage.artifact_uri, client.tracking_uri)
    if sig_rows:
        signature.columns = ["role", "name", "type", "required"]
        signature.rows = sig_rows
    elif sig_rows is None:
        signature.paragraphs.append(
            f"The MLmodel file at {lineage.artifact_uri} could not be read."
        )
    else:
        signature.paragraphs.append("The model was logged without a signature.")

    run = lineage.run
    lineage_rows = [
        ["run", lineage.run_id or "none"],
        ["run name", "" if run is None else run.info.run_name],
        ["experiment", lineage.experiment_id or ""],
        ["logged model", mv.model_id or ""],
        ["git commit", lineage.git_commit or "unknown"],
        ["entry point", lineage.source_name or ""],
        ["artifact location", lineage.artifact_uri],
    ]
    lineage_section = CardSection("Lineage", columns=["field", "value"], rows=lineage_rows)

    history = CardSection("Alias and stage history")
    history_rows = _history_rows(events)
    if history_rows:
        history.columns = ["time", "version", "change", "by", "reason"]
        history.rows = history_rows
    else:
        history.paragraphs.append("No alias or stage changes recorded.")

    sections = [overview, use, data, params, metrics]
    if curves is not None:
        sections.append(curves)
    sections += [signature, lineage_section, history]
    for title, text in (extra_sections or {}).items():
        sections.append(CardSection(str(title), paragraphs=[str(text)]))
    return ModelCard(f"Model card: {model.name} version {mv.version}", sections)


__all__ = ["CardSection", "Curve", "ModelCard", "build_model_card"]
