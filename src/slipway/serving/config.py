"""What `slipway serve` was asked to do, as one plain object (`ServeConfig`).

The CLI fills it from its options; `create_app(config)` and `run(config)` read it. With
several worker processes it travels to each worker as JSON in an environment variable
(`to_env` / `from_env`), since every worker builds its own app and loads its own models.

`traffic` holds a traffic file (`slipway serve --traffic`), as parsed YAML or as
`TrafficConfig.to_dict()`: it is checked here, and its variants' models are the URIs served.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from slipway.errors import InvalidParameterValue

CONFIG_ENV = "SLIPWAY_SERVE_CONFIG"

# Rows per model call. 64 made every 64-row request a call of its own; 1024 lets 16 such
# requests share one call (measurements: benchmarks/RESULTS.md, Serving, "--max-batch-size").
DEFAULT_MAX_BATCH_SIZE = 1024
# A short wait lets concurrent single-row requests share one model call without making a
# lone caller wait long after a burst (measurements: benchmarks/RESULTS.md, Serving).
DEFAULT_MAX_WAIT_MS = 2.0
DEFAULT_POLL_INTERVAL_S = 10.0
DEFAULT_MAX_BODY_MB = 64.0
DEFAULT_REQUEST_TIMEOUT_S = 60.0
DEFAULT_DRAIN_SECONDS = 5.0


@dataclass
class ServeConfig:
    """Settings of one `slipway serve` process (all its workers share them)."""

    model_uris: list[str]
    tracking_uri: str | None = None
    name: str | None = None  # served name of the only model (local folders default to theirs)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    batching: bool = True  # False turns batching off for every model
    model_batching: dict[str, bool] = field(default_factory=dict)  # per served name
    fast_forests: bool = True  # sklearn forests without their per-tree Python (forest.py)
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    prediction_log: bool = True
    log_sample_rate: float = 1.0
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    allow_pickle: bool = False
    log_level: str = "info"
    access_log: bool = False
    traffic: dict[str, Any] | None = None  # a traffic file: variants and strategy

    def __post_init__(self) -> None:
        problems = []
        if self.traffic is not None:
            self._take_traffic(problems)
        elif not self.model_uris:
            problems.append("give at least one model URI")
        if self.name is not None and len(self.model_uris) != 1:
            problems.append("--name names the only model; it cannot be used with several")
        if self.workers < 1:
            problems.append("workers must be at least 1")
        if self.max_batch_size < 1:
            problems.append("max batch size must be at least 1")
        if self.max_wait_ms < 0:
            problems.append("max wait must not be negative")
        if self.poll_interval_s <= 0:
            problems.append("poll interval must be positive")
        if not 0.0 <= self.log_sample_rate <= 1.0:
            problems.append("log sample rate must be between 0 and 1")
        if self.max_body_mb <= 0:
            problems.append("max body size must be positive")
        if self.request_timeout_s <= 0:
            problems.append("request timeout must be positive")
        if self.drain_seconds < 0:
            problems.append("drain seconds must not be negative")
        if problems:
            raise InvalidParameterValue("Invalid serve settings: " + "; ".join(problems) + ".")

    def _take_traffic(self, problems: list[str]) -> None:
        from slipway.serving.traffic.config import TrafficConfig

        traffic = TrafficConfig.from_dict(self.traffic)  # TrafficConfigError lists its problems
        uris = traffic.model_uris()
        if self.model_uris and list(self.model_uris) != uris:
            problems.append(
                "give the models either as URIs or in a traffic file, not both (the traffic "
                "file names each variant's model)"
            )
        if self.name is not None:
            problems.append("--name cannot be used with a traffic file: variants are named there")
        if traffic.strategy == "bandit" and not self.prediction_log:
            problems.append(
                "the bandit learns from POST /feedback, which needs the prediction log "
                "(drop --no-prediction-log)"
            )
        self.traffic = traffic.to_dict()
        self.model_uris = uris
        for variant in traffic.variants:
            if variant.batching is not None:
                self.model_batching.setdefault(variant.name, variant.batching)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def batching_for(self, name: str, vectorised: bool) -> bool:
        """Whether the model served as `name` batches: its switch, else on when vectorised."""
        if not self.batching:
            return False
        return self.model_batching.get(name, vectorised)

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise InvalidParameterValue(f"{CONFIG_ENV} is not set: start workers with run().")
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


def parse_model_batching(values: list[str]) -> dict[str, bool]:
    """`["churn=on", "custom=off"]` → `{"churn": True, "custom": False}`."""
    out = {}
    for value in values:
        name, sep, switch = value.rpartition("=")
        switch = switch.strip().lower()
        if not sep or not name or switch not in ("on", "off"):
            raise InvalidParameterValue(
                f"--model-batching takes NAME=on or NAME=off, got {value!r}"
            )
        out[name] = switch == "on"
    return out


__all__ = ["CONFIG_ENV", "ServeConfig", "parse_model_batching"]
