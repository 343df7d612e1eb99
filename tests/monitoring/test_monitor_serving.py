"""The closed loop around a real `slipway serve`: its prediction log and `/feedback` labels
feed a monitor; the drift alert retrains; the better challenger is promoted and served."""

from __future__ import annotations

import time

import httpx
from loop_support import make_data, register, serving, weak_champion

from slipway.monitoring import monitors
from slipway.serving import ServeConfig


def test_served_drift_retrains_promotes_and_serves_the_new_champion(loop, monkeypatch) -> None:
    client, _, log_root, tmp = loop
    monkeypatch.setenv("SLIPWAY_PREDICTION_LOG_URI", log_root)
    champion, X0, y0 = weak_champion()
    version = register(client, "churn", champion, X0, y0, tmp)
    client.set_registered_model_alias("churn", "champion", version)
    monitors.create_monitor(
        "served", model="churn@champion", window="1d", min_rows=200, min_labels=100,
        drift_share=0.3, performance=["f1 drop 0.02"], alerts=["log"],
        retrain="loop_support:train_better", promote="auto", prediction_log=log_root,
        client=client,
    )  # fmt: skip
    config = ServeConfig(
        ["models:/churn@champion"], tracking_uri=client.tracking_uri, poll_interval_s=0.3
    )
    X, y = make_data(250, 31, shift=1.5)
    with serving(config) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        feedback = []
        for i in range(len(X)):
            answer = http.post(
                "/predict",
                json={"records": X.iloc[i : i + 1].to_dict(orient="records")},
                headers={"x-request-id": f"r{i}"},
            )
            assert answer.status_code == 200 and answer.json()["version"] == str(version)
            feedback.append({"request_id": f"r{i}", "label": int(y[i])})
        assert http.post("/feedback", json={"records": feedback}).json() == {"accepted": 250}
        app.prediction_log.flush()

        monitors.update_monitor(
            "served", serving_url=url, max_error_rate=0.5, max_latency_s=30.0, client=client
        )
        run = monitors.run_monitor("served", client=client)
        alerts = monitors.get_monitor("served", client=client).state["alerts"]
        assert alerts["error_rate"]["active"] is False and alerts["latency"]["active"] is False
        assert run.window.rows == 250 and run.window.labelled_rows == 250
        assert "dataset_drift" in run.alerts
        assert run.retrain["outcome"] == "promoted", run.retrain
        new = str(run.retrain["challenger"])

        deadline = time.monotonic() + 20
        while True:
            body = {"records": X.iloc[:1].to_dict(orient="records")}
            if http.post("/predict", json=body).json()["version"] == new:
                break
            assert time.monotonic() < deadline, "the server did not follow @champion"
            time.sleep(0.2)
