"""`slipway.set_experiment` from many processes at once: create-or-get never fails."""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

import pytest

import slipway
from slipway.store.factory import open_tracking_store

PROCESSES = 8
TRIALS = 2

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="forks the test process to start 8 clients at once"
)


def _set_experiment(uri: str, name: str, barrier: Any, results: Any) -> None:
    """In a child: wait for all siblings, then set the same new experiment."""
    try:
        slipway.set_tracking_uri(uri)
        barrier.wait(timeout=30)
        results.put(("ok", slipway.set_experiment(name).experiment_id))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def test_eight_processes_set_the_same_new_experiment(tracking_uri: str) -> None:
    """8 processes setting one new name at the same moment all get the same experiment
    (over SQLite, PostgreSQL and a live server); none sees ResourceAlreadyExists."""
    if not tracking_uri.startswith("http"):
        # The database exists before the race, as on a team's server (no migration race).
        open_tracking_store(tracking_uri).close()
    ctx = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        name = f"raced-{trial}"
        barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
        children = [
            ctx.Process(target=_set_experiment, args=(tracking_uri, name, barrier, results))
            for _ in range(PROCESSES)
        ]
        for child in children:
            child.start()
        answers = [results.get(timeout=120) for _ in children]
        for child in children:
            child.join(timeout=30)
        errors = [detail for kind, detail in answers if kind == "error"]
        assert errors == []
        assert len({experiment_id for _, experiment_id in answers}) == 1

    client = slipway.Client(tracking_uri)
    try:
        names = {e.name for e in client.search_experiments()}
    finally:
        client.close()
    assert {f"raced-{t}" for t in range(TRIALS)} <= names
