"""The Thompson-sampling bandit moves traffic to the variant whose rewards are better."""

from __future__ import annotations

import time

import numpy as np
import pytest
from serving_support import numeric_data
from traffic_support import traffic_doc

from slipway.serving.traffic import bandit

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("reward", ["binary", "gaussian"])
def test_the_bandit_shifts_traffic_to_the_better_variant(serve, reward):
    served = serve(
        traffic=traffic_doc(
            "bandit",
            {"good": "models:/forest/1", "poor": "models:/forest/2"},
            bandit={"reward": reward, "min_explore": 0.05},
        ),
        prediction_log=True,
    )
    rng = np.random.default_rng(7)
    records = numeric_data(3, rows=1)[0].to_dict(orient="records")
    assert served.http.get("/traffic").json()["weights"] == {"good": 50.0, "poor": 50.0}
    shares = []
    for _ in range(8):
        feedback, good = [], 0
        for _ in range(40):
            answer = served.http.post("/predict", json={"records": records})
            variant = answer.headers["x-slipway-variant"]
            good += variant == "good"
            if reward == "binary":
                value = float(rng.random() < (0.8 if variant == "good" else 0.3))
            else:
                value = float(rng.normal(1.0 if variant == "good" else 0.5, 0.3))
            feedback.append({"request_id": answer.headers["x-request-id"], "reward": value})
        assert served.http.post("/feedback", json={"records": feedback}).json()["accepted"] == 40
        shares.append(good / 40)
        time.sleep(0.3)  # a sync or so: the posteriors and the split are recomputed
    status = served.http.get("/traffic").json()
    assert status["weights"]["good"] > 85.0, (status["weights"], shares)
    assert status["weights"]["poor"] >= 5.0  # min_explore keeps it explored
    assert np.mean(shares[-3:]) > 0.7, shares
    posteriors = status["bandit"]["posteriors"]
    assert posteriors["good"]["mean"] > posteriors["poor"]["mean"]
    assert posteriors["good"]["rewards"] + posteriors["poor"]["rewards"] == 320
    assert status["variants"]["good"]["rewards"] == posteriors["good"]["rewards"]


def test_allocation_follows_the_posteriors_and_keeps_the_exploration_floor():
    rng = np.random.default_rng(0)
    even = bandit.allocation("binary", {"a": (0, 0, 0), "b": (0, 0, 0)}, 0.05, rng)
    assert abs(even["a"] - 50) < 3 and abs(sum(even.values()) - 100) < 1e-9
    clear = bandit.allocation("binary", {"a": (200, 160, 160), "b": (200, 40, 40)}, 0.1, rng)
    assert clear == pytest.approx({"a": 90.0, "b": 10.0})
    gauss = {"a": (50, 50 * 2.0, 50 * 4.1), "b": (50, 50 * 1.0, 50 * 1.1)}
    assert bandit.allocation("gaussian", gauss, 0.0, rng)["a"] > 99
    # a variant with no rewards yet is explored, not starved
    fresh = bandit.allocation("gaussian", {"a": (50, 50.0, 51.0), "b": (0, 0.0, 0.0)}, 0.0, rng)
    assert fresh["b"] > 20
    assert (
        bandit.reward_value("binary", 1.5) is None and bandit.reward_value("gaussian", 1.5) == 1.5
    )


def test_feedback_reaching_another_worker_is_handed_over(registry, tmp_path):
    """Two apps on one state folder are two workers: a reward posted to the one that did
    not answer the request reaches the variant through the folder."""
    from contextlib import ExitStack

    from serving_support import running_server

    from slipway.serving import ServeConfig

    doc = traffic_doc(
        "bandit",
        {"good": "models:/forest/1", "poor": "models:/forest/2"},
        bandit={"reward": "binary", "min_explore": 0.05},
        state=str(tmp_path / "state"),
    )
    records = numeric_data(3, rows=1)[0].to_dict(orient="records")
    with ExitStack() as stack:
        one, two = (
            stack.enter_context(
                running_server(ServeConfig([], tracking_uri=registry.tracking_uri, traffic=doc))
            )
            for _ in range(2)
        )
        answers = [one.http.post("/predict", json={"records": records}) for _ in range(10)]
        feedback = [{"request_id": a.headers["x-request-id"], "reward": 1.0} for a in answers]
        assert two.http.post("/feedback", json={"records": feedback}).json()["accepted"] == 10
        deadline = time.monotonic() + 10
        while True:
            status = two.http.get("/traffic").json()
            if sum(v["rewards"] for v in status["variants"].values()) == 10:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status["workers"] == 2
        served = {a.headers["x-slipway-variant"] for a in answers}
        assert {v for v, n in status["variants"].items() if n["rewards"]} == served
        assert one.http.get("/traffic").json()["feedback"]["waiting"] == 0
        assert status["feedback"]["waiting"] == 0 and status["feedback"]["unplaced"] == 0
        posteriors = status["bandit"]["posteriors"]
    # both stopped: a new server starts from the same posteriors
    config = ServeConfig([], tracking_uri=registry.tracking_uri, traffic=doc)
    with running_server(config) as again:
        assert again.http.get("/traffic").json()["bandit"]["posteriors"] == posteriors
