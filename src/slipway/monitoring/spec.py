"""What a monitor is told to do: its definition, checked, as stored in the metadata store.

    MonitorSpec.build(model="churn-classifier@champion", window="1h", drift_share=0.3,
                      min_rows=500, performance=["f1 drop 0.05"],
                      alerts=["webhook:http://127.0.0.1:9000/hook", "log"],
                      retrain="python train.py", promote="auto")

Durations are seconds or `90s`, `30m`, `1h`, `1d`. Alert targets: `log`, `audit` (the
model's audit trail), `webhook:URL` (JSON POST), `webhook+slack:URL` (a Slack-style
`{"text": ...}` payload). The retrain action is a shell command or `module:function`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from slipway.errors import InvalidParameterValue
from slipway.monitoring.performance import PerformanceRule

PROMOTION_POLICIES = ("auto", "approval", "none")
_DURATION_RE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
ENTRY_POINT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def parse_duration(value: Any, name: str = "duration", minimum: int = 1) -> int:
    """Seconds from `3600`, `"90s"`, `"30m"`, `"1h"`, `"1d"` (at least `minimum`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value).lower())
        if match is None:
            raise InvalidParameterValue(
                f"Invalid {name} {value!r}: use seconds or a number with s, m, h, d (e.g. 1h)."
            )
        seconds = float(match["n"]) * _UNITS[match["unit"]]
    if seconds < minimum:
        raise InvalidParameterValue(f"The {name} must be at least {minimum}s, got {value!r}.")
    return int(seconds)


def parse_alert_target(text: str) -> dict[str, Any]:
    """`log`, `audit`, `webhook:URL` or `webhook+slack:URL` as a stored target."""
    text = str(text).strip()
    if text in ("log", "audit"):
        return {"type": text}
    kind, _, url = text.partition(":")
    if kind in ("webhook", "webhook+slack") and url.startswith(("//", "http")):
        url = url if url.startswith("http") else "http:" + url
        return {"type": "webhook", "url": url, "slack": kind == "webhook+slack"}
    raise InvalidParameterValue(
        f"Invalid alert target {text!r}: use log, audit, webhook:URL or webhook+slack:URL."
    )


def target_text(target: dict[str, Any]) -> str:
    if target["type"] != "webhook":
        return target["type"]
    return f"webhook{'+slack' if target.get('slack') else ''}:{target['url']}"


@dataclass
class MonitorSpec:
    """A monitor's stored definition (see the module docstring for the shorthand)."""

    model: str
    alias: str | None = "champion"
    version: int | None = None
    window_s: int = 3600
    columns: list[str] | None = None
    tests: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    min_rows: int = 100
    min_labels: int = 30
    sample_rows: int | None = 100_000  # drift and quality on at most this many rows
    performance: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "log"}])
    alert_columns: list[str] = field(default_factory=list)
    alert_on_quality: bool = True
    cooldown_s: int = 3600
    retrain: str | None = None
    retrain_on: list[str] = field(default_factory=lambda: ["dataset_drift", "performance"])
    retrain_cooldown_s: int = 21600
    retrain_timeout_s: int = 3600
    promote: str = "auto"
    positive_label: Any = None
    serving_url: str | None = None
    max_error_rate: float | None = None
    max_latency_s: float | None = None
    prediction_log: str | None = None

    @classmethod
    def build(
        cls,
        model: str,
        *,
        window: Any = "1h",
        performance: list[str] | str | None = None,
        alerts: list[str] | None = None,
        cooldown: Any = "1h",
        retrain_cooldown: Any = "6h",
        retrain_timeout: Any = "1h",
        **options: Any,
    ) -> MonitorSpec:
        """A spec from the shorthand people type (`model@alias`, `"1h"`, alert strings)."""
        name, alias, version = _model_ref(model)
        rules = [performance] if isinstance(performance, str) else list(performance or [])
        spec = cls(
            model=name,
            alias=alias,
            version=version,
            window_s=parse_duration(window, "window"),
            performance=[PerformanceRule.parse(r).text for r in rules],
            alerts=[parse_alert_target(a) for a in alerts] if alerts else [{"type": "log"}],
            cooldown_s=parse_duration(cooldown, "cooldown", 0),
            retrain_cooldown_s=parse_duration(retrain_cooldown, "retrain cooldown", 0),
            retrain_timeout_s=parse_duration(retrain_timeout, "retrain timeout"),
            **{k: v for k, v in options.items() if v is not None},
        )
        return spec.checked()

    def checked(self) -> MonitorSpec:
        """This spec, after checking every field (raises InvalidParameterValue)."""
        if not 0 < float(self.drift_share) <= 1:
            raise InvalidParameterValue(f"drift_share must be in (0, 1], got {self.drift_share}.")
        if int(self.min_rows) < 1 or int(self.min_labels) < 1:
            raise InvalidParameterValue("min_rows and min_labels must be at least 1.")
        if self.promote not in PROMOTION_POLICIES:
            raise InvalidParameterValue(
                f"Invalid promotion policy {self.promote!r}: use auto, approval or none."
            )
        for rule in self.performance:
            PerformanceRule.parse(rule)
        if self.alias is None and self.version is None:
            raise InvalidParameterValue("A monitor watches model@alias or model/version.")
        return self

    @property
    def rules(self) -> list[PerformanceRule]:
        return [PerformanceRule.parse(r) for r in self.performance]

    @property
    def model_ref(self) -> str:
        return f"{self.model}@{self.alias}" if self.alias else f"{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _model_ref(text: str) -> tuple[str, str | None, int | None]:
    text = str(text).removeprefix("models:/")
    if "@" in text:
        name, alias = text.rsplit("@", 1)
        return name, alias, None
    if "/" in text:
        name, version = text.rsplit("/", 1)
        if version.isdigit():
            return name, None, int(version)
    return text, "champion", None


__all__ = [
    "ENTRY_POINT_RE",
    "PROMOTION_POLICIES",
    "MonitorSpec",
    "parse_alert_target",
    "parse_duration",
    "target_text",
]
