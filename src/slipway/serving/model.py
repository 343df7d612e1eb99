"""One loaded model version as the server runs it (`ServedModel`).

It holds the pyfunc model, the `InputReader` for its signature, its own thread (every call
of this version runs there, so the event loop never runs a model and a forest's predict
never fights another predict of the same model for the GIL) and its `Batcher`.

How the model is called, once the input has been checked against the signature:

- scikit-learn models (MLflow's or slipway's sklearn flavor): the estimator's configured
  predict method is called directly (`get_raw_model()`), which is what the flavor's pyfunc
  predictor does, minus a second signature check. Classifiers with `predict_proba` and
  `classes_` can also answer probabilities; for random forests and extra-trees, whose
  `predict` *is* the argmax of `predict_proba`, one call gives both. The call runs under
  joblib's sequential backend, whatever `n_jobs` the estimator was saved with: on the
  rows of one request or batch, starting joblib's threads costs more than the trees (a
  forest saved with `n_jobs=-1` took 16 ms instead of 2.5 ms for 64 rows on 2 cores).
  The four plain forest types (random forests and extra-trees, classifiers and
  regressors, one output) skip scikit-learn's per-tree Python altogether
  (`serving/forest.py`: the same answers, bit for bit, in a tenth of the time) unless
  the server runs with `--no-fast-forests`.
- every other flavor: `PyFuncModel.predict(data, params)`, unchanged.

Batching is on by default for the built-in flavors (their predict is vectorised) and off
for custom PythonModels, unless the server's settings say otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from slipway.errors import BadRequest, SlipwayError
from slipway.models.signature import enforce_params
from slipway.serving.batching import Batcher
from slipway.serving.inputs import (
    Block,
    InputReader,
    Payload,
    count_rows,
    merge,
    model_input,
    payload_of,
    rows_of,
    split_rows,
    synthetic_payload,
)

if TYPE_CHECKING:
    from slipway.models.pyfunc import PyFuncModel
    from slipway.serving.forest import ForestPredictor
    from slipway.serving.metrics import ServingMetrics

logger = logging.getLogger("slipway.serving")

SKLEARN_LOADERS = frozenset({"mlflow.sklearn", "slipway.models.flavors.sklearn"})
PYTHON_MODEL_LOADERS = frozenset({"mlflow.pyfunc.model", "slipway.models.flavors.python_model"})


class ModelThread(Executor):
    """The one thread a model version runs in: an Executor for `loop.run_in_executor`.

    A daemon thread, unlike ThreadPoolExecutor's, so a model stuck in predict cannot keep
    the process from exiting after a drain (its requests got their 504 already).
    """

    def __init__(self, name: str) -> None:
        self._work: queue.SimpleQueue[
            tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ]
        self._work = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("this model's thread has stopped")
        future: Future[Any] = Future()
        self._work.put((future, functools.partial(fn, *args, **kwargs)))
        return future

    def _loop(self) -> None:
        while (item := self._work.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if not self._closed:
            self._closed = True
            self._work.put(None)
        if wait:
            self._thread.join()


class ModelFailed(SlipwayError):
    """The model raised while predicting (a server-side failure, not bad input)."""

    error_code = "INTERNAL_ERROR"
    http_status = 500


@dataclass(slots=True)
class Prediction:
    """One request's share of a model call."""

    predictions: Any
    probabilities: np.ndarray | None
    batch_input: Any  # the checked input of the whole call: a Block, DataFrame, array or dict
    start: int
    stop: int

    def logged_inputs(self) -> Any:
        """This request's rows of the checked input, for the prediction log.

        Numpy stays numpy (a Block's or an array's rows are views): a DataFrame per
        request would cost the event loop more than the rest of the logging.
        """
        import pandas as pd

        data, start, stop = self.batch_input, self.start, self.stop
        if isinstance(data, dict):
            return pd.DataFrame({k: list(np.asarray(v)[start:stop]) for k, v in data.items()})
        if start == 0 and stop == rows_of(data):
            return data
        if isinstance(data, Block):
            return data.row_slice(start, stop)
        if isinstance(data, pd.DataFrame):
            return data.iloc[start:stop]
        return np.asarray(data)[start:stop]


class ServedModel:
    """A model version loaded for serving: checked input in, predictions out, in batches."""

    def __init__(
        self,
        name: str,
        version: str,
        pyfunc: PyFuncModel,
        *,
        source: str,
        metrics: ServingMetrics | None = None,
        batching: bool | None = None,
        max_batch_size: int = 64,
        max_wait_s: float = 0.002,
        variant: str = "",
        fast_forests: bool = True,
    ) -> None:
        self.name = name
        self.version = version
        self.variant = variant  # the traffic variant it serves ("" without a traffic file)
        self.memory_bytes: int | None = None  # RSS its load added (measured with traffic)
        self.pyfunc = pyfunc
        self.source = source
        self.metrics = metrics
        signature = pyfunc.signature
        self.reader = InputReader(signature.inputs if signature is not None else None)
        self.param_schema = signature.params if signature is not None else None
        self.loader = pyfunc.loader_module
        self.flavor = next((f for f in pyfunc.metadata.flavors if f != "python_function"), "")
        self.vectorised = self.loader not in PYTHON_MODEL_LOADERS
        self.task: str | None = None
        self.classes: np.ndarray | None = None
        self._direct: Any = None
        self._sequential: Callable[[], Any] = contextlib.nullcontext
        self._proba: Any = None
        self._proba_gives_predict = False
        self._class_names: tuple[str, ...] | None = None
        self.fast_forests = fast_forests
        self._forest: ForestPredictor | None = None  # see serving/forest.py
        if self.loader in SKLEARN_LOADERS:
            self._inspect_sklearn(pyfunc)
        self.output_dtype: np.dtype | None = None
        self.output_shape: tuple[int, ...] = ()
        self.warmed_with = "nothing"
        self._counting = False  # warm-up calls are not traffic
        suffix = f"-{variant}" if variant else ""
        self.executor = ModelThread(f"slipway-model-{name}-{version}{suffix}")
        enabled = self.vectorised if batching is None else batching
        self.batcher = Batcher(
            self,
            self.executor,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            enabled=enabled,
        )

    def _inspect_sklearn(self, pyfunc: PyFuncModel) -> None:
        from joblib import parallel_config
        from sklearn.base import is_classifier, is_regressor
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
        from sklearn.pipeline import Pipeline

        raw = pyfunc.get_raw_model()
        predict_fn = (pyfunc.metadata.pyfunc_conf or {}).get("predict_fn") or "predict"
        self._direct = getattr(raw, predict_fn)
        self._sequential = functools.partial(parallel_config, backend="sequential")
        if predict_fn != "predict":
            return
        if self.fast_forests:
            from slipway.serving.forest import forest_predictor

            self._forest = forest_predictor(raw)
        if is_regressor(raw):
            self.task = "regressor"
        if not is_classifier(raw):
            return
        self.task = "classifier"
        if not (hasattr(raw, "predict_proba") and hasattr(raw, "classes_")):
            return
        classes = np.asarray(raw.classes_)
        if classes.ndim != 1:
            return  # multi-output classifiers: no single probability table
        self.classes = classes
        self._proba = raw.predict_proba
        final = raw.steps[-1][1] if isinstance(raw, Pipeline) else raw
        self._proba_gives_predict = (
            isinstance(final, (RandomForestClassifier, ExtraTreesClassifier))
            and getattr(final, "n_outputs_", 1) == 1
        )

    # ------------------------------------------------------------------ requests
    def probability_columns(self, probabilities: np.ndarray) -> Block:
        """Probabilities as named numpy columns, one per class label (for the prediction log)."""
        if self._class_names is None:
            assert self.classes is not None
            self._class_names = tuple(str(c) for c in self.classes.tolist())
        return Block(self._class_names, len(probabilities), matrix=probabilities)

    def check_params(self, params: dict[str, Any] | None) -> bytes | None:
        """Check request params against the signature; returns them as a batching key."""
        if not params:
            return None
        if not isinstance(params, dict):
            raise BadRequest(f"params must be a JSON object, got {type(params).__name__}")
        checked = enforce_params(params, self.param_schema)
        if not checked:
            return None
        return orjson.dumps(checked, option=orjson.OPT_SORT_KEYS)

    async def predict(
        self,
        payload: Payload,
        *,
        params: dict[str, Any] | None = None,
        proba: bool = False,
        timeout: float | None = None,
    ) -> Prediction:
        """Predict one request's rows (batched with concurrent requests when enabled).

        Raises TimeoutError when the answer takes longer than `timeout` seconds.
        """
        key, rows = self.batch_key(payload, params, proba)
        return await self.batcher.submit(payload, rows, key, timeout)

    def batch_key(
        self, payload: Payload, params: dict[str, Any] | None, proba: bool
    ) -> tuple[tuple[bytes | None, bool], int]:
        """(what requests must share to be merged into one call, the request's rows)."""
        rows = count_rows(payload)
        if rows == 0:
            raise BadRequest("The request has no rows to predict.")
        return (self.check_params(params), proba and self.classes is not None), rows

    # ------------------------------------------------------------------ model thread
    def prepare(self, payload: Payload) -> Any:
        return self.reader.prepare(payload)

    def run(self, prepared: list[Any], key: tuple[bytes | None, bool]) -> list[Prediction]:
        params_json, want_proba = key
        params = orjson.loads(params_json) if params_json is not None else None
        batch = merge(prepared)
        data = model_input(batch)
        predictions, probabilities = self._call(data, params, want_proba)
        if len(prepared) == 1:
            rows = rows_of(batch)
            self._observe(predictions, rows)
            return [Prediction(predictions, probabilities, batch, 0, rows)]
        sizes = [rows_of(p) for p in prepared]
        pieces = split_rows(predictions, sizes)
        proba_pieces = (
            split_rows(probabilities, sizes) if probabilities is not None else [None] * len(sizes)
        )
        self._observe(predictions, sum(sizes))
        out, start = [], 0
        for size, piece, proba_piece in zip(sizes, pieces, proba_pieces, strict=True):
            out.append(Prediction(piece, proba_piece, batch, start, start + size))
            start += size
        return out

    def _call(
        self, data: Any, params: dict[str, Any] | None, want_proba: bool
    ) -> tuple[Any, np.ndarray | None]:
        try:
            if self._direct is None:
                return self.pyfunc.predict(data, params), None
            forest = self._forest
            if forest is not None:
                if want_proba:
                    probabilities = forest.predict_proba(data)
                    if probabilities is not None:
                        assert self.classes is not None
                        return self.classes.take(np.argmax(probabilities, axis=1)), probabilities
                else:
                    predictions = forest.predict(data)
                    if predictions is not None:
                        return predictions, None
            with self._sequential():
                if want_proba and self._proba_gives_predict:
                    probabilities = self._proba(data)
                    assert self.classes is not None
                    return self.classes.take(np.argmax(probabilities, axis=1)), probabilities
                predictions = self._direct(data)
                return predictions, (self._proba(data) if want_proba else None)
        except SlipwayError:
            raise
        except Exception as exc:
            raise ModelFailed(
                f"The model {self.name} version {self.version} raised "
                f"{type(exc).__name__} while predicting"
            ) from exc

    def _observe(self, predictions: Any, rows: int) -> None:
        metrics = self.metrics
        if metrics is None or not self._counting:
            return
        try:
            variant = self.variant
            metrics.batch(self.name, self.version, rows, variant)
            if not isinstance(predictions, np.ndarray) or predictions.ndim != 1:
                return
            if self.classes is not None or self.task == "classifier":
                if len(predictions) == 1:
                    metrics.classes(self.name, self.version, predictions.tolist(), (1,), variant)
                else:
                    labels, counts = np.unique(predictions, return_counts=True)
                    metrics.classes(
                        self.name, self.version, labels.tolist(), counts.tolist(), variant
                    )
            elif self.task == "regressor" or predictions.dtype.kind == "f":
                metrics.values(self.name, self.version, predictions.tolist(), variant)
        except Exception:  # metrics never fail a prediction
            logger.debug("Could not record prediction metrics", exc_info=True)

    # ------------------------------------------------------------------ lifecycle
    def warm(self) -> None:
        """Predict once on the input example (or a made-up row) before taking traffic.

        A failure on the saved input example is a load failure (raised). A made-up row may
        simply not be valid input for the model, so failing on it is only logged.
        """
        try:
            payload = payload_of(self.pyfunc.input_example)
            if payload is not None:
                self._warm_with(payload)
                self.warmed_with = "input example"
                return
            payload = synthetic_payload(self.reader.schema)
            if payload is None:
                logger.info(
                    "%s version %s has no input example and no signature to warm up with",
                    self.name,
                    self.version,
                )
                return
            try:
                self._warm_with(payload)
                self.warmed_with = "synthetic row"
            except Exception as exc:
                logger.warning(
                    "%s version %s failed on a made-up warm-up row (%s); serving it anyway",
                    self.name,
                    self.version,
                    exc,
                )
        finally:
            self._counting = True

    def _warm_with(self, payload: Payload) -> None:
        prepared = self.prepare(payload)
        (result,) = self.run([prepared], (None, self.classes is not None))
        output = result.predictions
        if isinstance(output, np.ndarray):
            self.output_dtype = output.dtype
            self.output_shape = tuple(output.shape[1:])
        elif isinstance(output, list):
            arr = np.asarray(output)
            self.output_dtype = arr.dtype
            self.output_shape = tuple(arr.shape[1:])

    async def close(self) -> None:
        """Finish queued requests, then stop the model's thread."""
        await self.batcher.close()
        self.executor.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"ServedModel({self.name!r}, version={self.version!r}, flavor={self.flavor!r})"


__all__ = [
    "PYTHON_MODEL_LOADERS",
    "SKLEARN_LOADERS",
    "ModelFailed",
    "ModelThread",
    "Prediction",
    "ServedModel",
]
