"""`slipway serve`: run the inference server for one or more models.

    slipway serve models:/churn@champion --host 0.0.0.0 --port 8000 --workers 2
    slipway serve models:/a@champion models:/b/3 ./local_model --tracking-uri http://…:5000
    slipway serve --traffic traffic.yaml --port 8000      # variants and a traffic strategy

A traffic file that does not check out is listed problem by problem, with exit code 2.

The command only turns options into a `ServeConfig` and calls `slipway.serving.run`; the
server itself (uvicorn, the models, Prometheus) is imported when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from slipway.cli.output import err_console
from slipway.cli.tracking_uri import TrackingUriOption
from slipway.errors import SlipwayError
from slipway.serving.config import (
    DEFAULT_DRAIN_SECONDS,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_WAIT_MS,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    ServeConfig,
    parse_model_batching,
)


def serve(
    model_uris: list[str] = typer.Argument(
        None,
        metavar="MODEL_URI...",
        help="models:/name@alias (followed as it moves), models:/name/3, models:/name/Stage, "
        "runs:/<run_id>/<path>, or a local model folder. The first is the default model.",
        show_default=False,
    ),
    traffic: Path | None = typer.Option(
        None,
        "--traffic",
        help="A traffic file (YAML): variants and how requests are shared between them "
        "(split, ab, shadow, canary, bandit). Replaces MODEL_URI.",
        dir_okay=False,
    ),
    tracking_uri: str | None = TrackingUriOption,
    name: str | None = typer.Option(
        None,
        "--name",
        help="Serve the only model under this name (default: its registered "
        "name, or the folder's name).",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Worker processes; each loads the models (metrics cover them all)."
    ),
    max_batch_size: int = typer.Option(
        DEFAULT_MAX_BATCH_SIZE, min=1, help="Most rows merged into one model call."
    ),
    max_wait_ms: float = typer.Option(
        DEFAULT_MAX_WAIT_MS,
        min=0,
        help="Longest an idle model waits for more concurrent requests to join a call "
        "(only when the previous call served more callers; a lone caller does not wait).",
    ),
    no_batching: bool = typer.Option(
        False, "--no-batching", help="Call every model once per request."
    ),
    model_batching: list[str] = typer.Option(
        [],
        "--model-batching",
        metavar="NAME=on|off",
        help="Batching for one served model (default: on for built-in flavors, off for "
        "custom PythonModels). Repeatable.",
    ),
    no_fast_forests: bool = typer.Option(
        False,
        "--no-fast-forests",
        help="Call scikit-learn's own predict for random forests and extra-trees too "
        "(by default their trees are walked without its per-tree Python: same answers).",
    ),
    poll_interval: float = typer.Option(
        DEFAULT_POLL_INTERVAL_S, min=0.01, help="Seconds between checks of followed aliases."
    ),
    log_sample_rate: float = typer.Option(
        1.0, min=0.0, max=1.0, help="Share of requests written to the prediction log."
    ),
    no_prediction_log: bool = typer.Option(
        False, "--no-prediction-log", help="Do not log predictions (POST /feedback is off too)."
    ),
    max_body_mb: float = typer.Option(
        DEFAULT_MAX_BODY_MB, min=0.001, help="Largest request body, in MiB (413 beyond)."
    ),
    request_timeout: float = typer.Option(
        DEFAULT_REQUEST_TIMEOUT_S, min=0.001, help="Seconds before a prediction answers 504."
    ),
    drain_seconds: float = typer.Option(
        DEFAULT_DRAIN_SECONDS,
        min=0,
        help="After SIGTERM, seconds to keep answering with /ready at 503 before closing.",
    ),
    allow_pickle: bool = typer.Option(
        False,
        "--allow-pickle",
        help="Load pickle-based models (only for models from a source you trust).",
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
) -> None:
    """Serve models over HTTP: /predict, MLflow's /invocations and Open Inference Protocol v2."""
    traffic_doc = None
    if traffic is not None:
        from slipway.serving.traffic.config import TrafficConfigError, load_traffic_config

        if model_uris:
            err_console.print(
                "[bold red]Error[/]: give the models either as MODEL_URI arguments or in "
                "the --traffic file, not both.",
                highlight=False,
            )
            raise typer.Exit(2)
        try:
            traffic_doc = load_traffic_config(traffic).to_dict()
        except TrafficConfigError as exc:
            err_console.print(
                f"[bold red]Error[/] ({exc.error_code}): {exc.message}", highlight=False
            )
            raise typer.Exit(2) from None
    elif not model_uris:
        err_console.print(
            "[bold red]Error[/]: give at least one MODEL_URI, or a --traffic file.", highlight=False
        )
        raise typer.Exit(2)
    try:
        config = ServeConfig(
            model_uris=list(model_uris or []),
            tracking_uri=tracking_uri,
            name=name,
            host=host,
            port=port,
            workers=workers,
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
            batching=not no_batching,
            model_batching=parse_model_batching(model_batching),
            fast_forests=not no_fast_forests,
            poll_interval_s=poll_interval,
            prediction_log=not no_prediction_log,
            log_sample_rate=log_sample_rate,
            max_body_mb=max_body_mb,
            request_timeout_s=request_timeout,
            drain_seconds=drain_seconds,
            allow_pickle=allow_pickle,
            log_level=log_level,
            access_log=access_log,
            traffic=traffic_doc,
        )
        from slipway.serving.app import run

        status = run(config)
    except SlipwayError as exc:
        err_console.print(
            f"[bold red]Error[/] ({exc.error_code}): {exc.message}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    if status:
        sys.exit(status)


__all__ = ["serve"]
