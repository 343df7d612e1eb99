"""`slipway`: the command line. Each group lives in its own module; this one wires them."""

from __future__ import annotations

import sys

import typer

from slipway import __version__
from slipway.cli import deploy, experiment, experiments, monitor, runs, serve, traffic
from slipway.cli.drift import drift_command, profile_command
from slipway.cli.models import models_app
from slipway.cli.output import err_console
from slipway.cli.predict import predict, predictions_app
from slipway.errors import SlipwayError

app = typer.Typer(
    name="slipway",
    help="Track, register, serve and monitor machine-learning models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(models_app, name="models")
app.command("drift")(drift_command)
app.command("profile")(profile_command)
app.add_typer(predictions_app, name="predictions")
app.command("predict")(predict)
app.command("serve")(serve.serve)
app.add_typer(experiment.app, name="experiment")
app.add_typer(deploy.app, name="deploy")
app.add_typer(monitor.app, name="monitor")
models_app.command("approve")(monitor.approve_command)
app.add_typer(traffic.app, name="traffic")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slipway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Track, register, serve and monitor machine-learning models."""


@app.command("server")
def server(
    backend_store_uri: str | None = typer.Option(
        None,
        envvar="SLIPWAY_TRACKING_URI",
        help="Metadata store: sqlite:///… or postgresql://… (default ./slipway-data/slipway.db).",
    ),
    artifacts_destination: str | None = typer.Option(
        None,
        help="Where proxied artifacts go: folder or fsspec URL (default ./slipway-data/artifacts).",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(5000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    monitors: bool = typer.Option(
        False, "--monitors", help="Also run every monitor on its schedule (as monitor watch)."
    ),
) -> None:
    """Run the tracking server (MLflow REST protocol + artifact proxy) and the web UI at /."""
    from slipway.server.app import run_server

    if monitors:
        from slipway.monitoring.monitors import start_watching
        from slipway.tracking.client import Client

        start_watching(Client(backend_store_uri))

    run_server(
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        host=host,
        port=port,
        workers=workers,
    )


@app.command("ui")
def ui(
    backend_store_uri: str | None = typer.Option(
        None,
        envvar="SLIPWAY_TRACKING_URI",
        help="Metadata store (default: the embedded ./slipway-data/slipway.db).",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(5000, help="Port to listen on."),
) -> None:
    """Browse experiments, runs and models in the web UI (the server, on the embedded store)."""
    from slipway.server.app import run_server

    typer.echo(f"slipway web UI at http://{host}:{port}/  (Ctrl+C to stop)")
    run_server(backend_store_uri=backend_store_uri, host=host, port=port, access_log=False)


@app.command("demo")
def demo() -> None:
    """Run a small tracked training job on the embedded store and say where it went."""
    from slipway.demo.run import run_demo

    run_demo()


def main() -> None:
    """Console entry point: SlipwayErrors become one line on stderr and exit code 1."""
    try:
        app(standalone_mode=True)
    except SlipwayError as exc:
        err_console.print(f"[bold red]Error[/] ({exc.error_code}): {exc.message}")
        sys.exit(1)


if __name__ == "__main__":
    main()


__all__ = [
    "app",
    "main",
]
