"""`slipway demo`: the model lifecycle on the embedded store (SQLite + local files).

Two candidates are trained on seeded synthetic churn data as tracked runs (params, a
validation-loss curve per boosting stage through the background batcher, final metrics,
the dataset input, the model in MLmodel format). Each is registered as a version of
`churn-classifier`; a quality gate decides which one holds `@champion`; the champion is
loaded back by URI and scores a few customers. Then `slipway serve` serves the champion
over HTTP and a monitor watches its prediction log: customers and their labels, then a
shifted population. The monitor alerts a local webhook and retrains: a hurried retrain is
refused by the gates (the champion keeps serving, the cooldown holds), a proper one waits
for approval, runs as a shadow beside the champion (`serve --traffic`, strategy shadow),
is approved and served. A later population is checked for drift with an HTML report.
Finally it prints where everything went.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

import slipway
from slipway import config
from slipway.demo.churn import FEATURES, make_churn
from slipway.demo.loop import (
    FRESH_CONCEPT,
    FRESH_DRIFT,
    HASTY_RETRAIN_ACTION,
    MONITOR,
    RETRAIN_ACTION,
    check_drift,
    post_labels,
    send_traffic,
    serving,
    shadowing,
    webhook_receiver,
)
from slipway.errors import GateFailed, MissingDependency

console = Console()
MODEL_NAME = "churn-classifier"
GATES = ["accuracy>=0.6", "f1>=0.3"]
RETRAIN_COOLDOWN_S = 3
SHADOW_REQUESTS = 150


def _metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    precision = tp / max(int(y_pred.sum()), 1)
    recall = tp / max(int(y_true.sum()), 1)
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
    }


def _train_candidate(name: str, model, train: pd.DataFrame, test: pd.DataFrame, progress):
    """One tracked run: fit, log the curve and metrics, log and register the model."""
    from sklearn.metrics import log_loss

    x_train, y_train = train[FEATURES], train["churned"]
    x_test, y_test = test[FEATURES], test["churned"]
    with slipway.start_run(run_name=name) as run:
        slipway.log_params({"model": type(model).__name__, **model.get_params()})
        slipway.log_input(train, context="training", name="churn-train")
        model.fit(x_train, y_train)
        stages = (
            list(model.staged_predict_proba(x_test))
            if hasattr(model, "staged_predict_proba")
            else [model.predict_proba(x_test)]
        )
        task = progress.add_task(f"logging {name}", total=len(stages))
        for step, proba in enumerate(stages):
            slipway.log_metric("val_loss", log_loss(y_test, proba[:, 1]), step=step)
            progress.advance(task)
        metrics = _metrics(y_test.to_numpy(), model.predict(x_test))
        slipway.log_metrics(metrics)
        # What monitors compare production with: the training data, labels, predictions.
        slipway.log_reference(
            x_train,
            y_train,
            predictions=model.predict(x_train),
            probabilities=model.predict_proba(x_train),
        )
        info = slipway.sklearn.log_model(
            model, name="model", input_example=x_train.head(5), registered_model_name=MODEL_NAME
        )
    return run, metrics, info


def _promote(client: slipway.Client, version: int) -> bool:
    """Make `version` the champion if it passes the gates and beats the current one."""
    has_champion = bool(client.get_registered_model(MODEL_NAME).aliases)
    try:
        result = client.promote(
            MODEL_NAME,
            version,
            alias="champion",
            require=GATES,
            must_beat=["champion:f1"] if has_champion else [],
            reason="slipway demo",
        )
    except GateFailed as exc:
        console.print(f"  version {version} stays a challenger: [yellow]{exc.message}[/]")
        return False
    checks = ", ".join(f"{c.condition} ({c.actual:.3f})" for c in result.checks)
    console.print(f"  version {version} is [bold green]@champion[/]: passed {checks}")
    return True


def _close_the_loop(client: slipway.Client, test: pd.DataFrame) -> None:
    """Serve @champion and watch it with a monitor through normal then drifted traffic:
    a hurried retrain is refused, a proper one is shadowed beside the champion, approved
    and served."""
    import httpx

    from slipway.monitoring import monitors
    from slipway.monitoring.monitor_report import write_monitor_report

    uri = slipway.get_tracking_uri()
    if any(m.name == MONITOR for m in monitors.list_monitors(client=client)):
        monitors.delete_monitor(MONITOR, client=client)  # a re-run starts a fresh story
    with (
        webhook_receiver() as hook,
        serving(f"models:/{MODEL_NAME}@champion", uri) as (url, app),
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        monitors.create_monitor(
            MONITOR,
            model=f"{MODEL_NAME}@champion",
            window="1d",
            min_rows=100,
            min_labels=100,
            drift_share=0.5,
            performance=["accuracy drop 0.06"],
            alerts=["log", f"webhook:{hook.url}"],
            retrain=HASTY_RETRAIN_ACTION,
            retrain_cooldown=f"{RETRAIN_COOLDOWN_S}s",
            promote="approval",
            client=client,
        )
        console.print(f"[bold]Serving[/] slipway serve models:/{MODEL_NAME}@champion on {url}")
        normal = test.head(300)
        post_labels(http, send_traffic(http, normal), normal["churned"])
        app.prediction_log.flush()
        first = monitors.run_monitor(MONITOR, client=client)
        console.print(
            f"  {len(normal)} customers scored, labels posted; monitor {MONITOR}: "
            f"{first.window.status}, alerts {first.alerts or 'none'}"
        )
        changed = make_churn(400, seed=11, drift=FRESH_DRIFT, concept=FRESH_CONCEPT)
        answers = send_traffic(http, changed)  # their labels come later
        app.prediction_log.flush()
        with console.status("the monitor evaluates the window, alerts, retrains"):
            second = monitors.run_monitor(MONITOR, client=client)
        console.print(
            f"  after a price rise, {len(changed)} more customers (not labelled yet): monitor "
            f"[bold red]{second.window.status}[/], alerts {', '.join(second.alerts)}; "
            f"webhook received {len(hook.received)} alert(s)"
        )
        _say_retrain(1, "a hurried job: a one-split tree on 150 customers", second.retrain)
        again = monitors.run_monitor(MONITOR, client=client)
        console.print(
            f"  the monitor again: alerts {again.alerts or 'none (still the same alert)'}, "
            f"retrain {(again.retrain or {}).get('outcome', 'none')} (cooldown "
            f"{RETRAIN_COOLDOWN_S} s in the demo, 6 h by default)"
        )
        # The team replaces the hurried job; the new customers' labels arrive.
        monitors.update_monitor(MONITOR, retrain=RETRAIN_ACTION, client=client)
        post_labels(http, answers, changed["churned"])
        app.prediction_log.flush()
        last = monitors.get_monitor(MONITOR, client=client).state.get("last_retrain", 0)
        time.sleep(max(0.0, RETRAIN_COOLDOWN_S - (time.time() * 1000 - last) / 1000))
        with console.status("labels arrived: the monitor measures, alerts, retrains"):
            third = monitors.run_monitor(MONITOR, client=client)
        accuracy = third.window.metrics.get("performance.accuracy", float("nan"))
        console.print(
            f"  the {len(changed)} labels arrive: monitor [bold red]{third.window.status}[/] "
            f"(accuracy {accuracy:.3f} on {third.window.labelled_rows} labelled rows), "
            f"alerts {', '.join(third.alerts)}; webhook received {len(hook.received)} alert(s)"
        )
        retrain = third.retrain or {}
        _say_retrain(2, "the proper job: fresh customers", retrain)
        if retrain.get("outcome") == "awaiting_approval":
            version = str(retrain["challenger"])
            agreed = _shadow_and_approve(client, http, version, changed)
            refused = second.retrain or {}
            console.print(
                f"[bold]Loop[/] alerts: {', '.join([*second.alerts, *third.alerts])}; "
                f"retrains: v{refused.get('challenger')} {refused.get('outcome')}, "
                f"v{version} shadowed (agreement {agreed}), approved and served"
            )
    report = config.home() / "reports" / "monitor-report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    write_monitor_report(monitors.monitor_status(MONITOR, client=client), str(report))


def _shadow_and_approve(
    client: slipway.Client, http: Any, version: str, customers: pd.DataFrame
) -> str:
    """Shadow the challenger beside the champion, approve it (the demo is the person at the
    gate) and wait until the production server answers with it; returns the agreement."""
    from slipway.monitoring import monitors

    shadow = _shadow(
        f"models:/{MODEL_NAME}@champion",
        f"models:/{MODEL_NAME}/{version}",
        slipway.get_tracking_uri(),
        customers,
    )
    agreement = shadow.get("agreement")
    agreed = "n/a" if agreement is None else f"{agreement:.0%}"
    monitors.approve_challenger(
        MODEL_NAME,
        version,
        f"slipway demo: {shadow['sent']} shadowed requests, agreement {agreed}, "
        f"{shadow['errors']} errors",
        client=client,
    )
    console.print(f"  [bold green]approved[/]: version {version} is @champion")
    deadline = time.monotonic() + 30
    while send_traffic(http, customers.head(1))[0]["version"] != version:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    console.print(f"  slipway serve follows @champion: now answering with v{version}")
    return agreed


def _say_retrain(number: int, what: str, outcome: dict | None) -> None:
    """One line per retrain: what it made, how it scored against the champion, the verdict."""
    outcome = outcome or {}
    verdict = outcome.get("outcome", "none")
    colour = {"refused": "yellow", "failed": "red"}.get(verdict, "green")
    line = f"  retrain {number} ({what}): "
    if outcome.get("challenger"):
        line += f"version {outcome['challenger']} is @challenger, "
    if outcome.get("challenger_score") is not None:
        line += (
            f"{outcome['metric']} {outcome['challenger_score']:.3f} vs champion "
            f"v{outcome['champion']} {outcome['champion_score']:.3f} on {outcome['rows']} "
            "labelled rows, "
        )
    line += f"[bold {colour}]{verdict.replace('_', ' ')}[/]"
    if verdict == "refused":
        line += ": the champion keeps serving"
    console.print(line)


def _shadow(
    champion_uri: str, challenger_uri: str, uri: str, customers: pd.DataFrame
) -> dict[str, Any]:
    """The challenger as a shadow beside the champion: same requests, answers compared."""
    import httpx

    with (
        shadowing(champion_uri, challenger_uri, uri) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        send_traffic(http, customers.head(SHADOW_REQUESTS))
        deadline = time.monotonic() + 30
        while True:
            shadow = http.get("/traffic").json()["shadow"]
            copied = shadow["sent"] + shadow["dropped"] >= SHADOW_REQUESTS
            if (copied and not shadow["in_flight"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    agreement = shadow.get("agreement")
    console.print(
        f"  shadow: slipway serve --traffic (strategy shadow) sent {shadow['sent']} requests "
        f"to the challenger too; its answers agreed with the champion's on "
        f"{'n/a' if agreement is None else f'{agreement:.0%}'} of them; p99 "
        f"{_ms(shadow['shadow_p99_ms'])} (champion {_ms(shadow['primary_p99_ms'])}), "
        f"{shadow['errors']} errors"
    )
    return shadow


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def run_demo() -> str:
    """Run the demo; returns the run id of the final champion's run."""
    try:
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise MissingDependency(
            "The demo trains scikit-learn models. Install them with: pip install 'slipway[sklearn]'"
        ) from exc

    data = make_churn()
    split = int(len(data) * 0.8)
    train, test = data.iloc[:split], data.iloc[split:]
    experiment = slipway.set_experiment("churn-demo")
    client = slipway.Client(slipway.get_tracking_uri())
    candidates = [
        ("gbm-baseline", GradientBoostingClassifier(n_estimators=60, random_state=7)),
        ("logreg-challenger", LogisticRegression(max_iter=500)),
    ]
    runs = {}
    with Progress(console=console, transient=True) as progress:
        for name, model in candidates:
            runs[name] = _train_candidate(name, model, train, test, progress)
    console.print(f"[bold]Experiment[/] {experiment.name} (id {experiment.experiment_id})")
    for name, (run, metrics, _) in runs.items():
        summary = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        console.print(f"  run {name:<18} {run.info.run_id}  {summary}")
    console.print(f"[bold]Registry[/] {MODEL_NAME}")
    for _, _, info in runs.values():
        _promote(client, info.registered_model_version)

    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    model = slipway.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    scores = model.predict(test[FEATURES].head(5))
    console.print(
        f"[bold]Serving check[/] models:/{MODEL_NAME}@champion (version {champion.version}) "
        f"predicts {list(np.asarray(scores).tolist())} for the first 5 test customers"
    )

    _close_the_loop(client, test)

    report = config.home() / "reports" / "drift-report.html"
    drifted = make_churn(2000, seed=11, drift=0.6)[FEATURES]
    result = check_drift(train[FEATURES], drifted, report)
    verdict = "[bold red]dataset drift[/]" if result.dataset_drift else "no dataset drift"
    console.print(
        f"[bold]Drift[/] next quarter's customers vs training data: {verdict} "
        f"({result.share_drifted:.0%} of columns: {', '.join(result.drifted_columns)})"
    )
    console.print(f"  metadata   {slipway.get_tracking_uri()}")
    console.print(f"  artifacts  {experiment.artifact_location}")
    console.print(f"  reports    {report.parent}")
    console.print(
        "Look at it with: [bold].venv/bin/slipway runs list -e churn-demo[/], "
        f"[bold].venv/bin/slipway models show {MODEL_NAME}[/], "
        f"[bold].venv/bin/slipway models history {MODEL_NAME}[/], "
        f"[bold].venv/bin/slipway monitor status {MONITOR}[/], "
        f"[bold].venv/bin/slipway predictions export {MODEL_NAME} -o scored.csv[/]"
    )
    console.print(
        "Or in the browser: [bold].venv/bin/slipway ui[/] (experiments, runs, the registry "
        "and the monitor on this data, at http://127.0.0.1:5000)"
    )
    return champion.run_id


__all__ = [
    "run_demo",
]
