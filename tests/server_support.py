"""The in-thread `slipway server` and free ports that several test folders start.

Imported by name (pytest puts `tests/` on the path through its top conftest), so there is
one way to start a live server in tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(store_uri: str, artifacts: str) -> Iterator[str]:
    """A real `slipway server` app on a real socket (uvicorn in a thread); yields its URL."""
    import uvicorn

    from slipway.server.app import create_app

    app = create_app(backend_store_uri=store_uri, artifacts_destination=artifacts)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("slipway server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
