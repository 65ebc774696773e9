"""Stage train: an ensemble of PyTorch networks, D-MPNNs on the molecular graphs or MLPs.

AdamW with warm-up + cosine decay, gradient clipping and early stopping on the validation
loss; ``ensemble_size`` members (different seeds) per partition, one partition per fold in
k-fold mode. The members' spread on the validation part calibrates the uncertainty. Training
is checkpointed under checkpoints/train (after every epoch), so a killed run resumes there.
Members train in parallel processes on the CPU (train.n_jobs). Per-epoch curves go to
dvclive (dvclive/) and MLflow; models/model holds the best weights (state dicts + JSON, no
pickle).
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, require_input, run_stage, save_model_context, upstream_params

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from molprop import tracking
from molprop.errors import UserInputError
from molprop.evaluation.metrics import score
from molprop.features.graph_store import has_graphs
from molprop.features.parallel import available_cores
from molprop.models.calibration import ensemble_validation, flat_uncertainty_warning
from molprop.models.partitions import partitions
from molprop.models.store import ModelCard, save_card
from molprop.nn.workers import device_name_problem, only_cpu_available, start_worker_server
from molprop.seeding import seed_everything
from molprop.serialization import undefined_as_null

if TYPE_CHECKING:
    from dvclive import Live

OUT = Path("models/model")
CHECKPOINTS = Path("checkpoints/train")
GRAPHS = Path("data/graphs.parquet")
FEATURES = Path("data/features.parquet")
INPUTS = ("data/validated.parquet", str(FEATURES), "data/split.parquet")
RUN_SETTINGS = ("n_jobs", "device", "checkpoint_interval_s")  # how train runs, not what it trains
CURVES = {"train_loss": "train/loss", "val_loss": "val/loss", "lr": "lr"}  # history key: dvclive name


def main() -> None:
    params = read_params("data", "train")
    task, cfg = params["data"]["task"], params["train"]
    problem = device_name_problem(cfg["device"])
    if problem:
        raise SystemExit(f"train: train.device {cfg['device']!r}: {problem}")
    if cfg["n_jobs"] != 1 and cfg["device"] in ("auto", "cpu") and available_cores() > 1:
        start_worker_server()  # it imports torch for the workers while this process goes on
    try:
        device = training_device(cfg["device"])
    except ValueError as error:  # a device torch here cannot reach, e.g. cuda:3 on a 1-GPU machine
        raise SystemExit(f"train: train.{error}") from None
    for path in INPUTS + ((str(GRAPHS),) if cfg["model"] == "dmpnn" else ()):
        require_input(path)
    check_settings(cfg, GRAPHS)  # before a run is opened (and left FAILED in MLflow)
    # The MLflow run and dvclive open first: the helper process that logs the run imports
    # MLflow (~2 s of CPU) while this process reads the data and the worker server imports
    # torch, rather than beside the first members (FreeSolv: the stage ~0.5-1 s faster).
    with tracking.mlflow_run("molprop", "train", params | upstream_params()), \
            tracking.open_dvclive("dvclive") as live:
        train_ensemble(task, cfg, device, live)


def check_settings(cfg: dict, graphs: Path, features: Path = FEATURES) -> None:
    """UserInputError for train settings that cannot train, or not on the featurized data."""
    import pyarrow.parquet as pq

    from molprop.nn.training_types import network_feature_columns

    if cfg["feature_scaling"] == "none" and "descriptors" in cfg["features"]:
        raise UserInputError("train.feature_scaling none leaves the RDKit descriptors as they are (Ipc reaches 1e9, "
                             "BertzCT 1e3): a network does not train on such inputs. Use quantile or standard, or "
                             "take descriptors off train.features")
    if cfg["model"] == "dmpnn" and cfg["n_layers"] < 1:  # range(n_layers - 1) hidden + the output layer
        raise UserInputError("train.n_layers is 0: a dmpnn's head counts its output layer, so 1 is the least "
                             "(the output layer alone; 0 trained the same network as 1)")
    if cfg["model"] == "dmpnn" and graphs.is_file() and not has_graphs(graphs):
        raise UserInputError(f"{graphs} holds no graphs: set featurize.graph: true and re-run featurize "
                             "(or train.model: mlp)")
    if features.is_file():
        network_feature_columns(cfg["model"], cfg["features"], pq.read_schema(features).names)


def training_device(name: str) -> str:
    """The device the members train on, for train.device ``name``: ``cpu`` without importing
    torch where it can use nothing else, else the device torch picks (``cuda:1`` stays
    ``cuda:1``). ValueError for a device this machine lacks."""
    if name == "cpu" or (name == "auto" and only_cpu_available()):
        return "cpu"  # torch is imported where members train: in the workers, or later here
    import torch  # noqa: F401  (imported before seeding so torch's generator is seeded too)

    from molprop.nn.device import pick_device

    return str(pick_device(name))


def train_ensemble(task: str, cfg: dict, device: str, live: Live) -> None:
    """Train the members on ``device``, log each one's curves and validation scores as it comes
    back, then the ensemble's; save its card and prediction context under models/model."""
    from molprop.nn.members import (MemberRun, ensemble_members, read_training_tables, remove_other_checkpoints,
                                    train_members)
    from molprop.nn.training_types import (ONLY_FOR, TrainConfig, hardly_trained_warning, mean_history,
                                           not_learnt_warning)

    seed_everything(cfg["seed"])
    kind = cfg["model"]
    tables = read_training_tables(Path("data"), task, kind, cfg["features"])
    validated, split, classes, data = tables.validated, tables.split, tables.classes, tables.data
    options = TrainConfig(**{k: cfg[k] for k in TrainConfig.__dataclass_fields__})
    members = ensemble_members(partitions(split), cfg["ensemble_size"], cfg["seed"])
    shutil.rmtree(OUT, ignore_errors=True)
    print(f"train: {len(members)} {kind} member(s) on {device}, {len(data.columns)} molecule features")
    val_predictions: dict[str, list[np.ndarray]] = {}
    best_epoch: dict[str, int] = {}
    histories: list[list[dict]] = []
    run = MemberRun(data, kind, cfg, cfg["feature_scaling"], options, device, OUT, CHECKPOINTS,
                    cfg["checkpoint_interval_s"])
    with train_members(run, members, cfg["n_jobs"]) as trained:
        for member, result in trained:
            prefix = f"{member.name}/"
            val = member.partition.val
            # without a validation part the history's val_loss is the training loss that early
            # stopping watched: not logged as a validation curve
            logged = ("train_loss", "val_loss", "lr") if len(val) else ("train_loss", "lr")
            for record in result.history:
                live.step = record["epoch"]
                for key in logged:
                    live.log_metric(prefix + CURVES[key], record[key])
            tracking.log_history([{"epoch": r["epoch"], **{k: r[k] for k in logged}} for r in result.history], prefix)
            histories.append(result.history)
            summary = {"best_epoch": result.best_epoch, "epochs_run": len(result.history)}
            best_epoch[member.name] = result.best_epoch
            if len(val):
                pred = result.val_predictions
                val_predictions.setdefault(member.partition.name, []).append(pred)
                summary |= {f"val_{k}": v for k, v in score(task, data.y[val], pred).items()}
            for key, value in summary.items():
                live.summary[prefix + key] = undefined_as_null(value)
            tracking.log_metrics({prefix + k: v for k, v in summary.items()})
            print(f"train {member.name}: {summary}")
            unlearnt = not_learnt_warning(member.name, result, options.max_epochs)
            if unlearnt:
                print(f"train: warning: {unlearnt}")
    remove_other_checkpoints(CHECKPOINTS, [m.name for m in members])
    warning = hardly_trained_warning(list(best_epoch.values()), options.warmup_epochs,
                                     min(len(m.partition.val) for m in members), options.start_from_epoch,
                                     options.max_epochs, options.patience)
    if warning:
        print(f"train: warning: {warning}")
    validated_on = any(len(m.partition.val) for m in members)
    for record in mean_history(histories):  # dvc.yaml's learning_curves, whatever the members are called
        live.step = record["epoch"]
        live.log_metric("ensemble/train/loss", record["train_loss"])
        if validated_on:
            live.log_metric("ensemble/val/loss", record["val_loss"])
    if not validated_on:  # an empty validation curve: dvc plots show reported the file missing
        empty = Path(live.plots_dir) / "metrics" / "ensemble" / "val" / "loss.tsv"
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("step\tloss\n")
    parts = {m.partition.name: m.partition.val for m in members}
    extra = ensemble_validation(parts, val_predictions, data.y, task)
    flat = flat_uncertainty_warning(val_predictions, extra["uncertainty_scale"], extra["uncertainty_floor"])
    if flat:
        print(f"train: warning: {flat}")
    for key, value in extra.items():
        live.summary[f"ensemble/{key}"] = undefined_as_null(value)
    # dvclive keeps each curve's last value in the summary (nested: member_0 -> val -> loss): the
    # last epoch run, not the kept weights', and ensemble/val/loss then averages the members still
    # running; `dvc exp show` listed them beside the figures above
    for name in [k for k, v in live.summary.items() if isinstance(v, dict)]:
        del live.summary[name]
    live.make_summary()
    tracking.log_metrics({f"ensemble/{k}": v for k, v in extra.items() if v is not None})  # as dvclive names them
    what = {"model": cfg["model"], "best_epoch": {m.name: best_epoch[m.name] for m in members},
            # what was trained: not how, nor what another kind of network would read (either
            # would make evaluate and interpret re-run for the same weights)
            "settings": {k: v for k, v in cfg.items()
                         if k not in RUN_SETTINGS and ONLY_FOR.get(k, cfg["model"]) == cfg["model"]
                         and (k != "feature_scaling" or "descriptors" in cfg["features"])}}  # scales those alone
    save_card(OUT, ModelCard("torch", task, cfg["features"], [m.name for m in members], classes, extra | what))
    save_model_context(OUT, validated, np.concatenate([m.partition.train for m in members]), extra)
    tracking.log_model_dir(OUT)


if __name__ == "__main__":
    run_stage(main)
