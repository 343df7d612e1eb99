"""`slipway experiments list|create|delete|restore`."""

from __future__ import annotations

import typer

from slipway.cli.output import console, format_time, print_json, print_table
from slipway.cli.tracking_uri import TrackingUriOption, client_for, resolve_experiment_id
from slipway.entities import ViewType

app = typer.Typer(help="Create, list and delete experiments.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY, help="Which lifecycle stages to show."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """List experiments."""
    client = client_for(tracking_uri)
    experiments, token = [], None
    while True:
        page = client.search_experiments(view_type=view, page_token=token)
        experiments.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    if json_output:
        print_json({"experiments": [e.to_dict() for e in experiments]})
        return
    print_table(
        "Experiments",
        ["id", "name", "stage", "created", "artifact location"],
        [
            (
                e.experiment_id,
                e.name,
                e.lifecycle_stage,
                format_time(e.creation_time),
                e.artifact_location,
            )
            for e in experiments
        ],
    )


@app.command("create")
def create_experiment(
    name: str = typer.Argument(..., help="Experiment name (unique)."),
    artifact_location: str | None = typer.Option(None, help="Where its runs keep artifacts."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Create an experiment and print its id."""
    experiment_id = client_for(tracking_uri).create_experiment(name, artifact_location)
    if json_output:
        print_json({"experiment_id": experiment_id})
    else:
        console.print(f"Created experiment [bold]{name}[/] with id {experiment_id}")


@app.command("delete")
def delete_experiment(
    experiment: str = typer.Argument(..., help="Experiment name or id."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Mark an experiment and its runs deleted (restore brings them back)."""
    client = client_for(tracking_uri)
    experiment_id = resolve_experiment_id(client, experiment)
    client.delete_experiment(experiment_id)
    console.print(f"Deleted experiment {experiment} (id {experiment_id})")


@app.command("restore")
def restore_experiment(
    experiment_id: str = typer.Argument(..., help="Experiment id."),
    tracking_uri: str | None = TrackingUriOption,
) -> None:
    """Restore a deleted experiment."""
    client_for(tracking_uri).restore_experiment(experiment_id)
    console.print(f"Restored experiment {experiment_id}")


__all__ = [
    "app",
]
