"""Helpers of the traffic tests: registered PythonModels, traffic files, a pipelined client."""

from __future__ import annotations

import asyncio
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml
from serving_support import python_model

# A PythonModel whose behaviour a test steers from outside: it fails while `{fail}` exists,
# sleeps `{sleep}` seconds per call while `{slow}` exists, and answers x * `{factor}`.
STEERED_MODEL = """
import os
import time


class Model:
    def predict(self, context, model_input, params=None):
        if os.path.exists({fail!r}):
            raise RuntimeError("failing on purpose")
        if os.path.exists({slow!r}):
            time.sleep({sleep})
        return model_input["x"] * {factor}
"""


def steered_model(
    tmp_path: Path,
    name: str,
    *,
    factor: float = 2.0,
    fail: Path | None = None,
    slow: Path | None = None,
    sleep: float = 2.0,
) -> Path:
    """Save a steered PythonModel (module `<name>_impl`) with an `x` column signature."""
    import pandas as pd

    from slipway.models.signature import infer_signature

    never = str(tmp_path / f"{name}-never")
    source = STEERED_MODEL.format(
        fail=str(fail or never), slow=str(slow or never), sleep=sleep, factor=factor
    )
    return python_model(
        tmp_path,
        textwrap.dedent(source),
        name=name,
        signature=infer_signature(pd.DataFrame({"x": [1.0]})),
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
    )


def register_folder(tracking_uri: str, root: Path, name: str, folder: Path) -> str:
    """Log a saved model folder to a new run and register it as a version of `name`."""
    from slipway import Client

    client = Client(tracking_uri)
    try:
        experiment = client.get_experiment_by_name("traffic-tests")
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment("traffic-tests", artifact_location=str(root / "art"))
        )
        run_id = client.create_run(experiment_id).info.run_id
        client.log_artifacts(run_id, folder, "model")
        client.set_terminated(run_id)
        if not client.search_registered_models(f"name = '{name}'").items:
            client.create_registered_model(name)
        return str(client.create_model_version(name, f"runs:/{run_id}/model", run_id).version)
    finally:
        client.close()


def traffic_doc(strategy: str, variants: dict[str, str], **sections: Any) -> dict[str, Any]:
    """A traffic file's content: `variants` maps variant names to model URIs."""
    return {
        "name": sections.pop("name", "exp"),
        "variants": {v: {"model": uri} for v, uri in variants.items()},
        "strategy": strategy,
        **sections,
    }


def write_traffic(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def x_records(value: float = 1.0) -> list[dict[str, float]]:
    return [{"x": value}]


# ------------------------------------------------------------------------ pipelined load


def _request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: test", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _pipelined(
    url: str, path: str, bodies: list[bytes], connections: int, depth: int
) -> list[tuple[int, dict[str, str], bytes]]:
    host, port = url.removeprefix("http://").split(":")
    answers: list[Any] = [None] * len(bodies)

    async def one(mine: range) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for start in range(0, len(mine), depth):
                batch = mine[start : start + depth]
                writer.write(b"".join(_request(path, bodies[i]) for i in batch))
                await writer.drain()
                for i in batch:
                    answers[i] = await _read_response(reader)
        finally:
            writer.close()

    await asyncio.gather(*(one(range(i, len(bodies), connections)) for i in range(connections)))
    return answers


def pipelined(
    url: str, path: str, bodies: list[Any], *, connections: int = 32, depth: int = 16
) -> list[tuple[int, dict[str, str], bytes]]:
    """POST each JSON body over a few keep-alive connections, `depth` requests in flight
    per connection (HTTP/1.1 pipelining): (status, headers, body) of each answer."""
    raw = [orjson.dumps(b) for b in bodies]
    return asyncio.run(_pipelined(url, path, raw, connections, depth))


def variant_counts(answers: list[tuple[int, dict[str, str], bytes]]) -> Counter[str]:
    assert all(status == 200 for status, _, _ in answers), {s for s, _, _ in answers}
    return Counter(headers["x-slipway-variant"] for _, headers, _ in answers)
