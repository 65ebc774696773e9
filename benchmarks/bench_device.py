"""The network ensemble trained on each torch device here: time, test score, resume, CPU use.

Reads what `dvc repro` left in data/ (validated molecules, features, split, graphs) and
params.yaml's data and train sections, as the train stage does, and for each device (default:
the CPU and every accelerator torch sees) prints:
- the wall time of training the whole ensemble with checkpoints, as the stage does (members
  in train.n_jobs worker processes on the CPU, one after another on an accelerator);
- the ensemble's test score, and its largest prediction difference from the first device;
- whether the device's weights predict the same on the CPU (a model trained on a GPU server
  and used on a laptop);
- resume: the first member stopped after --stop-after epochs and resumed from its checkpoint,
  against the uninterrupted member (largest weight difference; 0 means identical);
- repeat: the first member trained a second time from scratch (0 means reproducible);
- the pipeline's saved network (models/model) predicting the test part on the device in a
  worker process, as the evaluate stage does, against its predictions on the CPU.

    python benchmarks/bench_device.py [--devices cpu cuda] [--stop-after 5] [--timing-only]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ruamel.yaml import YAML

from molprop.evaluation.metrics import score
from molprop.features.parallel import WorkerPool
from molprop.models.partitions import partitions
from molprop.models.predictor import predict_saved
from molprop.nn.device import one_cpu_thread
from molprop.nn.members import (Member, MemberRun, ensemble_members, predict_rows, read_training_tables, train_member,
                                train_members)
from molprop.nn.store import load_network
from molprop.nn.training_types import TrainConfig
from molprop.seeding import seed_everything


class Stop(Exception):
    """Raised after a set number of epochs, as a kill would cut a run short."""


def accelerators() -> list[str]:
    """The accelerators torch sees here."""
    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return found + (["mps"] if torch.backends.mps.is_available() else [])


def weight_difference(a: Path, b: Path) -> float:
    """Largest absolute difference between two saved members' weights."""
    wa, wb = load_network(a).model.state_dict(), load_network(b).model.state_dict()
    return max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa)


def train_first_member(run: MemberRun, member: Member, device: torch.device, out: Path, ckpt: Path,
                       stop_after: int | None = None) -> None:
    """Train ``member`` into ``out`` with checkpoints in ``ckpt``, stopped after ``stop_after``
    epochs when given."""
    def on_epoch(record: dict) -> None:
        if stop_after is not None and record["epoch"] + 1 >= stop_after:
            raise Stop

    try:
        with one_cpu_thread():  # as the stage trains a member
            train_member(member, run.data, run.kind, run.network_params, run.scaling, run.options, device, out,
                         ckpt, on_epoch=on_epoch)
    except Stop:
        pass


def saved_model_difference(directory: Path, run: MemberRun, test: np.ndarray) -> float:
    """Largest difference between ``directory``'s member predictions of ``test`` on
    ``run.device`` (in a worker process, as evaluate predicts, except on Apple's GPU) and on
    the CPU."""
    features, graphs = run.data.features.iloc[test], run.data.graph_subset(test)
    if run.device == "mps":  # not usable in a forked process; evaluate predicts in its own process there
        on_device = predict_saved(directory, features, run.device, graphs)
    else:
        with WorkerPool(1, predict_saved, ["torch", "molprop.nn.store"]) as helper:
            on_device = helper.submit(predict_saved, directory, features, run.device, graphs).result()
    on_cpu = predict_saved(directory, features, "cpu", graphs)
    return float(np.max(np.abs(on_device.members - on_cpu.members)))


def bench_device(run: MemberRun, members: list[Member], n_jobs: int, test: np.ndarray, stop_after: int,
                 saved: Path, timing_only: bool = False) -> dict:
    """Train the ensemble on ``run.device``, then (unless ``timing_only``) the resume and repeat
    checks of its first member and the predictions of the ``saved`` network."""
    device = torch.device(run.device)
    start = time.perf_counter()
    with train_members(run, members, n_jobs) as trained:
        for _ in trained:
            pass
    seconds = time.perf_counter() - start
    nan = float("nan")
    on_device = [predict_rows(run.out, m, run.data, test, device) for m in members]
    on_cpu = [predict_rows(run.out, m, run.data, test, torch.device("cpu")) for m in members]
    mean = np.mean(on_device, axis=0)
    result = {"seconds": seconds, "score": score(run.data.task, run.data.y[test], mean), "mean": mean,
              "cpu_difference": float(np.max(np.abs(np.asarray(on_device) - np.asarray(on_cpu)))),
              "resume_difference": nan, "repeat_difference": nan, "saved_difference": nan}
    if timing_only:
        return result
    first, scratch = members[0], run.out.parent
    train_first_member(run, first, device, scratch / "stopped", scratch / "ckpt_stopped", stop_after)
    train_first_member(run, first, device, scratch / "resumed", scratch / "ckpt_stopped")
    train_first_member(run, first, device, scratch / "repeat", None)
    reference = run.out / first.name
    result["resume_difference"] = weight_difference(reference, scratch / "resumed" / first.name)
    result["repeat_difference"] = weight_difference(reference, scratch / "repeat" / first.name)
    if saved.is_dir():
        result["saved_difference"] = saved_model_difference(saved, run, test)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=None, help="torch devices (default: cpu and accelerators)")
    parser.add_argument("--stop-after", type=int, default=5, help="epochs before the resume check's stop")
    parser.add_argument("--data", type=Path, default=Path("data"), help="the pipeline's data folder")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--timing-only", action="store_true", help="train and score the ensemble, no checks")
    parser.add_argument("--saved", type=Path, default=Path("models/model"), help="the pipeline's saved network")
    args = parser.parse_args()
    params = YAML(typ="safe").load(args.params.read_text())  # as DVC and the stages read it
    task, cfg = params["data"]["task"], params["train"]
    tables = read_training_tables(args.data, task, cfg["model"], cfg["features"])
    members = ensemble_members(partitions(tables.split), cfg["ensemble_size"], cfg["seed"])
    test = members[0].partition.test
    if not len(test):
        sys.exit("the split has no test molecules")
    options = TrainConfig(**{k: cfg[k] for k in TrainConfig.__dataclass_fields__})
    devices = args.devices or ["cpu", *accelerators()]
    print(f"torch {torch.__version__}; {len(members)} {cfg['model']} members, {len(tables.data.y)} molecules, "
          f"{len(test)} in test")
    results = {}
    with tempfile.TemporaryDirectory(prefix="molprop-bench-device-") as scratch:
        for name in devices:
            seed_everything(cfg["seed"])
            work = Path(scratch) / name.replace(":", "_")
            run = MemberRun(tables.data, cfg["model"], cfg, cfg["feature_scaling"], options, name,
                            work / "model", work / "checkpoints", cfg["checkpoint_interval_s"])
            results[name] = bench_device(run, members, cfg["n_jobs"], test, args.stop_after, args.saved,
                                         args.timing_only)
            print(f"{name}: done in {results[name]['seconds']:.1f} s", flush=True)
    first = results[devices[0]]["mean"]
    metric = next(iter(results[devices[0]]["score"]))
    print(f"\n| device | ensemble training (s) | test {metric} | max pred diff vs {devices[0]} "
          "| max pred diff on CPU | resume: max weight diff | repeat: max weight diff "
          f"| {args.saved}: max pred diff vs CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.1f} | {r['score'][metric]:.4f} | {np.max(np.abs(r['mean'] - first)):.2e} "
              f"| {r['cpu_difference']:.2e} | {r['resume_difference']:.2e} | {r['repeat_difference']:.2e} "
              f"| {r['saved_difference']:.2e} |")


if __name__ == "__main__":
    main()
