"""`slipway models …`: the model registry on the command line.

list, show (with lineage), versions, set-alias, delete-alias, transition, promote (quality
gates for CI: exit code 1 when a gate fails), card, history, rollback and delete. Every
command only parses arguments and calls the `Client`; a `SlipwayError` is printed as one
`Error` line on stderr with exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from slipway.cli.output import (
    console,
    format_time,
    print_json,
    print_table,
    reports_errors,
)
from slipway.cli.tracking_uri import TrackingUriOption, client_for
from slipway.entities import AuditEvent, ModelVersion, PromotionResult
from slipway.errors import GateFailed, InvalidParameterValue
from slipway.registry.uri import quote_filter_value
from slipway.tracking.run_ids import short_ids, shorten

models_app = typer.Typer(
    help="Registered models: versions, aliases, stages, gated promotion, cards, history.",
    no_args_is_help=True,
)

F = TypeVar("F", bound=Callable[..., Any])
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
ReasonOption = typer.Option(None, "--reason", help="Why; kept in the audit trail.")
WideOption = typer.Option(False, "--wide", "-w", help="Show full run ids and model sources.")


def _command(name: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        return models_app.command(name)(reports_errors(fn))

    return register


def _aliases(version: ModelVersion) -> str:
    return ", ".join(f"@{a}" for a in version.aliases)


def _all_versions(client: Any, name: str) -> list[ModelVersion]:
    versions, token = [], None
    while True:
        page = client.search_model_versions(
            f"name = {quote_filter_value(name)}", order_by=["version_number DESC"], page_token=token
        )
        versions.extend(page.items)
        token = page.next_page_token
        if not token:
            return versions


@_command("list")
def list_models(
    filter_string: str | None = typer.Option(
        None, "--filter", help="e.g. \"name LIKE 'churn%'\" or \"tags.team = 'risk'\"."
    ),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """List registered models with their newest version and aliases."""
    client = client_for(tracking_uri)
    models, token = [], None
    while True:
        page = client.search_registered_models(filter_string, page_token=token)
        models.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    if json_output:
        print_json({"registered_models": [m.to_dict() for m in models]})
        return
    rows = []
    for m in models:
        newest = max((v.version for v in m.latest_versions), default=None)
        aliases = ", ".join(f"@{a}→v{v}" for a, v in sorted(m.aliases.items()))
        rows.append(
            (
                m.name,
                newest or "",
                aliases,
                format_time(m.last_updated_timestamp),
                (m.description or "").splitlines()[0] if m.description else "",
            )
        )
    print_table("Registered models", ["name", "latest", "aliases", "updated", "description"], rows)


@_command("show")
def show(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int | None = typer.Option(None, "--version", "-v", help="Show this version."),
    json_output: bool = JsonOption,
    wide: bool = WideOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Show a model, or one version with its lineage (run, params, metrics, data, code)."""
    client = client_for(tracking_uri)
    if version is None:
        model = client.get_registered_model(name)
        versions = _all_versions(client, name)
        if json_output:
            print_json(
                {"registered_model": model.to_dict(), "versions": [v.to_dict() for v in versions]}
            )
            return
        console.print(f"[bold]{model.name}[/]", highlight=False, soft_wrap=True)
        if model.description:
            console.print(model.description, highlight=False, soft_wrap=True)
        console.print(
            f"created {format_time(model.creation_timestamp)}, "
            f"updated {format_time(model.last_updated_timestamp)}"
        )
        for alias, v in sorted(model.aliases.items()):
            console.print(f"  @{alias} → version {v}", highlight=False, soft_wrap=True)
        for key, value in sorted(model.tags.items()):
            console.print(f"  tag {key} = {value}", highlight=False, soft_wrap=True)
        _versions_table(name, versions, wide)
        return
    lineage = client.get_model_version_lineage(name, version)
    if json_output:
        print_json(lineage.to_dict())
        return
    mv = lineage.version
    console.print(f"[bold]{mv.name}[/] version {mv.version}", highlight=False, soft_wrap=True)
    rows = [
        ("stage", mv.current_stage),
        ("aliases", _aliases(mv) or "none"),
        ("status", mv.status),
        ("registered", f"{format_time(mv.creation_timestamp)} by {mv.user_id or 'unknown'}"),
        ("description", mv.description or ""),
        ("source", mv.source),
        ("artifact location", lineage.artifact_uri),
        ("run", lineage.run_id or "none"),
        ("run name", "" if lineage.run is None else lineage.run.info.run_name),
        ("experiment", lineage.experiment_id or ""),
        ("logged model", mv.model_id or ""),
        ("git commit", lineage.git_commit or "unknown"),
        ("entry point", lineage.source_name or ""),
    ]
    print_table("Lineage", ["field", "value"], rows)
    if lineage.params:
        print_table("Params", ["param", "value"], sorted(lineage.params.items()))
    if lineage.metrics:
        print_table(
            "Metrics",
            ["metric", "value"],
            [(k, f"{v:.6g}") for k, v in sorted(lineage.metrics.items())],
        )
    if lineage.datasets:
        print_table(
            "Dataset inputs",
            ["name", "digest", "context", "source type"],
            [
                (
                    d.dataset.name,
                    d.dataset.digest,
                    d.tags.get("mlflow.data.context", ""),
                    d.dataset.source_type,
                )
                for d in lineage.datasets
            ],
        )


def _versions_table(name: str, versions: list[ModelVersion], wide: bool = False) -> None:
    run_ids = [v.run_id for v in versions if v.run_id]
    shown = dict(zip(run_ids, run_ids, strict=True)) if wide else short_ids(run_ids)
    print_table(
        f"Versions of {name}",
        ["version", "stage", "aliases", "status", "created", "run id", "source"],
        [
            (
                v.version,
                v.current_stage,
                _aliases(v),
                v.status,
                format_time(v.creation_timestamp),
                shown.get(v.run_id or "", ""),
                v.source if wide else shorten(v.source),
            )
            for v in versions
        ],
        wide,
    )


@_command("versions")
def versions(
    name: str = typer.Argument(..., help="Registered model name."),
    json_output: bool = JsonOption,
    wide: bool = WideOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """List every version of a model, newest first."""
    client = client_for(tracking_uri)
    client.get_registered_model(name)  # an unknown model is an error, not an empty table
    found = _all_versions(client, name)
    if json_output:
        print_json({"model_versions": [v.to_dict() for v in found]})
        return
    _versions_table(name, found, wide)


@_command("set-alias")
def set_alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion."),
    version: int = typer.Argument(..., help="Version the alias should point to."),
    reason: str | None = ReasonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Point an alias at a version (models:/NAME@ALIAS then loads it)."""
    client_for(tracking_uri).set_registered_model_alias(name, alias, version, reason=reason)
    console.print(f"@{alias} → {name} version {version}", highlight=False, soft_wrap=True)


@_command("delete-alias")
def delete_alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias to remove."),
    reason: str | None = ReasonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Remove an alias from a model."""
    client_for(tracking_uri).delete_registered_model_alias(name, alias, reason=reason)
    console.print(f"Removed @{alias} from {name}", highlight=False, soft_wrap=True)


@_command("transition")
def transition(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Argument(..., help="Version to move."),
    stage: str = typer.Argument(..., help="None, Staging, Production or Archived."),
    archive_existing: bool = typer.Option(
        False, "--archive-existing", help="Archive the versions now in that stage."
    ),
    reason: str | None = ReasonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Move a version to a stage (legacy stages; aliases are the modern way)."""
    mv = client_for(tracking_uri).transition_model_version_stage(
        name, version, stage, archive_existing_versions=archive_existing, reason=reason
    )
    console.print(
        f"{name} version {version} is now in stage {mv.current_stage}",
        highlight=False,
        soft_wrap=True,
    )


def _print_promotion(result: PromotionResult) -> None:
    from slipway.registry.gates import describe_check

    target = ", ".join(
        t
        for t in (result.alias and f"@{result.alias}", result.stage and f"stage {result.stage}")
        if t
    )
    console.print(
        f"Promote {result.name} version {result.version} to {target}",
        highlight=False,
        soft_wrap=True,
    )
    for check in result.checks:
        colour = "green" if check.passed else "red"
        console.print(f"  [{colour}]{describe_check(check)}[/]", highlight=False, soft_wrap=True)
    if not result.checks:
        console.print("  (no gates)", soft_wrap=True)
    if result.dry_run:
        verdict = "would be promoted" if result.passed else "would be blocked"
        console.print(f"Dry run: {verdict}; nothing was changed.", highlight=False, soft_wrap=True)
    elif result.applied:
        console.print(
            f"[green]Promoted[/] {result.name} version {result.version} to {target}.",
            highlight=False,
        )
    else:
        console.print(
            "[red]Blocked[/]: nothing was changed (recorded as gate_failed).", soft_wrap=True
        )


@_command("promote")
def promote(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Option(..., "--version", "-v", help="Candidate version."),
    alias: str | None = typer.Option(None, "--alias", help="Alias to give it, e.g. champion."),
    stage: str | None = typer.Option(None, "--stage", help="Stage to move it to."),
    require: list[str] = typer.Option(
        [], "--require", help="Gate such as 'accuracy>=0.85' (repeatable)."
    ),
    must_beat: list[str] = typer.Option(
        [],
        "--must-beat",
        help="Beat the alias holder: 'champion:accuracy' or 'champion:loss:lower' (repeatable).",
    ),
    archive_existing: bool = typer.Option(
        False, "--archive-existing", help="With --stage: archive the versions now in it."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the gates, change nothing."),
    reason: str | None = ReasonOption,
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Promote a version only if every gate passes; exit code 1 if one fails (for CI)."""
    client = client_for(tracking_uri)
    try:
        result = client.promote(
            name,
            version,
            alias=alias,
            stage=stage,
            require=require,
            must_beat=must_beat,
            dry_run=dry_run,
            reason=reason,
            archive_existing_versions=archive_existing,
        )
    except GateFailed as exc:
        result = exc.result  # type: ignore[attr-defined]
    if json_output:
        print_json({"promotion": result.to_dict()})
    else:
        _print_promotion(result)
    if not result.passed:
        raise typer.Exit(1)


def _sections(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        title, sep, text = item.partition("=")
        if not sep or not title.strip():
            raise InvalidParameterValue(
                f"Invalid --section {item!r}: write 'Title=text' or 'Title=@file.md'."
            )
        if text.startswith("@"):
            path = Path(text[1:])
            if not path.is_file():
                raise InvalidParameterValue(f"--section {title!r}: no file at {path}.")
            text = path.read_text(encoding="utf-8")
        out[title.strip()] = text
    return out


@_command("card")
def card(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Option(..., "--version", "-v", help="Version to describe."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    html: bool = typer.Option(False, "--html", help="Self-contained HTML instead of Markdown."),
    section: list[str] = typer.Option(
        [], "--section", help="Extra section 'Title=text' or 'Title=@file.md' (repeatable)."
    ),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Write the model card of a version (Markdown by default)."""
    client = client_for(tracking_uri)
    text = client.write_model_card(
        name, version, output, html=html, extra_sections=_sections(section)
    )
    if output is None:
        typer.echo(text, nl=False)
    else:
        console.print(
            f"Wrote the model card of {name} version {version} to {output}",
            highlight=False,
            soft_wrap=True,
        )


@_command("history")
def history(
    name: str = typer.Argument(..., help="Registered model name."),
    json_output: bool = JsonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Every recorded change of a model: who, when, what, old → new, why."""
    events = client_for(tracking_uri).get_model_history(name)
    if json_output:
        print_json({"events": [e.to_dict() for e in events]})
        return
    print_table(
        f"History of {name}",
        ["time", "actor", "action", "version", "change", "reason"],
        [
            (
                format_time(e.timestamp),
                e.actor,
                e.action,
                e.version or "",
                _change(e),
                e.reason or "",
            )
            for e in events
        ],
    )


def _change(event: AuditEvent) -> str:
    """`champion: 1 → 3`, `stage: None → Production`, or the one value that applies."""
    old, new = event.old_value, event.new_value
    prefix = f"{event.field}: " if event.field else ""
    if old is not None and new is not None:
        return f"{prefix}{old} → {new}"
    return prefix + (new if new is not None else f"{old} → (removed)" if old else "")


@_command("rollback")
def rollback(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Option(..., "--alias", help="Alias to move back, e.g. champion."),
    reason: str | None = ReasonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Point an alias back at the version it held before (from the audit trail)."""
    mv = client_for(tracking_uri).rollback_alias(name, alias, reason=reason)
    console.print(
        f"@{alias} of {name} rolled back to version {mv.version}", highlight=False, soft_wrap=True
    )


@_command("delete")
def delete(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int | None = typer.Option(None, "--version", "-v", help="Delete only this version."),
    force: bool = typer.Option(
        False, "--force", help="Delete a version even if aliases point to it (removes them)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting a model."),
    reason: str | None = ReasonOption,
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Delete a version, or a whole model with all its versions (its history is kept)."""
    client = client_for(tracking_uri)
    if version is not None:
        client.delete_model_version(name, version, force=force, reason=reason)
        console.print(f"Deleted {name} version {version}", highlight=False, soft_wrap=True)
        return
    if not yes:
        typer.confirm(f"Delete model {name!r} and all its versions?", abort=True)
    client.delete_registered_model(name, reason=reason)
    console.print(f"Deleted model {name}", highlight=False, soft_wrap=True)


__all__ = ["models_app"]
