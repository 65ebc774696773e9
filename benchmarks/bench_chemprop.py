"""Chemprop side by side: Chemprop 2.x trained on molprop's own molecules and splits.

Chemprop is not a dependency of molprop: install it in a virtual environment of its own
(keep torch at the project's pin so pip takes the CPU wheel) and pass its command:

    python3.11 -m venv /tmp/cp && /tmp/cp/bin/pip install chemprop==2.3.1 torch==2.13.0
    python benchmarks/bench_chemprop.py --chemprop /tmp/cp/bin/chemprop

For each dataset and split (method:seed, the splits of benchmarks/bench_models.py), the
molecules are read and validated as the validate stage does (params.yaml's `validate`
section, the dataset's source and target) and split by molprop's split code with
params.yaml's fractions, so Chemprop sees exactly the train / val / test parts that molprop's
models see (written as a CSV and a `--splits-file`). `chemprop train` runs for 50 epochs with
its defaults, once plain (D-MPNN) and once with `--features-generators
v1_rdkit_2d_normalized` (D-MPNN + normalized RDKit 2D descriptors). Printed: test RMSE and
the wall time of the whole `chemprop train` command (imports and descriptors included), then
mean ± std over the splits. Chemprop's CPU training is not repeatable run to run: use
--repeats to see its spread. With --task classification (for the --csv datasets) Chemprop
trains a classifier and the figure is its test ROC-AUC.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

import yaml
from bench_models import CSV_FORMAT, REPO, datasets

from molprop.data.builtin import builtin_target_ranges
from molprop.data.io import read_source, require_columns
from molprop.splits.config import SplitConfig
from molprop.splits.run import make_split
from molprop.validation.config import config_from_params
from molprop.validation.curate import curate

VARIANTS = {"D-MPNN": [], "D-MPNN + RDKit 2D": ["--features-generators", "v1_rdkit_2d_normalized"]}


def validated_table(data: dict, params: dict, task: str = "regression"):
    """The dataset's molecules after molprop's validation (smiles, y)."""
    source = str(REPO / data["source"])
    config, _ = config_from_params(params["validate"], task, data["target_column"],
                                   dataset_ranges=builtin_target_ranges(source))
    smiles = data.get("smiles_column", "smiles")
    table = read_source(source)
    require_columns(table, {"smiles": smiles, "target": data["target_column"]}, source)
    return curate(table, smiles, data["target_column"], config).validated


def chemprop_score(chemprop: str, folder: Path, extra: list[str], task: str = "regression") -> tuple[float, float]:
    """Train Chemprop on folder/data.csv with folder/splits.json; (test RMSE or, for
    classification, test ROC-AUC, wall seconds)."""
    out = folder / f"out_{len(extra)}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as bench_models runs
    start = time.perf_counter()
    run = subprocess.run([chemprop, "train", "--data-path", str(folder / "data.csv"), "--task-type", task,
                          "--smiles-columns", "smiles", "--target-columns", "y", "--splits-file",
                          str(folder / "splits.json"), "--epochs", "50", "--save-dir", str(out), *extra],
                         capture_output=True, text=True, env=env)  # fmt: skip
    seconds = time.perf_counter() - start
    key = "test/mse" if task == "regression" else "test/roc"
    found = [line for line in (run.stdout + run.stderr).splitlines() if key in line]
    if run.returncode != 0 or not found:
        raise SystemExit(f"chemprop train failed in {folder}:\n{run.stderr[-3000:]}")
    value = float(found[-1].split()[-1])
    return (math.sqrt(value) if task == "regression" else value), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chemprop", required=True, help="the chemprop command of its own virtual environment")
    parser.add_argument("--datasets", default="freesolv,huuskonen")
    parser.add_argument("--splits", default="scaffold:0,scaffold_balanced:0,scaffold_balanced:1,scaffold_balanced:2")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/molprop_bench/chemprop")
    parser.add_argument("--csv", action="append", default=[], help=f"a CSV: {CSV_FORMAT}")
    parser.add_argument("--task", choices=("regression", "classification"), default="regression",
                        help="the task of the --csv datasets")
    args = parser.parse_args()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    fractions = params["split"]["fractions"]
    print(f"{'dataset':<10} {'split':<20} {'variant':<18} {'test':>9} {'wall s':>7}")
    for dataset in datasets(args.datasets, args.csv, args.task):
        name = dataset.name
        data = dataset.data if dataset.csv is None else dataset.data | {"source": str(dataset.csv)}
        table = validated_table(data, params, dataset.task)
        if dataset.task == "classification" and table["y"].nunique() != 2:
            raise SystemExit(f"{name}: {table['y'].nunique()} classes; this comparison runs binary tasks only")
        results: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for item in args.splits.split(","):
            method, seed = item.split(":")
            config = SplitConfig(method=method, seed=int(seed), train=fractions["train"], val=fractions["val"],
                                 test=fractions["test"])  # fmt: skip
            parts = make_split(table["smiles"].tolist(), table["y"].to_numpy(), dataset.task, config).split
            folder = Path(args.workdir) / name / item.replace(":", "_")
            folder.mkdir(parents=True, exist_ok=True)
            table[["smiles", "y"]].to_csv(folder / "data.csv", index=False)
            indices = {part: [int(i) for i in (parts == part).nonzero()[0]] for part in ("train", "val", "test")}
            (folder / "splits.json").write_text(json.dumps([indices]))
            for variant, extra in VARIANTS.items():
                for _ in range(args.repeats):
                    value, seconds = chemprop_score(args.chemprop, folder, extra, dataset.task)
                    results[variant].append(value)
                    print(f"{name:<10} {item:<20} {variant:<18} {value:9.3f} {seconds:7.1f}", flush=True)
        for variant, values in results.items():
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"{name:<10} {'mean ± std':<20} {variant:<18} {statistics.mean(values):.3f} ± {spread:.3f}")


if __name__ == "__main__":
    main()
