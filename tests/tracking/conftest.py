"""Fluent-API tests run over each transport with a clean fluent state."""

from __future__ import annotations

import pytest

import slipway
from slipway.tracking import fluent


@pytest.fixture
def fluent_uri(tracking_uri: str):
    """Point the fluent API at `tracking_uri`; end leftover runs afterwards."""
    slipway.set_tracking_uri(tracking_uri)
    yield tracking_uri
    while fluent.active_run() is not None:
        try:
            slipway.end_run()
        except slipway.SlipwayError:
            fluent._state.runs.clear()
    for batcher in fluent._state.batchers.values():
        batcher.close()
    fluent._state.batchers.clear()
    for client in fluent._state.clients.values():
        client.close()
    fluent._state.clients.clear()
    slipway.config.set_tracking_uri(None)
    fluent._state.experiment_id = None
