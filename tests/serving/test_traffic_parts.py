"""The traffic package's parts on their own: the file, sticky hashing, counts, the state
folder and canary decisions (the HTTP behaviour is in the other test_traffic_* files)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

import slipway.serving.traffic as traffic_package
from slipway.serving.traffic import canary
from slipway.serving.traffic.config import (
    CanarySettings,
    TrafficConfig,
    TrafficConfigError,
    load_traffic_config,
    parse_duration,
)
from slipway.serving.traffic.routing import Split, key_point
from slipway.serving.traffic.state import StateFolder
from slipway.serving.traffic.stats import Window, merge, percentile


def test_the_documented_example_checks_out_and_round_trips(tmp_path: Path) -> None:
    example = re.search(r"\n\n(    name: .*?)\n\n", traffic_package.__doc__ or "", re.S)
    assert example is not None
    path = tmp_path / "traffic.yaml"
    path.write_text("\n".join(line[4:] for line in example.group(1).splitlines()))
    config = load_traffic_config(path)
    assert config.strategy == "canary" and config.canary is not None
    assert config.canary.every == 600.0 and config.canary.promote_alias == "champion"
    assert config.key_header == b"x-user-id"
    assert config.initial_weights() == {"champion": 95.0, "challenger": 5.0}
    assert TrafficConfig.from_dict(config.to_dict()) == config
    assert (
        config.state_dir() == Path(os.environ["SLIPWAY_HOME"]).absolute() / "traffic" / "churn-ab"
    )


def test_problems_are_listed_together(tmp_path: Path) -> None:
    with pytest.raises(TrafficConfigError) as err:
        TrafficConfig.from_dict({"variants": {"a": "models:/m/1"}, "strategy": "shadow"})
    assert err.value.problems == [
        "missing key 'name' (the experiment's name)",
        "strategy 'shadow' needs a 'shadow' section",
        "strategy 'shadow' needs at least two variants",
    ]
    assert err.value.http_status == 400
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(TrafficConfigError, match="got an empty file"):
        load_traffic_config(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed")
    with pytest.raises(TrafficConfigError, match="not valid YAML"):
        load_traffic_config(broken)
    local = {"name": "x", "strategy": "canary", "variants": {"a": "./m", "b": "./n"}}
    local["canary"] = {"primary": "a", "canary": "b", "promote_alias": "champion"}
    with pytest.raises(TrafficConfigError, match="promote_alias needs the canary"):
        TrafficConfig.from_dict(local)
    relative = tmp_path / "rel.yaml"
    relative.write_text(
        yaml.safe_dump({**local, "canary": {"primary": "a", "canary": "b"}, "state": "st"})
    )
    loaded = load_traffic_config(relative)
    assert loaded.state == str(tmp_path / "st")
    assert loaded.model_uris() == [str(tmp_path / "m"), str(tmp_path / "n")]  # next to the file
    with pytest.raises(TrafficConfigError, match="also a variant's name"):
        TrafficConfig.from_dict({**local, "name": "a", "canary": {"primary": "a", "canary": "b"}})


def test_durations() -> None:
    assert [parse_duration(v) for v in ("10m", "30s", "500ms", "1h", "0.5s", 2, "2")] == [
        600.0,
        30.0,
        0.5,
        3600.0,
        0.5,
        2.0,
        2.0,
    ]
    assert parse_duration("soon") is None and parse_duration(True) is None


def test_sticky_points_are_pinned_and_fill_the_weights() -> None:
    # blake2b: these values must never change, or every sticky user moves
    assert key_point("user-1") == pytest.approx(0.6041924073669338)
    assert key_point("42") == pytest.approx(0.3425939642242156)
    split = Split({"a": 90, "b": 10, "c": 0})
    chosen = [split.choose(f"k{i}") for i in range(20_000)]
    assert chosen.count("c") == 0 and abs(chosen.count("b") - 2000) < 4 * 42
    assert Split({"a": 0, "b": 0}).choose() is None
    assert split.percent() == {"a": 90.0, "b": 10.0, "c": 0.0}


def test_windows_merge_and_read_percentiles() -> None:
    one, two = Window(), Window()
    for ms in range(1, 101):
        one.count(False, ms / 1000)
    two.count(True, 0.5)
    two.reward(1.0)
    scopes, _ = merge(
        [{"scopes": {"total": {"a": one.to_json()}}}, {"scopes": {"total": {"a": two.to_json()}}}]
    )
    total = scopes["total"]["a"]
    assert (total.requests, total.errors, total.reward_n) == (101, 1, 1)
    assert 45 <= (total.p(0.5) or 0) <= 56  # within a bucket (10%) of the exact 51 ms
    assert 495 <= (total.p(1.0) or 0) <= 551
    assert percentile([0] * 10, 0.5) is None


def test_the_state_folder_keeps_state_folds_stopped_workers_and_resets_on_a_new_file(
    tmp_path: Path,
) -> None:
    folder = StateFolder(tmp_path, "fp1", "host-999999-aaaaaa")  # a pid that is not running
    state = folder.open(lambda: {"weights": {"a": 100.0}})
    assert state["revision"] == 1 and state["weights"] == {"a": 100.0}
    window = Window()
    window.count(False, 0.01)
    folder.write_worker({"worker": folder.worker_id, "scopes": {"total": {"a": window.to_json()}}})
    new, changed = folder.update(lambda s: {**s, "weights": {"a": 50.0}})
    assert changed and new["revision"] == 2
    assert folder.update(lambda s: None) == (new, False)

    host = folder.worker_id.split("-")[0]
    again = StateFolder(tmp_path, "fp1", f"{host}-{os.getpid()}-bbbbbb")
    assert again.open(lambda: {"weights": {}})["weights"] == {"a": 50.0}  # kept
    # the stopped worker's counts went to the archive, once
    assert not list((tmp_path / "workers").glob("*.json"))
    scopes, _ = merge(again.worker_docs())
    assert scopes["total"]["a"].requests == 1

    changed_file = StateFolder(tmp_path, "fp2")
    assert changed_file.open(lambda: {"weights": {"a": 1.0}})["weights"] == {"a": 1.0}
    assert changed_file.worker_docs() == []


def test_canary_decisions() -> None:
    settings = CanarySettings("p", "c", start=10, step=50, every=1.0, min_requests=10)
    state = canary.initial_state(settings, now=100.0)

    def windows(c_errors: int = 0, c_requests: int = 20) -> dict[str, Window]:
        p, c = Window(), Window()
        for i in range(c_requests):
            c.count(i < c_errors, 0.002)
        for _ in range(200):
            p.count(False, 0.002)
        return {"p": p, "c": c}

    assert canary.evaluate(settings, state, windows(), now=100.5) is None  # too early
    assert canary.evaluate(settings, state, windows(c_requests=5), now=200) is None  # too few
    step = canary.evaluate(settings, state, windows(), now=101.5)
    assert step is not None and (step.action, step.percent) == ("step", 60.0)
    last = canary.evaluate(settings, {**state, "percent": 60.0}, windows(), now=101.5)
    assert last is not None and last.action == "complete" and last.percent == 100.0
    back = canary.evaluate(settings, state, windows(c_errors=2), now=100.1)
    assert back is not None and back.action == "rollback" and back.percent == 0.0
    assert "error rate 10.00% above the limit 1.00%" in back.reason
    assert canary.evaluate(settings, {**state, "status": "rolled_back"}, windows(5), 999) is None


def test_a_patient_batcher_waits_for_a_fuller_batch() -> None:
    """The shadow's batcher: requests a few ms apart still share one model call."""
    import asyncio

    from slipway.serving.batching import Batcher
    from slipway.serving.model import ModelThread

    calls: list[int] = []

    class Handler:
        def prepare(self, item: int) -> int:
            return item

        def run(self, prepared: list[int], key: object) -> list[int]:
            calls.append(len(prepared))
            return prepared

    async def main(patient: bool) -> None:
        thread = ModelThread("test-patient")
        batcher = Batcher(Handler(), thread, max_batch_size=4, max_wait_s=0.2, patient=patient)

        async def later(i: int) -> int:
            await asyncio.sleep(0.01 * i)
            return await batcher.submit(i, 1)

        assert await asyncio.gather(*(later(i) for i in range(4))) == [0, 1, 2, 3]
        await batcher.close()
        thread.shutdown()

    asyncio.run(main(patient=True))
    assert calls == [4]
    calls.clear()
    asyncio.run(main(patient=False))
    assert len(calls) > 1  # an impatient batcher calls at once for a lone caller
