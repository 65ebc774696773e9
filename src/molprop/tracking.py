"""MLflow tracking: a local sqlite store by default, overridable by MLFLOW_TRACKING_URI.

A stage's run is written by a helper process (``molprop.tracking_helper``) that starts when the
run opens and is fed what to log through a pipe: importing MLflow and opening its store take
seconds (~4 s with an existing sqlite store, ~6 s when it creates one), which then overlap
the stage's own work on another core instead of delaying it. The stage never imports MLflow.
Leaving the run waits for the helper to have logged everything, and raises if it failed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molprop.errors import UserInputError

DEFAULT_STORE = "mlflow.db"  # in the repository's root, with artifacts under mlruns/ beside it


def store_root() -> Path:
    """The directory of the default MLflow store: the repository's root. DVC names it in
    DVC_ROOT for every stage command, for a queued `dvc exp run` too, whose stages run in a
    temporary copy that is deleted afterwards (with any store inside it). Elsewhere: the
    current directory."""
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a relative path in it is relative to :func:`store_root`),
    else the default store's sqlite URI."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(store_root() / DEFAULT_STORE).as_posix()}"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _now_ms() -> int:
    return int(time.time() * 1000)


def _plain(value: Any) -> Any:
    """A JSON-writable stand-in for a value json cannot write (numpy scalars, paths)."""
    return value.item() if hasattr(value, "item") else str(value)


def dvc_experiment_tags() -> dict[str, str]:
    """The DVC experiment a run belongs to, as MLflow tags (``dvc.experiment``: its name,
    ``dvc.baseline_rev``: the commit it starts from), from the variables `dvc exp run` sets
    for its stages; none in a plain `dvc repro`."""
    names = {"dvc.experiment": "DVC_EXP_NAME", "dvc.baseline_rev": "DVC_EXP_BASELINE_REV"}
    return {tag: os.environ[variable] for tag, variable in names.items() if os.environ.get(variable)}


def open_dvclive(directory: str) -> Any:
    """dvclive's logger for ``directory`` (a ``dvclive.Live``, no dvc.yaml of its own, no DVC
    experiment saved); a git repository without a commit, where dvclive fails with a traceback
    (it records the commit), is a one-line error."""
    from dvclive import Live

    try:
        return Live(directory, dvcyaml=None, save_dvc_exp=False)
    except Exception as error:
        if "Empty git repo" not in str(error):
            raise
        raise UserInputError("this git repository has no commit yet, and dvclive records the one it "
                             "logs against: commit the project first (git add -A && git commit -m start), "
                             "then run dvc repro again") from None


class _Helper:
    """The process that owns one MLflow run; messages are JSON lines on its standard input."""

    def __init__(self, experiment: str, run_name: str) -> None:
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true"),
               # the helper imports the molprop this process imported (a stage's own checkout)
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                           os.environ.get("PYTHONPATH")]))}
        # in a session of its own, out of reach of the terminal's Ctrl-C: the stage decides
        # what that means, and the helper records how the run ended (KILLED when the stage
        # dies before its "end" message)
        self.process = subprocess.Popen([sys.executable, "-m", "molprop.tracking_helper"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        self.broken = False
        # the helper works in the repository's root: a store named by a relative path
        # (MLFLOW_TRACKING_URI=sqlite:///alt.db) and the artifacts of a sqlite store go there, not
        # into a queued experiment's temporary copy, which is deleted afterwards with them
        self.send("start", {"uri": tracking_uri(), "root": str(store_root()),
                            "experiment": experiment, "run_name": run_name,
                            "source": os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "",
                            "start_ms": _now_ms(), "tags": dvc_experiment_tags()})

    def send(self, kind: str, body: Any) -> None:
        if self.broken:
            return  # the helper has died; its error is raised when the run ends
        try:
            self.process.stdin.write(json.dumps({kind: body}, default=_plain) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.broken = True

    def finish(self, status: str) -> tuple[str | None, int]:
        """End the run with ``status``; (its id, the helper's exit code) once it has exited."""
        self.send("end", {"status": status, "end_ms": _now_ms()})
        try:
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        out = self.process.stdout.read()
        code = self.process.wait()
        return (out.strip().splitlines() or [None])[-1], code


_ACTIVE: _Helper | None = None


@dataclass
class TrackedRun:
    """The MLflow run of a ``mlflow_run`` block; ``run_id`` is set when the block ends."""

    run_id: str | None = None


@contextmanager
def mlflow_run(experiment: str, run_name: str, params: Mapping[str, Any]) -> Iterator[TrackedRun]:
    """An MLflow run with ``params`` logged (nested keys flattened with dots); the log_*
    functions below log to it. The run ends FINISHED, or FAILED when the block raises (KILLED
    when Ctrl-C interrupts it)."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RuntimeError("an MLflow run is already open in this process")
    helper = _Helper(experiment, run_name)
    helper.send("params", _flatten(params))
    run = TrackedRun()
    _ACTIVE = helper
    try:
        yield run
    except BaseException as error:
        _ACTIVE = None
        helper.finish("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        raise
    _ACTIVE = None
    run.run_id, code = helper.finish("FINISHED")
    if code != 0:
        raise UserInputError(f"MLflow tracking failed (exit code {code}; its error is printed above). Check "
                             f"MLFLOW_TRACKING_URI ({tracking_uri()}).")


def _active() -> _Helper:
    if _ACTIVE is None:
        raise RuntimeError("no MLflow run is open: log inside `with tracking.mlflow_run(...)`")
    return _ACTIVE


def log_params(params: Mapping[str, Any], prefix: str = "") -> None:
    """Log more params to the open run (nested keys flattened with dots after ``prefix``)."""
    _active().send("params", _flatten(params, prefix))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log the finite numeric metrics to the open run."""
    now = _now_ms()
    _active().send("metrics", [[k, float(v), now, step or 0] for k, v in metrics.items() if _finite(v)])


def log_model_dir(path: str | Path, artifact_path: str = "model") -> None:
    """Log a saved model directory (weights + config, no pickles) as run artifacts."""
    _active().send("artifacts", {"path": str(Path(path).resolve()), "artifact_path": artifact_path})


def log_history(records: list[dict], prefix: str = "") -> None:
    """Log per-epoch records (``epoch`` plus metric values) to the open run, if any."""
    if _ACTIVE is None or not records:
        return
    now = _now_ms()
    _ACTIVE.send("metrics", [[prefix + key, float(value), now, int(record["epoch"])]
                             for record in records for key, value in record.items()
                             if key != "epoch" and _finite(value)])
