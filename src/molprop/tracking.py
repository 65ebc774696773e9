"""MLflow tracking: a local sqlite store by default, overridable by MLFLOW_TRACKING_URI."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@contextmanager
def mlflow_run(experiment: str, run_name: str, params: Mapping[str, Any]) -> Iterator[Any]:
    """An MLflow run with ``params`` logged (nested keys flattened with dots)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI))
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(_flatten(params))
        yield run


def log_params(params: Mapping[str, Any], prefix: str = "") -> None:
    """Log more params to the active MLflow run (nested keys flattened with dots after
    ``prefix``)."""
    import mlflow

    mlflow.log_params(_flatten(params, prefix))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log finite numeric metrics to the active MLflow run."""
    import math

    import mlflow

    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    mlflow.log_metrics(clean, step=step)


def log_model_dir(path: str | Path, artifact_path: str = "model") -> None:
    """Log a saved model directory (weights + config, no pickles) as run artifacts."""
    import mlflow

    mlflow.log_artifacts(str(path), artifact_path=artifact_path)


def log_history(records: list[dict], prefix: str = "") -> None:
    """Log per-epoch records (``epoch`` plus metric values) to the active run in one batch."""
    import math
    import time

    import mlflow
    from mlflow.entities import Metric

    run = mlflow.active_run()
    if run is None or not records:
        return
    now = int(time.time() * 1000)
    metrics = [Metric(prefix + key, float(value), now, int(record["epoch"]))
               for record in records for key, value in record.items()
               if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value)]
    client = mlflow.tracking.MlflowClient()
    for start in range(0, len(metrics), 1000):  # MLflow's batch size limit
        client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
