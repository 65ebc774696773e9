"""Baseline model kinds on the pipeline's current data: CV, validation and test scores, fit time.

Reads data/{validated,features,split}.parquet (run `dvc checkout` or `dvc repro split` first)
and the baseline section of params.yaml; for each model kind fits the hyperparameters of
params.yaml ("default", cross-validated on the training part for the CV column) and the
params' search (method optuna unless --method says otherwise), like the baseline stage does.
Test scores are printed for comparison only; nothing here feeds back into the pipeline.

    python benchmarks/bench_baseline.py --kinds ridge,knn_tanimoto --trials 20
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "stages"))


def main() -> None:
    from baseline import config_from
    from common import read_params

    from molprop.data.tables import class_names, read_aligned
    from molprop.evaluation.metrics import score
    from molprop.models.baseline import fit_member
    from molprop.models.estimators import KINDS, predict_member
    from molprop.models.search import cv_groups_of
    from molprop.schema import SMILES, SPLIT, TARGET

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--trials", type=int, default=20, help="search budget (trials)")
    parser.add_argument("--method", default="optuna", choices=["optuna", "grid"])
    parser.add_argument("--modes", default="default,search")
    parser.add_argument("--n-jobs", type=int, default=None, help="override baseline.n_jobs")
    args = parser.parse_args()

    params = read_params("data", "baseline")
    task, section = params["data"]["task"], params["baseline"]
    if args.n_jobs is not None:
        section["n_jobs"] = args.n_jobs
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet")
    y, labels = validated[TARGET].to_numpy(), split[SPLIT].to_numpy()
    train, val, test = (np.flatnonzero(labels == p) for p in ("train", "val", "test"))
    n_classes = len(class_names(validated, task))
    metric = "roc_auc" if task == "classification" else "rmse"
    print(f"{task}, {len(train)} train / {len(val)} val / {len(test)} test molecules; "
          f"metric {metric}")
    print(f"{'model':24s} {'search':22s} {'CV':>7s} {'val':>7s} {'test':>7s} {'wall s':>7s} "
          f"{'cpu s':>7s}  hyperparameters")
    for kind in args.kinds.split(","):
        base = config_from({**section, "model": kind})
        for mode in args.modes.split(","):
            if mode == "default":  # timed as the stage runs it; an empty space only scores it
                timed = dataclasses.replace(base, search=dataclasses.replace(base.search, method="none"))
                scored = dataclasses.replace(base, search=dataclasses.replace(
                    base.search, method="grid", space={}))
            else:
                timed = scored = dataclasses.replace(base, search=dataclasses.replace(
                    base.search, method=args.method, n_trials=args.trials))
            groups = cv_groups_of(validated[SMILES].tolist(), timed.search.cv_groups)
            wall, cpu = time.perf_counter(), time.process_time()
            member = fit_member(features, y, groups, train, task, n_classes, timed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            cv = (member if scored is timed else
                  fit_member(features, y, groups, train, task, n_classes, scored)).search.cv_score
            scores = [score(task, y[rows], predict_member(
                member.estimator, member.prep, features.iloc[rows], task, n_classes))[metric]
                for rows in (val, test)]
            label = "none" if mode == "default" else f"{args.method} {len(member.search.trials)} trials"
            print(f"{kind:24s} {label:22s} {cv:7.3f} {scores[0]:7.3f} {scores[1]:7.3f} {wall:7.1f} "
                  f"{cpu:7.1f}  {member.hyperparameters}", flush=True)


if __name__ == "__main__":
    main()
