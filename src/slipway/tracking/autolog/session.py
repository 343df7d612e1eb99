"""What every autolog integration shares: its settings, patching that can be undone,
the training session (only the outermost `fit` logs), the run a fit logs to, and the
rule that logging never breaks training (a failure is a warning).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from slipway.entities import RunStatus
from slipway.tracking import fluent

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value


class AutologWarning(UserWarning):
    """Autologging could not record something; the training itself went on."""


@dataclass(frozen=True)
class AutologConfig:
    """The options of one integration's `autolog(...)` call."""

    log_models: bool = True
    log_input_examples: bool = True
    log_datasets: bool = True
    log_post_training_metrics: bool = True
    max_tuning_runs: int = 5
    silent: bool = False


_configs: dict[str, AutologConfig] = {}
# (integration, owner, attribute) -> the original attribute
_originals: dict[tuple[str, Any, str], Any] = {}
_local = threading.local()


def configure(integration: str, config: AutologConfig | None) -> None:
    """Turn an integration on with `config`, or off (None)."""
    if config is None:
        _configs.pop(integration, None)
    else:
        _configs[integration] = config


def config_of(integration: str) -> AutologConfig | None:
    """The integration's settings while it is on, else None."""
    return _configs.get(integration)


def patch(integration: str, owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
    """Replace `owner.name` by `wrap(original)`, once: patching again is a no-op."""
    key = (integration, owner, name)
    if key in _originals:
        return
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    wrapped = wrap(original)
    functools.update_wrapper(wrapped, original)
    _originals[key] = original
    setattr(owner, name, wrapped)


def unpatch(integration: str) -> None:
    """Put back every attribute `integration` replaced."""
    for key in [k for k in _originals if k[0] == integration]:
        _, owner, name = key
        setattr(owner, name, _originals.pop(key))


def is_patched(integration: str) -> bool:
    return any(k[0] == integration for k in _originals)


# --- the training session ---------------------------------------------------------------
def current_session() -> Session | None:
    """The training session this thread is in (inner fits and predicts log nothing)."""
    return getattr(_local, "session", None)


@dataclass
class Session:
    """One outermost training call: the run it logs to (None: logging is off for it)."""

    integration: str
    run_id: str | None


@contextlib.contextmanager
def session(integration: str, run_id: str | None) -> Iterator[Session]:
    outer = current_session()
    _local.session = Session(integration, run_id)
    try:
        yield _local.session
    finally:
        _local.session = outer


def passthrough() -> Iterator[None]:
    """A session that logs nothing: for calls made by autolog itself (e.g. `score`)."""
    return session("", None)


def warn(config: AutologConfig | None, what: str, exc: BaseException) -> None:
    if config is None or not config.silent:
        warnings.warn(
            f"slipway autolog could not {what}; training was not affected. "
            f"{type(exc).__name__}: {exc}",
            AutologWarning,
            stacklevel=_user_stacklevel(),
        )


_LIBRARIES = {"slipway", "contextlib", "sklearn", "xgboost", "lightgbm", "lightning"}


def _user_stacklevel() -> int:
    """The stack level of the user's line that called `fit` (what the warning points at)."""
    frame, level = sys._getframe(2), 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        _LIBRARIES
    ):
        frame, level = frame.f_back, level + 1
    return level


@contextlib.contextmanager
def guarded(config: AutologConfig | None, what: str) -> Iterator[None]:
    """Run a logging step; any failure becomes an `AutologWarning`."""
    try:
        yield
    except Exception as exc:
        warn(config, what, exc)


@contextlib.contextmanager
def training_run(config: AutologConfig, tags: dict[str, str]) -> Iterator[str | None]:
    """The run a fit logs to: the active run, else a new one ended after the fit.

    Yields None (training goes on unlogged) when no run can be started. A new run ends
    FAILED if training raises; the exception is the user's and passes through.
    """
    active = fluent.active_run()
    if active is not None:
        with guarded(config, "tag the active run"):
            fluent.current_client().set_tags(active.info.run_id, tags)
        yield active.info.run_id
        return
    run_id = None
    with guarded(config, "start a run"):
        run_id = fluent.start_run(tags=tags).info.run_id
    if run_id is None:
        yield None
        return
    status = RunStatus.FINISHED.value
    try:
        yield run_id
    except BaseException as exc:
        status = (
            RunStatus.KILLED.value if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED.value
        )
        raise
    finally:
        with guarded(config, "end the run"):
            fluent.end_run(status, run_id=run_id)  # leaves the run stack even if it fails


def param_value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if callable(value) else str(value)
    return text[:MAX_PARAM_LENGTH]


__all__ = [
    "AutologConfig",
    "AutologWarning",
    "MAX_PARAM_LENGTH",
    "Session",
    "config_of",
    "configure",
    "current_session",
    "guarded",
    "is_patched",
    "param_value",
    "passthrough",
    "patch",
    "session",
    "training_run",
    "unpatch",
    "warn",
]
