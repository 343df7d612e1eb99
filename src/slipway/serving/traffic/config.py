"""The traffic file of `slipway serve --traffic`: read, checked, normalised (`TrafficConfig`).

Every problem in a file is collected before anything is raised, so one `TrafficConfigError`
lists them all (the CLI prints them and exits 2). Sections of strategies other than the
chosen one may stay in the file (switching strategy is then a one-word edit); they are
checked too when present. `to_dict()` gives the normalised form (durations in seconds,
defaults filled, the state folder absolute) that travels to worker processes inside
`ServeConfig.traffic` and reads back with `from_dict` unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from slipway import config as slipway_config
from slipway.errors import InvalidParameterValue

STRATEGIES = ("split", "ab", "shadow", "canary", "bandit")
REWARDS = ("binary", "gaussian")
TOP_KEYS = ("name", "variants", "strategy", "split", "ab", "shadow", "canary", "bandit", "state")
VARIANT_KEYS = ("model", "batching")
SHADOW_DEFAULTS: dict[str, Any] = {"queue": 1000, "max_wait_ms": 20.0, "sample": 1.0}
CANARY_DEFAULTS: dict[str, Any] = {
    "start": 5.0,
    "step": 15.0,
    "every": 600.0,
    "max_error_rate": 0.01,
    "max_p99_ms": None,
    "min_requests": 100,
    "promote_alias": None,
    "error_rate_margin": 0.005,
    "p99_margin": 0.5,
    "min_feedback": 30,
    "outcome_margin": 0.05,
}
BANDIT_DEFAULTS: dict[str, Any] = {"reward": "binary", "min_explore": 0.05}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class TrafficConfigError(InvalidParameterValue):
    """A traffic file that cannot be served; `problems` lists every one found."""

    def __init__(self, problems: list[str], source: str = "the traffic file") -> None:
        text = f"Invalid traffic configuration in {source}:\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        super().__init__(text, problems=problems)
        self.problems = problems


@dataclass(frozen=True)
class Variant:
    """One model version (or moving alias) taking part: its name and where it comes from."""

    name: str
    model: str
    batching: bool | None = None


@dataclass(frozen=True)
class ShadowSettings:
    primary: str
    shadow: str
    queue: int = 1000  # copies in flight at most; more are shed (counted), never waited for
    max_wait_ms: float = 20.0  # the shadow's batcher waits this long for a fuller batch
    sample: float = 1.0  # share of routed requests copied (the shadow's model work is real)


@dataclass(frozen=True)
class CanarySettings:
    """The canary's schedule and limits (see `canary.py` for how they are applied)."""

    primary: str
    canary: str
    start: float = 5.0  # percent of traffic at the first step
    step: float = 15.0  # percent added at each healthy step
    every: float = 600.0  # seconds per step
    max_error_rate: float = 0.01  # absolute limit on the canary's 5xx share
    max_p99_ms: float | None = None  # absolute limit on the canary's p99 latency
    min_requests: int = 100  # canary requests a step needs before any decision
    promote_alias: str | None = None  # set to the canary's version at 100%
    error_rate_margin: float = 0.005  # canary error rate <= primary's + this
    p99_margin: float = 0.5  # canary p99 <= primary's * (1 + this) + 1 ms
    min_feedback: int = 30  # rewards per variant before the outcome is compared
    outcome_margin: float = 0.05  # canary mean reward >= primary's - this


@dataclass(frozen=True)
class BanditSettings:
    reward: str = "binary"  # binary (Beta-Bernoulli) | gaussian (Normal-Inverse-Gamma)
    min_explore: float = 0.05  # every variant keeps at least this share


@dataclass(frozen=True)
class TrafficConfig:
    """A checked traffic file: variants, strategy and the strategy's settings."""

    name: str
    variants: tuple[Variant, ...]
    strategy: str
    split: dict[str, float] | None = None
    ab_key: str | None = None
    shadow: ShadowSettings | None = None
    canary: CanarySettings | None = None
    bandit: BanditSettings | None = None
    state: str | None = None  # folder of the shared state (default: under SLIPWAY_HOME)
    source: str = field(default="the traffic file", compare=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, doc: Any, source: str = "the traffic file") -> TrafficConfig:
        """Check a parsed traffic file (or `to_dict()` output); raises TrafficConfigError."""
        return _Checker(source).check(doc)

    def to_dict(self) -> dict[str, Any]:
        """The normalised file: reads back with `from_dict` to an equal config."""
        out: dict[str, Any] = {
            "name": self.name,
            "variants": {v.name: _variant_dict(v) for v in self.variants},
            "strategy": self.strategy,
        }
        if self.split is not None:
            out["split"] = dict(self.split)
        if self.ab_key is not None:
            out["ab"] = {"key": self.ab_key}
        for section in ("shadow", "canary", "bandit"):
            value = getattr(self, section)
            if value is not None:
                out[section] = asdict(value)
        if self.state is not None:
            out["state"] = self.state
        return out

    # ------------------------------------------------------------------ facts
    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def model_uris(self) -> list[str]:
        return [v.model for v in self.variants]

    @property
    def key_header(self) -> bytes | None:
        """The request header carrying the sticky key (`user_id` -> `x-user-id`)."""
        if self.ab_key is None:
            return None
        return ("x-" + self.ab_key.lower().replace("_", "-")).encode("latin-1")

    def initial_weights(self) -> dict[str, float]:
        """The split the file asks for before anything moved it (percent per variant)."""
        names = self.variant_names
        if self.strategy in ("split", "ab"):
            assert self.split is not None
            return {n: float(self.split.get(n, 0.0)) for n in names}
        if self.strategy == "shadow":
            assert self.shadow is not None
            return {n: 100.0 if n == self.shadow.primary else 0.0 for n in names}
        if self.strategy == "canary":
            assert self.canary is not None
            c = self.canary
            return {
                n: (100.0 - c.start if n == c.primary else c.start if n == c.canary else 0.0)
                for n in names
            }
        return {n: 100.0 / len(names) for n in names}

    def state_dir(self) -> Path:
        """Where the live state lives: `state:` of the file, else $SLIPWAY_HOME/traffic/<name>."""
        if self.state:
            return Path(self.state)
        return slipway_config.home() / "traffic" / self.name

    def fingerprint(self) -> str:
        """What identifies the experiment's state: a changed file starts from a fresh state.

        Limits, intervals and queue sizes are left out: editing them keeps the state.
        """
        doc: dict[str, Any] = {
            "name": self.name,
            "strategy": self.strategy,
            "variants": {v.name: v.model for v in self.variants},
            "split": self.split,
        }
        if self.canary is not None:
            c = self.canary
            doc["canary"] = [c.primary, c.canary, c.start, c.step, c.promote_alias]
        if self.bandit is not None:
            doc["bandit"] = self.bandit.reward
        raw = json.dumps(doc, sort_keys=True).encode()
        return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _variant_dict(variant: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {"model": variant.model}
    if variant.batching is not None:
        out["batching"] = variant.batching
    return out


def load_traffic_config(path: str | Path) -> TrafficConfig:
    """Read and check a traffic YAML file (TrafficConfigError lists every problem)."""
    import yaml

    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrafficConfigError([f"cannot read the file: {exc.strerror or exc}"], source) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TrafficConfigError([f"not valid YAML: {exc}"], source) from None
    if isinstance(doc, dict):
        _relative_to(doc, path.parent)
    return TrafficConfig.from_dict(doc, source)


def _relative_to(doc: dict[str, Any], folder: Path) -> None:
    """Relative folders in a file (`state:`, local models) are relative to the file."""

    def anchored(value: str) -> str:
        local = Path(value).expanduser()
        return str(local if local.is_absolute() else (folder / local).absolute())

    if isinstance(doc.get("state"), str) and doc["state"]:
        doc["state"] = anchored(doc["state"])
    variants = doc.get("variants")
    if not isinstance(variants, dict):
        return
    for name, spec in variants.items():
        model = spec.get("model") if isinstance(spec, dict) else spec
        if isinstance(model, str) and model.strip() and ":" not in model:
            if isinstance(spec, dict):
                spec["model"] = anchored(model.strip())
            else:
                variants[name] = anchored(model.strip())


def parse_duration(value: Any) -> float | None:
    """Seconds in `10m`, `30s`, `500ms`, `1h` or a plain number of seconds; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return None


class _Checker:
    """Collects every problem of one file, then builds the config or raises."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def check(self, doc: Any) -> TrafficConfig:
        if not isinstance(doc, dict):
            got = "an empty file" if doc is None else f"a {type(doc).__name__}"
            raise TrafficConfigError(
                [f"the file must be a mapping with name, variants and strategy; got {got}"],
                self.source,
            )
        for key in doc:
            if key not in TOP_KEYS:
                self.problem(f"unknown key {key!r} (known: {', '.join(TOP_KEYS)})")
        name = doc.get("name")
        if name is None:
            self.problem("missing key 'name' (the experiment's name)")
        elif not isinstance(name, str) or not _NAME.match(name):
            self.problem(
                f"name must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter "
                f"or digit), got {name!r}"
            )
        variants = self._variants(doc.get("variants"))
        raw_variants = doc.get("variants")
        names = [str(n) for n in raw_variants] if isinstance(raw_variants, dict) else []
        strategy = doc.get("strategy")
        if strategy is None:
            self.problem(f"missing key 'strategy' (one of {', '.join(STRATEGIES)})")
        elif strategy not in STRATEGIES:
            self.problem(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
        needs = {"split": ("split",), "ab": ("split", "ab"), "shadow": ("shadow",)}
        needs.update({"canary": ("canary",), "bandit": ()})
        for section in needs.get(strategy, ()) if isinstance(strategy, str) else ():
            if doc.get(section) is None:
                self.problem(f"strategy {strategy!r} needs a '{section}' section")
        split = self._split(doc.get("split"), names) if doc.get("split") is not None else None
        ab_key = self._ab(doc.get("ab")) if doc.get("ab") is not None else None
        shadow = self._shadow(doc.get("shadow"), names) if doc.get("shadow") is not None else None
        canary = self._canary(doc.get("canary"), names, variants)
        bandit = self._bandit(doc.get("bandit"), names, strategy == "bandit")
        state = doc.get("state")
        if state is not None and (not isinstance(state, str) or not state):
            self.problem(f"state must be a folder path, got {state!r}")
        if isinstance(name, str) and name in names:
            self.problem(f"name {name!r} is also a variant's name: give the experiment its own")
        if strategy in ("shadow", "canary", "bandit") and len(names) < 2:
            self.problem(f"strategy {strategy!r} needs at least two variants")
        if self.problems:
            raise TrafficConfigError(self.problems, self.source)
        return TrafficConfig(
            name=name,
            variants=tuple(variants),
            strategy=strategy,
            split=split,
            ab_key=ab_key,
            shadow=shadow,
            canary=canary,
            bandit=bandit,
            state=state,
            source=self.source,
        )

    # ------------------------------------------------------------------ sections
    def _mapping(self, value: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(f"{where} must be a mapping, got {type(value).__name__}")
            return None
        return value

    def _variants(self, raw: Any) -> list[Variant]:
        if raw is None:
            self.problem("missing key 'variants' (name: {model: <model URI>} for each)")
            return []
        doc = self._mapping(raw, "variants")
        if doc is None:
            return []
        if not doc:
            self.problem("variants is empty: give at least one")
        out = []
        for name, spec in doc.items():
            where = f"variants.{name}"
            if not isinstance(name, str) or not _NAME.match(name):
                self.problem(f"variant name {name!r} must be 1-64 letters, digits, '.', '_', '-'")
                continue
            if isinstance(spec, str):
                spec = {"model": spec}
            spec = self._mapping(spec, where)
            if spec is None:
                continue
            for key in spec:
                if key not in VARIANT_KEYS:
                    self.problem(f"{where}: unknown key {key!r} (known: {', '.join(VARIANT_KEYS)})")
            model = spec.get("model")
            if model is None:
                self.problem(f"{where}: missing key 'model' (a model URI)")
                continue
            if not isinstance(model, str) or not model.strip():
                self.problem(f"{where}.model must be a model URI, got {model!r}")
                continue
            batching = spec.get("batching")
            if batching is not None and not isinstance(batching, bool):
                self.problem(f"{where}.batching must be true or false, got {batching!r}")
                batching = None
            out.append(Variant(name, model.strip(), batching))
        return out

    def _known(self, name: Any, names: list[str], where: str) -> str | None:
        if name is None:
            self.problem(f"missing key '{where}' (a variant name)")
            return None
        if name not in names:
            self.problem(f"{where}: unknown variant {name!r} (variants: {', '.join(names)})")
            return None
        return str(name)

    def _split(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        doc = self._mapping(raw, "split")
        if doc is None:
            return None
        return check_weights(doc, names, self.problems, "split")

    def _ab(self, raw: Any) -> str | None:
        doc = self._mapping(raw, "ab")
        if doc is None:
            return None
        for key in doc:
            if key != "key":
                self.problem(f"ab: unknown key {key!r} (known: key)")
        key = doc.get("key")
        if key is None:
            self.problem("ab: missing key 'key' (the request field or header to stick on)")
            return None
        if not isinstance(key, str) or not _KEY.match(key):
            self.problem(f"ab.key must be letters, digits, '_' or '-', got {key!r}")
            return None
        return key

    def _settings(
        self, raw: Any, section: str, defaults: dict[str, Any], required: tuple[str, ...]
    ) -> dict[str, Any] | None:
        doc = self._mapping(raw, section)
        if doc is None:
            return None
        known = (*required, *defaults)
        for key in doc:
            if key not in known:
                self.problem(f"{section}: unknown key {key!r} (known: {', '.join(known)})")
        return {**defaults, **{k: v for k, v in doc.items() if k in known}}

    def _number(
        self,
        doc: dict[str, Any],
        key: str,
        where: str,
        *,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
        integer: bool = False,
        optional: bool = False,
    ) -> Any:
        value = doc.get(key)
        if value is None and optional:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (not integer or float(value).is_integer())
        ok = ok and (low is None or value >= low) and (high is None or value <= high)
        ok = ok and (above is None or value > above)
        if not ok:
            kind = "a whole number" if integer else "a number"
            bounds = []
            if low is not None:
                bounds.append(f">= {low:g}")
            if above is not None:
                bounds.append(f"> {above:g}")
            if high is not None:
                bounds.append(f"<= {high:g}")
            limits = f" ({', '.join(bounds)})" if bounds else ""
            self.problem(f"{where}.{key} must be {kind}{limits}, got {value!r}")
            return None
        return int(value) if integer else float(value)

    def _shadow(self, raw: Any, names: list[str]) -> ShadowSettings | None:
        doc = self._settings(raw, "shadow", SHADOW_DEFAULTS, ("primary", "shadow"))
        if doc is None:
            return None
        primary = self._known(doc.get("primary"), names, "shadow.primary")
        shadow = self._known(doc.get("shadow"), names, "shadow.shadow")
        if primary is not None and primary == shadow:
            self.problem("shadow: primary and shadow must be two different variants")
        queue = self._number(doc, "queue", "shadow", low=1, integer=True)
        wait = self._number(doc, "max_wait_ms", "shadow", low=0, high=10_000)
        sample = self._number(doc, "sample", "shadow", above=0, high=1)
        if primary is None or shadow is None or queue is None or wait is None or sample is None:
            return None
        return ShadowSettings(primary, shadow, queue, wait, sample)

    def _canary(self, raw: Any, names: list[str], variants: list[Variant]) -> CanarySettings | None:
        if raw is None:
            return None
        doc = self._settings(raw, "canary", CANARY_DEFAULTS, ("primary", "canary"))
        if doc is None:
            return None
        before = len(self.problems)
        primary = self._known(doc.get("primary"), names, "canary.primary")
        canary = self._known(doc.get("canary"), names, "canary.canary")
        if primary is not None and primary == canary:
            self.problem("canary: primary and canary must be two different variants")
        values: dict[str, Any] = {"primary": primary, "canary": canary}
        values["start"] = self._number(doc, "start", "canary", above=0, high=100)
        values["step"] = self._number(doc, "step", "canary", above=0, high=100)
        every = parse_duration(doc.get("every"))
        if every is None or every <= 0:
            self.problem(
                f"canary.every must be a duration like 10m, 30s or 500ms, got {doc.get('every')!r}"
            )
        values["every"] = every
        values["max_error_rate"] = self._number(doc, "max_error_rate", "canary", low=0, high=1)
        values["max_p99_ms"] = self._number(doc, "max_p99_ms", "canary", above=0, optional=True)
        values["min_requests"] = self._number(doc, "min_requests", "canary", low=1, integer=True)
        values["error_rate_margin"] = self._number(
            doc, "error_rate_margin", "canary", low=0, high=1
        )
        values["p99_margin"] = self._number(doc, "p99_margin", "canary", low=0)
        values["min_feedback"] = self._number(doc, "min_feedback", "canary", low=1, integer=True)
        values["outcome_margin"] = self._number(doc, "outcome_margin", "canary", low=0)
        alias = doc.get("promote_alias")
        if alias is not None:
            if not isinstance(alias, str) or not _KEY.match(alias):
                self.problem(f"canary.promote_alias must be an alias name, got {alias!r}")
            elif canary is not None:
                model = next((v.model for v in variants if v.name == canary), "models:/")
                if not model.startswith("models:/") or model.startswith("models:/m-"):
                    self.problem(
                        f"canary.promote_alias needs the canary to be a registered model "
                        f"(models:/name@alias or models:/name/<version>), got {model!r}"
                    )
        values["promote_alias"] = alias
        if len(self.problems) > before:
            return None
        return CanarySettings(**values)

    def _bandit(self, raw: Any, names: list[str], chosen: bool) -> BanditSettings | None:
        if raw is None:
            return BanditSettings() if chosen else None
        doc = self._settings(raw, "bandit", BANDIT_DEFAULTS, ())
        if doc is None:
            return None
        reward = doc.get("reward")
        if reward not in REWARDS:
            self.problem(f"bandit.reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        explore = self._number(doc, "min_explore", "bandit", low=0, high=1)
        if explore is not None and names and explore * len(names) > 1:
            self.problem(
                f"bandit.min_explore is {explore:g} for {len(names)} variants: together they "
                f"would need {explore * len(names):.0%} of the traffic (at most 1/{len(names)})"
            )
            explore = None
        if reward not in REWARDS or explore is None:
            return None
        return BanditSettings(reward, explore)


def check_weights(
    raw: dict[str, Any], names: list[str], problems: list[str], where: str = "weights"
) -> dict[str, float] | None:
    """Percent per variant from `raw`, adding what is wrong to `problems`.

    Every name must be a variant; variants left out get 0; the weights sum to 100.
    """
    weights: dict[str, float] = {}
    before = len(problems)
    for name, value in raw.items():
        if name not in names:
            problems.append(f"{where}: unknown variant {name!r} (variants: {', '.join(names)})")
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or number < 0:
            problems.append(f"{where}.{name} must be a number >= 0 (a percentage), got {value!r}")
            continue
        weights[str(name)] = float(number)
    total = sum(weights.values())
    if abs(total - 100.0) > 1e-6:
        shown = ", ".join(f"{k}={v:g}" for k, v in weights.items()) or "nothing"
        problems.append(f"{where}: the weights must sum to 100, got {total:g} ({shown})")
    if len(problems) > before:
        return None
    return {n: weights.get(n, 0.0) for n in names}


__all__ = [
    "BanditSettings",
    "CanarySettings",
    "STRATEGIES",
    "ShadowSettings",
    "TrafficConfig",
    "TrafficConfigError",
    "Variant",
    "check_weights",
    "load_traffic_config",
    "parse_duration",
]
