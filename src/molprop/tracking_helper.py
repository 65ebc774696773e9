"""The process that writes one MLflow run for ``molprop.tracking`` (``python -m
molprop.tracking_helper``): it imports MLflow and opens the store while the stage works, then
logs what the stage sends, one JSON message per line on standard input (``start`` first,
then ``params``, ``metrics``, ``artifacts``, and ``end``). It prints the run id when done.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARAMS_PER_BATCH = 100  # MLflow's limits per log_batch call
METRICS_PER_BATCH = 1000


LOCK_FILE = Path("mlruns") / ".molprop-store.lock"


@contextmanager
def store_lock(root: str | None) -> Iterator[None]:
    """Hold an exclusive lock on the default store under ``root`` (None: another store, no
    lock) while it is created and the experiment looked up or made: stages of queued
    experiments running at once (`dvc queue start -j 2`) would otherwise both create and
    migrate a new mlflow.db, and one of them failed."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        fcntl = None
    if root is None or fcntl is None:
        yield
        return
    path = Path(root) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    start = json.loads(sys.stdin.readline())["start"]
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from mlflow.tracking.context.registry import resolve_tags

    if start.get("root"):  # the repository's root: relative store paths, and ./mlruns for artifacts
        os.chdir(start["root"])
    with store_lock(start.get("root")):
        client = MlflowClient(start["uri"])
        experiment = client.get_experiment_by_name(start["experiment"])
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(start["experiment"])
    sys.argv[0] = start["source"] or sys.argv[0]  # source name and git commit: the stage's, not ours
    tags = resolve_tags({"mlflow.runName": start["run_name"], **start.get("tags", {})})
    run_id = client.create_run(experiment_id, start_time=start["start_ms"], tags=tags,
                               run_name=start["run_name"]).info.run_id
    status, end_ms = "KILLED", None  # no "end" message: the stage died
    for line in sys.stdin:
        (kind, body), = json.loads(line).items()
        if kind == "params":
            params = [Param(k, str(v)) for k, v in body.items()]
            for i in range(0, len(params), PARAMS_PER_BATCH):
                client.log_batch(run_id, params=params[i : i + PARAMS_PER_BATCH])
        elif kind == "metrics":
            metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in body]
            for i in range(0, len(metrics), METRICS_PER_BATCH):
                client.log_batch(run_id, metrics=metrics[i : i + METRICS_PER_BATCH])
        elif kind == "artifacts":
            client.log_artifacts(run_id, body["path"], artifact_path=body["artifact_path"])
        elif kind == "end":
            status, end_ms = body["status"], body["end_ms"]
            break
        else:
            raise ValueError(f"unknown tracking message {kind!r}")
    client.set_terminated(run_id, status, end_time=end_ms)
    try:
        print(run_id, flush=True)
    except BrokenPipeError:  # the stage was killed: the run is marked KILLED, no one to tell
        pass
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is logged and the run is terminated (each client call commits): skip tearing
    # down the interpreter with MLflow and SQLAlchemy loaded (~0.8 s the stage would wait for).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass
    os._exit(code)
