"""`TrafficController`: the traffic strategy of one server worker, as the app uses it.

On the request path (event loop, microseconds): `routes(name)` says whether a request is
routed, `choose(key)` picks its variant from the current `Split`, `done(...)` counts the
answer, and `mirror(...)` hands a copy to the shadow. `feedback(records)` credits rewards.
Everything else happens in `sync()`, four times a second: this worker's counts are written
to the shared state folder, the state (weights set live, canary progress) and every
worker's counts are read back, the canary is evaluated (one worker at a time, under the
folder's lock) and the bandit's split recomputed. File and registry I/O run in a thread;
the results are applied back on the event loop, where all of the controller's mutable
state lives, so the request path takes no lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway.errors import BadRequest, InvalidParameterValue
from slipway.serving.traffic import bandit, canary
from slipway.serving.traffic.config import TrafficConfig, check_weights
from slipway.serving.traffic.feedback import Handover, RequestMemory, Served, reward_of
from slipway.serving.traffic.routing import Split, key_from_body, key_text
from slipway.serving.traffic.shadow import CopyInput, Shadow
from slipway.serving.traffic.state import StateFolder
from slipway.serving.traffic.stats import Scopes, ShadowCounts, Window, merge

logger = logging.getLogger("slipway.serving")

SYNC_INTERVAL_S = 0.25
HISTORY_KEPT = 50
VARIANT_HEADER = b"x-slipway-variant"
AUDIT_ACTIONS = {
    "step": "canary_step",
    "rollback": "canary_rollback",
    "promote": "canary_promoted",
    "complete": "canary_complete",
    "restart": "canary_restart",
    "start": "canary_started",
}


@dataclass
class _Outcome:
    """What a sync read and decided (built in a thread, applied on the event loop)."""

    state: dict[str, Any]
    scopes: Scopes
    shadow: ShadowCounts
    workers: int
    waiting: list[list[Any]] = field(default_factory=list)  # other workers' unplaced feedback
    claimed: set[str] = field(default_factory=set)  # ids other workers credited
    bandit: dict[str, float] | None = None


@dataclass(frozen=True)
class _CanaryModel:
    """The canary's registry coordinates when a decision is taken."""

    registered_name: str | None
    version: str


class TrafficController:
    """Routes, counts and steers the traffic of one experiment in one worker."""

    def __init__(
        self,
        config: TrafficConfig,
        models: Any,
        metrics: Any = None,
        *,
        on_shadow_answer: Any = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.strategy = config.strategy
        self.variants = config.variant_names
        self.models = models  # the ModelRegistry: variants are its served names
        self.metrics = metrics
        self.sticky_key = config.ab_key if config.strategy == "ab" else None
        self.key_header = config.key_header if self.sticky_key else None
        self.headers = {v: [(VARIANT_HEADER, v.encode("latin-1"))] for v in self.variants}
        self.primary = self._primary()
        self.split = Split(config.initial_weights())
        self.windows = {v: Window() for v in self.variants}  # scope "total"
        self.step: int | None = None  # the canary step counted in step_windows
        self.step_windows = {v: Window() for v in self.variants}
        self.memory = RequestMemory()
        self.handover = Handover()
        self.ignored_rewards = 0
        self.folder = StateFolder(config.state_dir(), config.fingerprint())
        self.state: dict[str, Any] = {}
        self.scopes: Scopes = {}
        self.shadow_total = ShadowCounts()
        self.workers = 1
        self.last_sync: float | None = None
        self.shadow: Shadow | None = None
        if config.strategy == "shadow":
            assert config.shadow is not None
            self.shadow = Shadow(
                config.shadow.shadow,
                config.shadow.queue,
                self._model_of,
                on_shadow_answer or (lambda *a: None),
                metrics,
                self.name,
                config.shadow.sample,
                config.shadow.max_wait_ms / 1000.0,
            )
        names = {getattr(s, "model_name", None) or s.name for s in getattr(models, "sources", [])}
        self._routed = ({self.name} | names) - set(self.variants)
        self._rng = np.random.default_rng()
        self._announce = False
        self._task: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._stopping: asyncio.Event | None = None
        self._sync_failing = False

    def _primary(self) -> str:
        c = self.config
        if c.shadow is not None and c.strategy == "shadow":
            return c.shadow.primary
        if c.canary is not None and c.strategy == "canary":
            return c.canary.primary
        return self.variants[0]

    def _model_of(self, variant: str) -> Any:
        return self.models.get(variant)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open (or create) the shared state, apply it, and start syncing."""
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        state, created = await asyncio.to_thread(self._open)
        self._announce = created and self.strategy == "canary"
        self._apply(_Outcome(state, {}, ShadowCounts(), 1))
        if self.metrics is not None:
            self.metrics.traffic_weights(self.name, self.split.percent())
        logger.info(
            "Traffic %s (%s): %s; state in %s",
            self.name,
            self.strategy,
            ", ".join(f"{v} {w:g}%" for v, w in self.split.percent().items()),
            self.folder.path,
        )
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _open(self) -> tuple[dict[str, Any], bool]:
        created = []

        def initial() -> dict[str, Any]:
            created.append(True)
            state: dict[str, Any] = {"history": []}
            if self.strategy in ("split", "ab"):
                state["weights"] = self.config.initial_weights()
            if self.strategy == "canary":
                assert self.config.canary is not None
                state["canary"] = canary.initial_state(self.config.canary, time.time())
            return state

        state = self.folder.open(initial)
        return state, bool(created)

    async def _run(self) -> None:
        assert self._stopping is not None
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), SYNC_INTERVAL_S)
                return
            except TimeoutError:
                pass
            try:
                await self.sync()
                if self._sync_failing:
                    logger.info("Traffic state of %s is readable again", self.name)
                self._sync_failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self._sync_failing:
                    logger.exception("Could not sync the traffic state of %s", self.name)
                self._sync_failing = True

    async def close(self) -> None:
        """Stop syncing, cancel shadow copies, leave this worker's counts in the archive."""
        if self._task is not None and self._stopping is not None:
            # Not cancelled: a sync cut off mid-write could land after the last one.
            self._stopping.set()
            try:
                await self._task
            except Exception:
                pass
        if self.shadow is not None:
            await self.shadow.close()
        try:
            await self.sync()
            await asyncio.to_thread(self.folder.retire)
        except Exception:
            logger.warning("Could not save the traffic counts of this worker", exc_info=True)

    # ------------------------------------------------------------------ request path
    def routes(self, name: str | None) -> bool:
        """Whether a request for `name` (None: no name) is routed between the variants."""
        return name is None or name in self._routed

    def key_of(self, headers: list[tuple[bytes, bytes]], doc: Any = None) -> str | None:
        """The sticky key of a request: its `x-<key>` header, else the body field."""
        if self.key_header is None:
            return None
        for name, value in headers:
            if name == self.key_header:
                return key_text(value.decode("latin-1")) if value else None
        if doc is not None:
            return key_from_body(doc, self.sticky_key or "")
        return None

    def choose(self, key: str | None = None) -> str:
        """The variant that answers a routed request."""
        return self.split.choose(key) or self.primary

    def done(
        self, variant: str, status: int, seconds: float, request_id: str, predictions: Any
    ) -> None:
        """Count a routed request's answer (and remember it for feedback when it succeeded)."""
        failed = status >= 500
        window = self.windows.get(variant)
        if window is None:
            return
        window.count(failed, seconds)
        if self.step is not None:
            self.step_windows[variant].count(failed, seconds)
        if status < 400:
            self.memory.remember(request_id, variant, predictions)

    def mirror(
        self, variant: str, request_id: str, make_input: CopyInput, primary: Any, seconds: float
    ) -> None:
        """Copy a request the primary answered (`primary`: its predictions, `seconds`: its
        model call) to the shadow (shadow strategy only)."""
        if self.shadow is not None and variant == self.primary:
            self.shadow.mirror(request_id, make_input, primary, seconds)

    # ------------------------------------------------------------------ feedback
    def feedback(self, records: list[Any]) -> None:
        """Credit the rewards of feedback records the prediction log accepted."""
        for record in records:
            if not isinstance(record, dict) or record.get("request_id") is None:
                continue
            request_id = str(record["request_id"])
            served = self.memory.get(request_id)
            if served is None:
                self.handover.wait(request_id, record)
            else:
                self._credit(served, record)

    def _credit(self, served: Served, record: dict[str, Any]) -> None:
        value = reward_of(record, served)
        if value is not None and self.config.bandit is not None and self.strategy == "bandit":
            value = bandit.reward_value(self.config.bandit.reward, value)
        if value is None:
            self.ignored_rewards += 1
            return
        window = self.windows.get(served.variant)
        if window is None:
            return
        window.reward(value)
        if self.step is not None:
            self.step_windows[served.variant].reward(value)
        if self.metrics is not None:
            self.metrics.traffic_reward(self.name, served.variant)

    # ------------------------------------------------------------------ sync
    async def sync(self) -> None:
        """Exchange counts and state with the other workers; apply what changed."""
        assert self._lock is not None
        async with self._lock:
            doc = self._worker_doc()
            context = self._canary_model()
            outcome = await asyncio.to_thread(self._exchange, doc, context)
            self._apply(outcome)

    def _worker_doc(self) -> dict[str, Any]:
        scopes = {"total": {v: w.to_json() for v, w in self.windows.items()}}
        if self.step is not None:
            scopes[f"step:{self.step}"] = {v: w.to_json() for v, w in self.step_windows.items()}
        waiting, claimed = self.handover.published()
        doc: dict[str, Any] = {
            "worker": self.folder.worker_id,
            "pid": os.getpid(),
            "updated": time.time(),
            "scopes": scopes,
            "waiting": waiting,
            "claimed": claimed,
        }
        if self.shadow is not None:
            self.shadow.report_metrics()
            doc["shadow"] = self.shadow.counts.to_json()
        return doc

    def _canary_model(self) -> _CanaryModel | None:
        settings = self.config.canary
        if self.strategy != "canary" or settings is None or not self.models.loaded:
            return None
        model = self.models.get(settings.canary)
        source = self.models.source_of(settings.canary)
        return _CanaryModel(getattr(source, "registered_name", None), model.version)

    def _exchange(self, doc: dict[str, Any], context: _CanaryModel | None) -> _Outcome:
        """In a thread: write our counts, read everyone's, decide (canary), read the state."""
        folder = self.folder
        folder.write_worker(doc)
        docs = folder.worker_docs()
        scopes, shadow = merge(docs)
        state = folder.read() or self.state
        if context is not None:
            if self._announce:
                self._announce = False
                percent = (state.get("canary") or {}).get("percent")
                reason = f"{self.name}: canary {self.config.canary.canary} starts at {percent:g}%"  # type: ignore[union-attr]
                self._audit("start", reason, context)
            state = self._decide(state, scopes, context)
        me = folder.worker_id
        others = [d for d in docs if d.get("worker") not in (None, me)]
        waiting = [w for d in others for w in d.get("waiting") or [] if isinstance(w, list)]
        claimed = {str(r) for d in others for r in d.get("claimed") or []}
        allocation = None
        if self.strategy == "bandit" and self.config.bandit is not None:
            allocation = self._allocation(scopes.get("total", {}))
        live = sum(1 for d in docs if d.get("worker") is not None)
        return _Outcome(state, scopes, shadow, max(live, 1), waiting, claimed, allocation)

    def _decide(
        self, state: dict[str, Any], scopes: Scopes, context: _CanaryModel
    ) -> dict[str, Any]:
        settings = self.config.canary
        assert settings is not None
        current = state.get("canary") or {}
        now = time.time()
        step = current.get("step")
        decision = canary.evaluate(settings, current, scopes.get(f"step:{step}", {}), now)
        if decision is None:
            return state
        reason = f"{self.name}: {decision.reason}"

        def change(latest: dict[str, Any]) -> dict[str, Any] | None:
            mine = latest.get("canary") or {}
            if mine.get("step") != step or mine.get("status") != canary.RUNNING:
                return None  # another worker decided this step already
            updated = dict(mine)
            updated["percent"] = decision.percent
            if decision.action == "rollback":
                updated["status"] = canary.ROLLED_BACK
            elif decision.action == "promote":
                updated["status"] = canary.PROMOTED
            elif decision.action == "complete":
                updated["status"] = canary.COMPLETE
            else:
                updated["step"] = int(step) + 1
                updated["step_started"] = now
            latest["canary"] = updated
            _remember(latest, decision.action, reason, version=context.version, **decision.numbers)
            return latest

        new, changed = self.folder.update(change)
        if changed:
            log = logger.warning if decision.action == "rollback" else logger.info
            log("%s", reason)
            self._audit(decision.action, reason, context)
        return new

    def _audit(self, action: str, reason: str, context: _CanaryModel) -> None:
        """Write a canary decision to the registry's audit trail (and move the alias)."""
        if context.registered_name is None:
            return  # not a registered model: no audit trail to write to
        settings = self.config.canary
        assert settings is not None
        version: int | str = int(context.version) if context.version.isdigit() else context.version
        try:
            client = self.models.client()
            if action == "promote" and settings.promote_alias:
                client.set_registered_model_alias(
                    context.registered_name, settings.promote_alias, version, reason=reason[:1000]
                )
            client.record_model_event(
                context.registered_name,
                AUDIT_ACTIONS[action],
                version=version,
                reason=reason[:1000],
            )
        except Exception:
            logger.exception(
                "Could not write the canary's %s of %s to the registry", action, context
            )
        if self.metrics is not None:
            self.metrics.canary_event(self.name, settings.canary, action)

    def _allocation(self, windows: dict[str, Window]) -> dict[str, float]:
        settings = self.config.bandit
        assert settings is not None
        sums = {
            v: (w.reward_n, w.reward_sum, w.reward_sq)
            for v in self.variants
            for w in [windows.get(v) or Window()]
        }
        return bandit.allocation(settings.reward, sums, settings.min_explore, self._rng)

    def _apply(self, outcome: _Outcome) -> None:
        """On the event loop: the new split, canary step, merged counts and handed-over rewards."""
        state = outcome.state
        self.state = state
        self.scopes = outcome.scopes
        self.shadow_total = outcome.shadow
        self.workers = outcome.workers
        self.last_sync = time.time()
        weights = self._weights(state, outcome.bandit)
        if weights is not None and weights != self.split.weights:
            self.split = Split(weights)
            if self.metrics is not None:
                self.metrics.traffic_weights(self.name, self.split.percent())
        step = (state.get("canary") or {}).get("step") if self.strategy == "canary" else None
        if step != self.step:
            self.step = step
            self.step_windows = {v: Window() for v in self.variants}
        for entry in outcome.waiting:
            if len(entry) < 2 or not isinstance(entry[1], dict):
                continue
            served = self.memory.get(str(entry[0]))
            if served is not None and self.handover.claim(str(entry[0])):
                self._credit(served, entry[1])
        self.handover.settled(outcome.claimed)

    def _weights(
        self, state: dict[str, Any], allocation: dict[str, float] | None
    ) -> dict[str, float] | None:
        if self.strategy in ("split", "ab"):
            weights = state.get("weights")
            if isinstance(weights, dict):
                return {v: float(weights.get(v, 0.0)) for v in self.variants}
            return None
        if self.strategy == "canary":
            settings = self.config.canary
            assert settings is not None
            percent = float((state.get("canary") or {}).get("percent", settings.start))
            return {
                v: 100.0 - percent
                if v == settings.primary
                else percent
                if v == settings.canary
                else 0.0
                for v in self.variants
            }
        if self.strategy == "bandit":
            return allocation
        return None

    # ------------------------------------------------------------------ admin API
    async def change(self, doc: Any) -> dict[str, Any]:
        """`POST /traffic`: `{"weights": {...}}` (split, ab), `{"canary": "restart"}` or
        `{"canary": "rollback"}` (canary); returns the new status."""
        if not isinstance(doc, dict) or not doc:
            raise BadRequest('Send {"weights": {"<variant>": <percent>, ...}} or {"canary": ...}.')
        unknown = sorted(set(doc) - {"weights", "canary"})
        if unknown:
            raise BadRequest(f"Unknown field(s) {unknown}: POST /traffic takes weights or canary.")
        if "weights" in doc:
            await self._set_weights(doc["weights"])
        if "canary" in doc:
            await self._canary_action(doc["canary"])
        await self.sync()
        return await self.status(fresh=False)

    async def _set_weights(self, raw: Any) -> None:
        if self.strategy not in ("split", "ab"):
            raise BadRequest(
                f"The {self.strategy} strategy sets its own weights; weights can be set for "
                "the split and ab strategies."
            )
        if not isinstance(raw, dict):
            raise BadRequest('"weights" must be an object: {"<variant>": <percent>, ...}.')
        problems: list[str] = []
        weights = check_weights(raw, self.variants, problems)
        if weights is None:
            raise InvalidParameterValue("Invalid weights: " + "; ".join(problems))
        said = ", ".join(f"{v}={w:g}" for v, w in weights.items())

        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["weights"] = weights
            _remember(state, "weights", f"weights set to {said}")
            return state

        await asyncio.to_thread(self.folder.update, change)
        logger.info("Traffic %s: weights set to %s", self.name, said)

    async def _canary_action(self, action: Any) -> None:
        settings = self.config.canary
        if self.strategy != "canary" or settings is None:
            raise BadRequest(f"This server runs the {self.strategy} strategy, not a canary.")
        if action not in ("restart", "rollback"):
            raise BadRequest('"canary" takes "restart" or "rollback".')
        context = self._canary_model()
        now = time.time()
        reason = (
            f"{self.name}: canary {settings.canary} restarted at {settings.start:g}% by an operator"
            if action == "restart"
            else f"{self.name}: canary {settings.canary} rolled back to 0% by an operator"
        )

        def change(state: dict[str, Any]) -> dict[str, Any]:
            current = state.get("canary") or canary.initial_state(settings, now)
            if action == "restart":
                fresh = canary.initial_state(settings, now)
                fresh["step"] = int(current.get("step", 0)) + 1
                state["canary"] = fresh
            else:
                state["canary"] = {**current, "status": canary.ROLLED_BACK, "percent": 0.0}
            _remember(state, action, reason)
            return state

        await asyncio.to_thread(self.folder.update, change)
        logger.warning("%s", reason) if action == "rollback" else logger.info("%s", reason)
        if context is not None:
            await asyncio.to_thread(self._audit, action, reason, context)

    async def status(self, *, fresh: bool = True) -> dict[str, Any]:
        """`GET /traffic`: the live split and every variant's numbers, over all workers."""
        if fresh:
            await self.sync()
        total = self.scopes.get("total", {})
        variants = {}
        served = {m.variant: m for m in self._served()}
        for spec in self.config.variants:
            model = served.get(spec.name)
            numbers = (total.get(spec.name) or Window()).summary()
            variants[spec.name] = {
                "model": spec.model,
                "model_name": getattr(model, "name", None),
                "version": getattr(model, "version", None),
                "weight": self.split.percent().get(spec.name, 0.0),
                "memory_mb": _mb(getattr(model, "memory_bytes", None)),
                **numbers,
            }
        out: dict[str, Any] = {
            "name": self.name,
            "strategy": self.strategy,
            "weights": self.split.percent(),
            "variants": variants,
            "revision": self.state.get("revision"),
            "updated": self.state.get("updated"),
            "state": str(self.folder.path),
            "workers": self.workers,
            "feedback": {
                "remembered": len(self.memory),
                "waiting": self.handover.waiting,
                "unplaced": self.handover.unplaced,
                "ignored": self.ignored_rewards,
            },
            "history": list(self.state.get("history") or [])[-10:],
        }
        if self.sticky_key is not None:
            out["ab"] = {"key": self.sticky_key, "header": (self.key_header or b"").decode()}
        if self.strategy == "canary" and self.config.canary is not None:
            c = self.config.canary
            current = dict(self.state.get("canary") or {})
            current.pop("history", None)
            step = current.get("step")
            window = self.scopes.get(f"step:{step}", {})
            out["canary"] = {
                **current,
                "primary": c.primary,
                "canary": c.canary,
                "every_s": c.every,
                "promote_alias": c.promote_alias,
                "step_window": {
                    v: (window.get(v) or Window()).summary() for v in (c.primary, c.canary)
                },
            }
        if self.shadow is not None:
            out["shadow"] = {
                "primary": self.primary,
                "shadow": self.shadow.variant,
                "queue": self.shadow.queue,
                "sample": self.shadow.sample,
                "in_flight": self.shadow.in_flight,
                **self.shadow_total.summary(),
            }
        if self.strategy == "bandit" and self.config.bandit is not None:
            b = self.config.bandit
            out["bandit"] = {
                "reward": b.reward,
                "min_explore": b.min_explore,
                "posteriors": {
                    v: bandit.posterior(b.reward, (w.reward_n, w.reward_sum, w.reward_sq))
                    for v in self.variants
                    for w in [total.get(v) or Window()]
                },
            }
        return out

    def _served(self) -> list[Any]:
        if not self.models.loaded:
            return []
        out = []
        for v in self.variants:
            try:
                out.append(self.models.get(v))
            except Exception:
                continue
        return out


def _remember(state: dict[str, Any], action: str, reason: str, **numbers: Any) -> None:
    history = list(state.get("history") or [])
    history.append({"at": time.time(), "action": action, "reason": reason, **numbers})
    state["history"] = history[-HISTORY_KEPT:]


def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


__all__ = ["SYNC_INTERVAL_S", "VARIANT_HEADER", "TrafficController"]
