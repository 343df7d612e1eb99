"""The `--tracking-uri` option every command shares, and turning it into a Client."""

from __future__ import annotations

import typer

from slipway.errors import ResourceDoesNotExist
from slipway.tracking.client import Client

TrackingUriOption = typer.Option(
    None,
    "--tracking-uri",
    envvar="SLIPWAY_TRACKING_URI",
    help="Store to use: a path, sqlite:///…, postgresql://… or http(s)://… of a server.",
    show_default="./slipway-data/slipway.db",
)


def client_for(tracking_uri: str | None) -> Client:
    return Client(tracking_uri)


def resolve_experiment_id(client: Client, name_or_id: str) -> str:
    """Accept an experiment name or id on the command line."""
    experiment = client.get_experiment_by_name(name_or_id)
    if experiment is not None:
        return experiment.experiment_id
    if not name_or_id.isdigit():
        raise ResourceDoesNotExist(
            f"No experiment is named {name_or_id!r}. `slipway experiments list` shows the "
            "names and ids there are."
        )
    return client.get_experiment(name_or_id).experiment_id


__all__ = [
    "TrackingUriOption",
    "client_for",
    "resolve_experiment_id",
]
