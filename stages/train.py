"""Stage train: a PyTorch network, a D-MPNN on the molecular graphs or an MLP on the features.

AdamW with warm-up + cosine decay, gradient clipping and early stopping on the validation
loss; one member per fold in k-fold mode. Per-epoch curves go to dvclive (dvclive/) and
MLflow; the best weights are saved under models/model (state dict + JSON, no pickle).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from common import read_params

from molprop import tracking
from molprop.data.tables import class_names, read_aligned
from molprop.evaluation.metrics import score
from molprop.models.matrix import Preprocessor, select_feature_columns
from molprop.models.partitions import partitions
from molprop.models.store import ModelCard, save_card
from molprop.schema import MOL_ID, TARGET
from molprop.seeding import seed_everything

OUT = Path("models/model")


def main() -> None:
    params = read_params("data", "train")
    task, cfg = params["data"]["task"], params["train"]
    import torch  # noqa: F401  (imported before seeding so torch's generator is seeded too)
    from dvclive import Live

    from molprop.features.graph_store import load_aligned_graphs
    from molprop.nn.device import pick_device
    from molprop.nn.store import NEEDS_GRAPHS, build_network, network_config, network_inputs, predict_member, save_member
    from molprop.nn.training import TrainConfig, fit

    seed_everything(cfg["seed"])
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    kind = cfg["model"]
    columns = select_feature_columns(list(features.columns), cfg["features"])
    graphs = None
    if NEEDS_GRAPHS.get(kind):
        graphs = load_aligned_graphs("data/graphs.parquet", validated[MOL_ID].tolist())
    y = validated[TARGET].to_numpy()
    classes = class_names(validated, task)
    device = pick_device(cfg["device"])
    opt = TrainConfig(**{k: cfg[k] for k in TrainConfig.__dataclass_fields__})
    parts = partitions(split)
    shutil.rmtree(OUT, ignore_errors=True)
    print(f"train: {kind}, {len(parts)} member(s) on {device}, {len(columns)} molecule features")
    with tracking.mlflow_run("molprop", "train", params), Live("dvclive", dvcyaml=None, save_dvc_exp=False) as live:
        for part in parts:
            prefix = "" if len(parts) == 1 else f"{part.name}/"
            prep = Preprocessor.fit(features.iloc[part.train], columns, scale=True)
            y_train, y_val = y[part.train], y[part.val]
            scale = None
            if task == "regression":
                scale = (float(y_train.mean()), float(y_train.std() or 1.0))
                y_train, y_val = (y_train - scale[0]) / scale[1], (y_val - scale[0]) / scale[1]

            def subset(index):
                return None if graphs is None else [graphs[i] for i in index]

            def rows(index):
                return network_inputs(kind, prep.transform(features.iloc[index]), subset(index))

            def on_epoch(record: dict, prefix: str = prefix) -> None:
                live.step = record["epoch"]
                for key, name in (("train_loss", "train/loss"), ("val_loss", "val/loss"), ("lr", "lr")):
                    live.log_metric(prefix + name, record[key])
                live.make_summary()
                tracking.log_metrics({prefix + k: v for k, v in record.items() if k != "epoch"}, step=record["epoch"])

            net = network_config(kind, len(columns), len(classes) or 1, cfg)
            result = fit(build_network(kind, net), task, (rows(part.train), y_train),
                         (rows(part.val), y_val), opt, device, on_epoch)
            save_member(OUT / part.name, kind, net, result.state_dict, prep, scale)
            summary = {"best_epoch": result.best_epoch, "epochs_run": len(result.history)}
            if len(part.val):
                val_pred = predict_member(OUT / part.name, features.iloc[part.val], subset(part.val), task, device)
                summary |= {f"val_{k}": v for k, v in score(task, y[part.val], val_pred).items()}
            for key, value in summary.items():
                live.summary[prefix + key] = value
            tracking.log_metrics({prefix + k: v for k, v in summary.items()})
            print(f"train {part.name}: {summary}")
        live.make_summary()
        save_card(OUT, ModelCard("torch", task, cfg["features"], [p.name for p in parts], classes))
        tracking.log_model_dir(OUT)


if __name__ == "__main__":
    main()
