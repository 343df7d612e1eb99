"""`slipway demo`: a tracked training run on the embedded store (SQLite + local files).

Trains a logistic-regression churn model with plain NumPy gradient descent, logging params,
a loss curve per epoch (through the background batcher), final metrics, the dataset input
and a JSON report, then prints where everything went.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.progress import Progress

import slipway
from slipway.demo.churn import FEATURES, make_churn

console = Console()


def _train(x: np.ndarray, y: np.ndarray, epochs: int, lr: float, progress: Progress):
    w = np.zeros(x.shape[1])
    b = 0.0
    task = progress.add_task("training", total=epochs)
    for epoch in range(epochs):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = p - y
        w -= lr * (x.T @ grad) / len(y)
        b -= lr * grad.mean()
        loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        slipway.log_metric("train_loss", float(loss), step=epoch)
        progress.advance(task)
    return w, b


def run_demo(epochs: int = 200, lr: float = 0.5) -> str:
    """Run the demo and return the run id."""
    data = make_churn()
    split = int(len(data) * 0.8)
    train, test = data.iloc[:split], data.iloc[split:]
    mean, std = train[FEATURES].mean(), train[FEATURES].std()
    x_train = ((train[FEATURES] - mean) / std).to_numpy()
    x_test = ((test[FEATURES] - mean) / std).to_numpy()
    y_train, y_test = train["churned"].to_numpy(), test["churned"].to_numpy()

    experiment = slipway.set_experiment("churn-demo")
    with slipway.start_run(run_name="logreg-baseline") as run:
        slipway.log_params({"model": "logistic_regression", "epochs": epochs, "lr": lr})
        slipway.log_input(train, context="training", name="churn-train")
        with Progress(console=console, transient=True) as progress:
            w, b = _train(x_train, y_train, epochs, lr, progress)
        pred = (1 / (1 + np.exp(-(x_test @ w + b)))) >= 0.5
        tp = int(((pred == 1) & (y_test == 1)).sum())
        precision = tp / max(int(pred.sum()), 1)
        recall = tp / max(int(y_test.sum()), 1)
        metrics = {
            "accuracy": float((pred == y_test).mean()),
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        }
        slipway.log_metrics(metrics)
        slipway.log_dict(
            {"weights": dict(zip(FEATURES, w.round(4).tolist(), strict=True)), "bias": b},
            "model/weights.json",
        )
    console.print(
        f"[bold green]Tracked run[/] {run.info.run_id} in experiment "
        f"[bold]{experiment.name}[/] (id {experiment.experiment_id})"
    )
    for key, value in metrics.items():
        console.print(f"  {key:<10} {value:.3f}")
    console.print(f"  metadata   {slipway.get_tracking_uri()}")
    console.print(f"  artifacts  {run.info.artifact_uri}")
    console.print("Look at it with: [bold].venv/bin/slipway runs list -e churn-demo[/]")
    return run.info.run_id
