"""A monitor's state (alert states, the retrain cooldown, a pending approval), saved by
merging: a run, a background retrain and `slipway models approve` each store only the keys
they changed, so none of them undoes another's change made in the meantime."""

from __future__ import annotations

import threading
from typing import Any

from slipway.store.interface import MonitorStore

_LOCK = threading.Lock()


def save_state(
    store: MonitorStore, name: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Store the keys that changed from `before` to `after` into the current state."""
    changes = {k: v for k, v in after.items() if k not in before or before[k] != v}
    removed = [k for k in before if k not in after]
    if not changes and not removed:
        return
    with _LOCK:
        state = dict(store.get_monitor(name).state)
        state.update(changes)
        for key in removed:
            state.pop(key, None)
        store.update_monitor(name, state=state)


__all__ = ["save_state"]
