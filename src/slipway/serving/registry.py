"""The models one server process serves, keyed by (name, version), following their aliases.

Each URI given to `slipway serve` is a `ModelSource`:

    models:/churn@champion          served as "churn"; follows the alias
    models:/churn/Production        served as "churn"; follows the stage's newest version
    models:/churn/latest            served as "churn"; follows the newest version
    models:/churn/3                 served as "churn", version "3", pinned
    runs:/<run_id>/<path>           served as --name or the path's last part; version = run id
    models:/m-<id>                  an MLflow 3 logged model: served as --name or its id, "1"
    ./folder (an MLmodel directory) served as --name or the folder's name, version "1"

A request names a model (or takes the first one) and optionally a version; without one it
gets the version its source currently points at.

With a traffic file (`ServeConfig.traffic`) every variant is a source served under the
variant's name (two variants may follow two aliases of one registered model), while its
`ServedModel` keeps the model's own name for metrics and the prediction log, and knows its
variant. Variants load one after the other so that each one's memory (the process RSS its
load added) can be told apart.

Following aliases: a background task asks the registry every `poll_interval_s` where each
moving source points. When that changed, the new version is downloaded, loaded and warmed
up in a thread while the old one keeps serving; then the name's current version is switched
in one assignment on the event loop, so every request is answered by exactly one version:
requests already queued finish on the old version, which is closed once idle. A version
that fails to load or warm up is never switched in: the old one keeps serving, the failure
is logged, counted (`slipway_serving_model_load_failures_total`) and recorded in the model's
audit trail (`Client.record_model_event(name, "serving_load_failed", ...)`). It is not
retried until the alias moves again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.entities import ModelUri
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist, ServerUnavailable
from slipway.models.resolve import local_path_from_uri
from slipway.serving.model import ServedModel

if TYPE_CHECKING:
    from slipway.serving.config import ServeConfig
    from slipway.serving.metrics import ServingMetrics
    from slipway.tracking.client import Client

logger = logging.getLogger("slipway.serving")

LOAD_FAILED_EVENT = "serving_load_failed"
LOCAL_VERSION = "1"


@dataclass(frozen=True)
class ModelSource:
    """Where a served model comes from, and whether it moves."""

    uri: str
    name: str  # the name it is served under
    kind: str  # alias | stage | latest | version | run | logged | local
    ref: str | None = None  # the alias or stage followed
    version: str | None = None  # the version, when pinned
    registered_name: str | None = None  # its name in the registry (models:/ URIs)
    variant: str | None = None  # the traffic variant it is (then `name` is the variant's)
    model_name: str | None = None  # the model's own name, when served under a variant's

    @property
    def moving(self) -> bool:
        return self.kind in ("alias", "stage", "latest")

    @property
    def in_registry(self) -> bool:
        return self.kind in ("alias", "stage", "latest", "version")

    def describe(self) -> str:
        return f"{self.name}@{self.ref}" if self.kind == "alias" else self.uri


def parse_source(uri: str, name: str | None = None) -> ModelSource:
    """The source a model URI names (`name` overrides the served name)."""
    uri = str(uri)
    if uri.startswith("models:/"):
        parsed = ModelUri.parse(uri)
        if parsed.path:
            raise InvalidParameterValue(
                f"Serve the model itself, not a file inside it: {uri!r} has a path after "
                "the version."
            )
        if parsed.model_id is not None:
            return ModelSource(uri, name or parsed.model_id, "logged", version=LOCAL_VERSION)
        assert parsed.name is not None
        served, registered = name or parsed.name, parsed.name
        if parsed.alias is not None:
            return ModelSource(uri, served, "alias", ref=parsed.alias, registered_name=registered)
        if parsed.version is not None:
            return ModelSource(
                uri, served, "version", version=str(parsed.version), registered_name=registered
            )
        if parsed.stage is not None:
            return ModelSource(uri, served, "stage", ref=parsed.stage, registered_name=registered)
        return ModelSource(uri, served, "latest", registered_name=registered)
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/") :].strip("/").partition("/")
        if not run_id:
            raise InvalidParameterValue(f"Invalid runs URI {uri!r}: use runs:/<run_id>/<path>.")
        last = path.rstrip("/").rsplit("/", 1)[-1] or "model"
        return ModelSource(uri, name or last, "run", version=run_id)
    local = local_path_from_uri(uri)
    if local is None:
        raise InvalidParameterValue(
            f"Cannot serve {uri!r}: give models:/name@alias, models:/name/<version>, "
            "models:/name/<stage>, runs:/<run_id>/<path> or a local model folder."
        )
    local = local.expanduser().absolute()
    if local.is_file() and local.name == "MLmodel":
        local = local.parent
    return ModelSource(str(local), name or local.name, "local", version=LOCAL_VERSION)


def sources_of(config: ServeConfig) -> list[ModelSource]:
    """The sources of a server's model URIs; raises if two would be served as one."""
    if config.traffic is not None:
        return [variant_source(name, spec["model"]) for name, spec in variants_of(config)]
    sources = [parse_source(u, config.name) for u in config.model_uris]
    seen: dict[tuple[str, str | None], str] = {}
    for source in sources:
        key = (source.name, source.version if not source.moving else f"@{source.ref}")
        if key in seen and seen[key] != source.uri:
            raise InvalidParameterValue(
                f"Two models would be served as {source.name!r}: {seen[key]} and "
                f"{source.uri}. Serve them from separate processes or rename one (--name)."
            )
        seen[key] = source.uri
    moving = [s for s in sources if s.moving]
    names = [s.name for s in moving]
    if len(set(names)) != len(names):
        raise InvalidParameterValue(
            f"Several moving references for one served name: {[s.uri for s in moving]}."
        )
    return sources


def variants_of(config: ServeConfig) -> list[tuple[str, dict[str, Any]]]:
    """(variant name, its settings) of a traffic configuration, in the file's order."""
    variants = (config.traffic or {}).get("variants") or {}
    return list(variants.items())


def variant_source(variant: str, uri: str) -> ModelSource:
    """A traffic variant's source: served under the variant's name, keeping the model's."""
    own = parse_source(uri)
    return replace(own, name=variant, variant=variant, model_name=own.name)


def rss_bytes() -> int | None:
    """This process's resident memory (Linux: /proc; elsewhere None)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class ModelRegistry:
    """Loaded model versions by (name, version), the current version of each name."""

    def __init__(
        self,
        config: ServeConfig,
        metrics: ServingMetrics | None = None,
        *,
        client: Client | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.sources = sources_of(config)
        self._client = client
        self._owns_client = client is None
        self._models: dict[tuple[str, str], ServedModel] = {}
        self._current: dict[str, str] = {}  # served name -> version answering by default
        self._pinned: dict[ModelSource, str] = {}  # what each source serves now
        self._failed: dict[tuple[str, str], str] = {}  # versions that failed, not retried
        self._tmp = Path(tempfile.mkdtemp(prefix="slipway-serve-"))
        self._watcher: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        # With variants, loads take turns so that each one's RSS delta is its own.
        self._load_lock = threading.Lock() if config.traffic is not None else None
        self.loaded = False
        self.load_error: str | None = None

    # ------------------------------------------------------------------ lookups
    def get(self, name: str | None = None, version: str | None = None) -> ServedModel:
        """The model a request asks for: by name (default: the first) and optional version."""
        if not self.loaded:
            raise ServerUnavailable("The models are still loading; try again shortly.")
        if name is None:
            name = self.sources[0].name
        current = self._current.get(name)
        if current is None:
            raise ResourceDoesNotExist(
                f"No model named {name!r} is served here; served: {sorted(self._current)}."
            )
        model = self._models.get((name, version if version is not None else current))
        if model is None:
            raise ResourceDoesNotExist(
                f"Model {name!r} has no version {version!r} served here; served: "
                f"{self.versions(name)}."
            )
        return model

    def default(self) -> ServedModel:
        """The model `/invocations` answers with: the first one given."""
        return self.get(None, None)

    def names(self) -> list[str]:
        return list(self._current)

    def versions(self, name: str) -> list[str]:
        return sorted((v for n, v in self._models if n == name), key=_version_order)

    def served(self) -> list[ServedModel]:
        return list(self._models.values())

    def current(self) -> list[ServedModel]:
        return [self._models[(n, v)] for n, v in self._current.items()]

    def source_of(self, name: str) -> ModelSource:
        """The source of a served name (a moving one when the name has several)."""
        found = [s for s in self.sources if s.name == name]
        if not found:
            raise ResourceDoesNotExist(f"No model named {name!r} is served here.")
        return next((s for s in found if s.moving), found[0])

    def client(self) -> Client:
        """The tracking client of this server (opened on first use)."""
        return self._client_or_open()

    # ------------------------------------------------------------------ loading
    async def start(self) -> None:
        """Load and warm every source's model (raises if one fails), then watch aliases.

        Versions are resolved one by one, then the distinct ones load concurrently (each in
        a worker thread: downloads overlap).
        """
        pinned = {source: await asyncio.to_thread(self._resolve, source) for source in self.sources}
        todo: dict[tuple[str, str], ModelSource] = {}
        for source, version in pinned.items():
            todo.setdefault((source.name, version), source)
        results = await asyncio.gather(
            *(asyncio.to_thread(self._load, source, v) for (_, v), source in todo.items()),
            return_exceptions=True,
        )
        failures = []
        for key, result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                failures.append(result)
                continue
            self._models[key] = result
            if self.metrics is not None:
                self.metrics.model_served(result.name, result.version, True, result.variant)
        if failures:
            raise failures[0]
        for source, version in pinned.items():
            self._pinned[source] = version
            if source.moving or source.name not in self._current:
                self._current[source.name] = version
        self.loaded = True
        if any(s.moving for s in self.sources):
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def _client_or_open(self) -> Client:
        if self._client is None:
            from slipway.tracking.client import Client

            self._client = Client(self.config.tracking_uri)
        return self._client

    def _resolve(self, source: ModelSource) -> str:
        """The version a source points at now (asks the registry for moving ones)."""
        if not source.moving:
            assert source.version is not None
            return source.version
        client = self._client_or_open()
        name = source.registered_name
        assert name is not None
        if source.kind == "alias":
            assert source.ref is not None
            return str(client.get_model_version_by_alias(name, source.ref).version)
        stages = [source.ref] if source.kind == "stage" and source.ref else None
        latest = client.get_latest_versions(name, stages)
        if not latest:
            where = f" in stage {source.ref}" if source.ref else ""
            raise ResourceDoesNotExist(f"Model {name!r} has no version{where}.")
        return str(max(v.version for v in latest))

    def _load(self, source: ModelSource, version: str) -> ServedModel:
        """Download, load and warm up one version (in a worker thread)."""
        if self._load_lock is None:
            return self._load_one(source, version)
        with self._load_lock:
            before = rss_bytes()
            model = self._load_one(source, version)
            after = rss_bytes()
        if before is not None and after is not None:
            model.memory_bytes = max(0, after - before)
        return model

    def _load_one(self, source: ModelSource, version: str) -> ServedModel:
        from slipway.models.pyfunc import load_model

        started = time.perf_counter()
        if source.kind == "local":
            local = source.uri
        else:
            client = self._client_or_open()
            uri = (
                f"models:/{source.registered_name}/{version}" if source.in_registry else source.uri
            )
            target = self._tmp / f"{source.name}-{version}-{time.monotonic_ns()}"
            target.mkdir(parents=True)
            local = client.download_model(uri, target)
        pyfunc = load_model(str(local), allow_pickle=self.config.allow_pickle)
        config = self.config
        model = ServedModel(
            source.model_name or source.name,
            version,
            pyfunc,
            source=source.uri,
            metrics=self.metrics,
            batching=config.batching_for(source.name, vectorised=_vectorised(pyfunc)),
            max_batch_size=config.max_batch_size,
            max_wait_s=config.max_wait_ms / 1000,
            variant=source.variant or "",
            fast_forests=config.fast_forests,
        )
        try:
            model.warm()
        except BaseException:
            model.executor.shutdown(wait=False)
            raise
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.model_loaded(model.name, version, seconds)
        logger.info(
            "Serving %s version %s%s (%s, warmed up with %s, loaded in %.2f s)",
            model.name,
            version,
            f" as variant {source.variant}" if source.variant else "",
            model.flavor or "pyfunc",
            model.warmed_with,
            seconds,
        )
        return model

    # ------------------------------------------------------------------ following aliases
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.refresh()
            except Exception:  # keep watching: the next poll may well succeed
                logger.exception("Checking the followed aliases failed")

    async def refresh(self) -> None:
        """Check every moving source once; swap in versions whose alias moved."""
        for source in [s for s in self.sources if s.moving]:
            try:
                version = await asyncio.to_thread(self._resolve, source)
            except Exception as exc:
                logger.warning(
                    "Could not check where %s points (%s); still serving version %s",
                    source.describe(),
                    exc,
                    self._pinned.get(source),
                )
                continue
            if version == self._pinned.get(source) or (source.name, version) in self._failed:
                continue
            await self._switch(source, version)

    async def _switch(self, source: ModelSource, version: str) -> None:
        old = self._pinned.get(source)
        key = (source.name, version)
        model = self._models.get(key)
        if model is None:
            logger.info(
                "%s moved from version %s to %s: loading it", source.describe(), old, version
            )
            try:
                model = await asyncio.to_thread(self._load, source, version)
            except Exception as exc:
                await self._load_failed(source, version, exc)
                return
            self._models[key] = model
        # The switch: one assignment each, on the event loop, with no await in between.
        self._pinned[source] = version
        self._current[source.name] = version
        if self.metrics is not None:
            self.metrics.model_served(model.name, version, True, model.variant)
        logger.info("%s now answers with version %s", source.name, version)
        if old is not None and old != version:
            self._retire(source.name, old)

    async def _load_failed(self, source: ModelSource, version: str, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        self._failed[(source.name, version)] = reason
        logger.error(
            "Version %s of %s failed to load or warm up; still serving version %s. %s",
            version,
            source.name,
            self._pinned.get(source),
            reason,
            exc_info=exc,
        )
        if self.metrics is not None:
            self.metrics.model_load_failed(source.model_name or source.name, version)
        try:
            await asyncio.to_thread(self._record_event, source, version, reason)
        except Exception as record_exc:
            logger.warning(
                "Could not record the failed load of %s version %s in the audit trail: %s",
                source.name,
                version,
                record_exc,
            )

    def _record_event(self, source: ModelSource, version: str, reason: str) -> None:
        if source.registered_name is None:
            return  # not a registered model: there is no audit trail to write to
        client = self._client_or_open()
        client.record_model_event(  # type: ignore[attr-defined]
            source.registered_name,
            LOAD_FAILED_EVENT,
            version=int(version) if version.isdigit() else version,
            reason=reason[:1000],
        )

    def _retire(self, name: str, version: str) -> None:
        """Stop serving a version no source points at any more, once its queue is empty."""
        if any(s.name == name and v == version for s, v in self._pinned.items()):
            return
        model = self._models.pop((name, version), None)
        if model is None:
            return
        if self.metrics is not None:
            self.metrics.model_served(model.name, version, False, model.variant)
        task = asyncio.get_running_loop().create_task(model.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # ------------------------------------------------------------------ shutdown
    async def close(self) -> None:
        """Stop watching, finish queued requests, stop model threads, drop downloads."""
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except (asyncio.CancelledError, Exception):
                pass
        for model in list(self._models.values()):
            try:
                await asyncio.wait_for(model.close(), self.config.request_timeout_s)
            except TimeoutError:
                logger.warning("%r did not finish its requests in time; leaving it", model)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        self._models.clear()
        if self._client is not None and self._owns_client:
            await asyncio.to_thread(self._client.close)
        shutil.rmtree(self._tmp, ignore_errors=True)


def _vectorised(pyfunc: Any) -> bool:
    from slipway.serving.model import PYTHON_MODEL_LOADERS

    return pyfunc.loader_module not in PYTHON_MODEL_LOADERS


def _version_order(version: str) -> tuple[int, Any]:
    return (0, int(version)) if version.isdigit() else (1, version)


__all__ = [
    "LOAD_FAILED_EVENT",
    "ModelRegistry",
    "ModelSource",
    "parse_source",
    "rss_bytes",
    "sources_of",
    "variant_source",
    "variants_of",
]
