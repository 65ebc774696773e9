"""Model accuracy and pipeline wall time on the built-in datasets, as a table.

For each dataset and split (method:seed), runs the real pipeline (`dvc repro`, all seven
stages, default params otherwise) in a scratch copy of this project and reads
metrics/evaluate.json. Prints test RMSE of the baseline and of the network ensemble (and the
spread of its single members), the members' mean validation RMSE (the figure to compare
settings by: test parts must not choose them), the validation and test RMSE of the first k
members' mean for every k (what a smaller ensemble would score), the `dvc repro` wall time
(and per stage, with the load average before the run), then mean ± std over the splits next
to the Chemprop 2.3.1 figures of the models issue (scaffold split, seed 0) and the 0.9x
target. The pipeline runs as for any user, with Python's bytecode caches on
(PYTHONDONTWRITEBYTECODE is dropped from its environment).

    python benchmarks/bench_models.py                       # FreeSolv + Huuskonen, 4 splits
    python benchmarks/bench_models.py --datasets freesolv --splits scaffold:0

Any regression CSV runs the same way, defaults unchanged, with --csv PATH:TARGET_COLUMN or
PATH:TARGET_COLUMN:SMILES_COLUMN (SMILES column ``smiles`` if not given; repeatable;
--datasets "" for the CSVs alone); with --task classification the CSVs' targets are classes
and the figures are test / validation ROC-AUC instead of RMSE (no per-k ensemble curves).
The README lists the datasets, regression and classification, that this has been run on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ["dvc.yaml", "params.yaml", "stages", "src", "data/builtin", ".dvcignore", ".gitignore"]
DATASETS = {  # data params, Chemprop 2.3.1 test RMSE (default D-MPNN, + RDKit 2D normalized)
    "freesolv": ({"source": "data/builtin/freesolv.yaml", "target_column": "expt"}, 2.46, 1.92),
    "huuskonen": ({"source": "data/builtin/huuskonen.yaml", "target_column": "SOL"}, 0.859, None),
}


CSV_FORMAT = "PATH:TARGET_COLUMN or PATH:TARGET_COLUMN:SMILES_COLUMN (default column: smiles)"


@dataclass(frozen=True)
class Dataset:
    """A dataset to benchmark: data params, a CSV to copy into the project, Chemprop figures."""

    name: str
    data: dict
    csv: Path | None = None
    chemprop: float | None = None
    chemprop_rdkit: float | None = None
    task: str = "regression"

    @property
    def metric(self) -> str:
        """The figure compared: RMSE (regression) or ROC-AUC (classification)."""
        return "rmse" if self.task == "regression" else "roc_auc"


def datasets(names: str, csvs: list[str], task: str = "regression") -> list[Dataset]:
    """The built-in datasets ``names`` (comma-separated) and the ``PATH:TARGET[:SMILES]`` CSVs
    (of ``task``)."""
    found = [Dataset(n, DATASETS[n][0], None, *DATASETS[n][1:]) for n in names.split(",") if n]
    for item in csvs:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise SystemExit(f"--csv {item!r}: give {CSV_FORMAT}")
        path, target, smiles = parts if len(parts) == 3 else (*parts, "smiles")
        found.append(Dataset(Path(path).stem, {"source": f"data/{Path(path).name}", "smiles_column": smiles,
                                               "target_column": target}, Path(path).resolve(), task=task))
    return found


def run(args: list[str], cwd: Path, timestamps: bool = False) -> str:
    """Output (stdout and stderr) of ``args``; with ``timestamps`` each line starts with the
    seconds since the start."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}
    # Python caches compiled modules as it does for any user; with PYTHONDONTWRITEBYTECODE
    # every stage process would compile molprop's modules again (~2-3 s per FreeSolv run).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [f"{time.perf_counter() - start:.2f} {line}" if timestamps else line for line in process.stdout]
    if process.wait():
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{''.join(lines)}")
    return "".join(lines)


def project(root: Path, dataset: Dataset) -> Path:
    """A fresh git + DVC copy of this project pointed at ``dataset``."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for name in COPIED:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    if dataset.csv is not None:
        shutil.copy(dataset.csv, root / dataset.data["source"])
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] |= dataset.data | {"task": dataset.task}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"], root)
    return root


def repro(root: Path, method: str, seed: int, metric: str = "rmse") -> dict:
    """Run the pipeline with the split ``method``/``seed``; ``metric`` and wall time."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["split"] |= {"method": method, "seed": seed}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.rmtree(root / "checkpoints", ignore_errors=True)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    output = run(["dvc", "repro"], root, timestamps=True)
    seconds = time.perf_counter() - start
    marks = [(float(t), line.split("'")[1]) for t, line in (item.split(" ", 1) for item in output.splitlines())
             if line.startswith("Running stage")]
    stages = {name: (marks[i + 1][0] if i + 1 < len(marks) else seconds) - t for i, (t, name) in enumerate(marks)}
    metrics = json.loads((root / "metrics/evaluate.json").read_text())
    live = json.loads((root / "dvclive/metrics.json").read_text())
    # the members' own scores, not the ensemble's ("ensemble/val_...")
    val = [v for k, v in live.items() if k.endswith(f"/val_{metric}") and not k.startswith("ensemble/")]
    members = metrics.get("model_members", {})
    return {"seconds": seconds, "val": statistics.mean(val) if val else float("nan"),
            "baseline": metrics["baseline"][metric], "model": metrics["model"][metric],
            "members": members.get(f"{metric}_mean", metrics["model"][metric]),
            "members_std": members.get(f"{metric}_std", 0.0), "stages": stages, "load": load}


def ensemble_curves(root: Path) -> dict[str, list[float]]:
    """RMSE of the mean of the first k network members, k = 1 .. ensemble size, on the
    validation and the test part: what a smaller ensemble (seeds seed .. seed + k - 1, trained
    exactly like these) would score. The validation curve is the one to choose a size by."""
    import numpy as np
    import torch

    from molprop.data.tables import read_aligned
    from molprop.features.graph_store import load_aligned_graphs
    from molprop.models.store import load_card
    from molprop.nn.store import predict_member

    validated, features, split = read_aligned(*(root / "data" / f for f in
                                                ("validated.parquet", "features.parquet", "split.parquet")))
    graphs = load_aligned_graphs(root / "data/graphs.parquet", validated["mol_id"].tolist())
    card = load_card(root / "models/model")
    curves = {}
    for part in ("val", "test"):
        rows = np.flatnonzero(split["split"].to_numpy() == part)
        preds = [predict_member(root / "models/model" / m, features.iloc[rows], [graphs[i] for i in rows],
                                "regression", torch.device("cpu")) for m in card.members]
        y = validated["y"].to_numpy()[rows]
        curves[part] = [float(np.sqrt(np.mean((np.mean(preds[:k], axis=0) - y) ** 2)))
                        for k in range(1, len(preds) + 1)]
    return curves


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="freesolv,huuskonen")
    parser.add_argument("--splits", default="scaffold:0,scaffold_balanced:0,scaffold_balanced:1,scaffold_balanced:2")
    parser.add_argument("--workdir", default="/tmp/molprop_bench/models")
    parser.add_argument("--csv", action="append", default=[], help=f"a CSV: {CSV_FORMAT}")
    parser.add_argument("--task", choices=("regression", "classification"), default="regression",
                        help="the task of the --csv datasets")
    args = parser.parse_args()
    splits = [(m, int(s)) for m, s in (item.split(":") for item in args.splits.split(","))]
    print(f"{'dataset':<10} {'split':<20} {'baseline':>8} {'model':>7} {'members':>15} {'repro s':>8}")
    for dataset in datasets(args.datasets, args.csv, args.task):
        name, label = dataset.name, {"rmse": "RMSE", "roc_auc": "ROC-AUC"}[dataset.metric]
        root = project(Path(args.workdir) / name, dataset)
        rows = []
        for method, seed in splits:
            row = repro(root, method, seed, dataset.metric)
            rows.append(row)
            print(f"{name:<10} {method + ':' + str(seed):<20} {row['baseline']:8.3f} {row['model']:7.3f} "
                  f"{row['members']:8.3f} ± {row['members_std']:.3f} {row['seconds']:8.1f}", flush=True)
            print(" " * 31 + f"members' mean validation {label} {row['val']:.3f}", flush=True)
            others = sum(v for k, v in row["stages"].items() if k != "train")
            print(" " * 31 + "stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in row["stages"].items())
                  + f"; all but train {others:.1f}; load average before {row['load']:.2f}", flush=True)
            if dataset.task == "classification":
                continue
            row["curves"] = ensemble_curves(root)
            for part, part_label in (("val", "validation"), ("test", "test")):
                print(" " * 31 + f"{part_label} RMSE of the first k members' mean: "
                      + ", ".join(f"{k} {v:.3f}" for k, v in enumerate(row["curves"][part], 1)), flush=True)
        print(f"{name:<10} {'mean ± std':<20} baseline {mean_std([r['baseline'] for r in rows])}, "
              f"model {mean_std([r['model'] for r in rows])}, members' validation {label} "
              f"{mean_std([r['val'] for r in rows])}, dvc repro {mean_std([r['seconds'] for r in rows])} s")
        if dataset.task == "classification":
            continue
        sizes = range(1, min(len(r["curves"]["test"]) for r in rows) + 1)
        for part, part_label in (("val", "validation"), ("test", "test")):
            print(f"{name:<10} {'mean over splits':<20} {part_label} RMSE of the first k members' mean: "
                  + ", ".join(f"{k} {statistics.mean(r['curves'][part][k - 1] for r in rows):.3f}" for k in sizes))
        if dataset.chemprop is not None:
            best_chemprop = min(v for v in (dataset.chemprop, dataset.chemprop_rdkit) if v is not None)
            print(f"{name:<10} Chemprop 2.3.1 (scaffold:0): D-MPNN {dataset.chemprop}"
                  + (f", + RDKit 2D normalized {dataset.chemprop_rdkit}" if dataset.chemprop_rdkit else "")
                  + f"; target <= 0.9 x {best_chemprop} = {0.9 * best_chemprop:.3f}", flush=True)


if __name__ == "__main__":
    main()
