"""Split stage: data/validated.parquet -> data/split.parquet, metrics/split.json and
plots/split_similarity.csv (strategies: src/molprop/splits/strategies.py)."""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, run_stage

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from molprop.errors import UserInputError
from molprop.schema import FOLD, LABEL, MOL_ID, SMILES, SPLIT, SPLIT_SETTINGS_KEY, TARGET
from molprop.splits.config import SplitConfig
from molprop.splits.report import (class_balance_warnings, constant_target_training_parts, fraction_warnings,
                                   one_class_training_parts)
from molprop.splits.run import make_split

VALIDATED = Path("data/validated.parquet")
SPLIT_TABLE = Path("data/split.parquet")
REPORT = Path("metrics/split.json")
SIMILARITY_PLOT = Path("plots/split_similarity.csv")


def main() -> None:
    params = read_params("data", "split")
    task = params["data"]["task"]
    config = SplitConfig.from_params(params["split"] or {})
    table = pd.read_parquet(VALIDATED)
    if task == "classification" and not pd.api.types.is_integer_dtype(table[TARGET]):
        raise UserInputError(f"{VALIDATED}: data.task is classification but y is {table[TARGET].dtype}; "
                             "re-run validate (dvc repro)")
    result = make_split(table[SMILES].tolist(), table[TARGET].to_numpy(), task, config)
    single = one_class_training_parts(result.report) if task == "classification" else []
    if single:
        fix = ("split.group_folds_by_scaffold: false, so that the folds spread each class"
               if config.kfold and config.group_folds_by_scaffold else "split.method: stratified")
        raise UserInputError(f"the {' and the '.join(single)} part(s) hold molecules of one class only, and "
                             f"a classifier needs two to learn from; set {fix}")
    if task == "classification" and LABEL in table:
        pairs = table[[TARGET, LABEL]].drop_duplicates().sort_values(TARGET)
        labels = zip(pairs[TARGET], pairs[LABEL], strict=True)
        result.report["class_labels"] = {str(k): str(v) for k, v in labels}

    for path in (SPLIT_TABLE, REPORT, SIMILARITY_PLOT):
        path.parent.mkdir(parents=True, exist_ok=True)
    assignment = pa.table(
        {
            MOL_ID: pa.array(table[MOL_ID].astype(str).tolist(), pa.string()),
            SPLIT: pa.array(result.split.tolist(), pa.string()),
            FOLD: pa.array(result.fold.astype(np.int32), pa.int32()),
        },
        metadata={SPLIT_SETTINGS_KEY: json.dumps(result.report["config"], sort_keys=True)},  # for MLflow
    )
    pq.write_table(assignment, SPLIT_TABLE, compression="zstd")
    REPORT.write_text(json.dumps(result.report, indent=2) + "\n")
    result.similarity_histogram.to_csv(SIMILARITY_PLOT, index=False)
    parts = result.report["parts"]
    sims = result.report["test_similarity_to_train"]
    constant = (constant_target_training_parts(table[TARGET].to_numpy(), result.split, result.fold)
                if task == "regression" else [])
    for warning in config.seed_warnings() + fraction_warnings(result.report) + constant:
        print(f"split: warning: {warning}")
    for warning in class_balance_warnings(result.report, result.report.get("class_labels")):
        if warning.startswith("the fold") and config.group_folds_by_scaffold:
            hint = " (split.group_folds_by_scaffold: false lets the folds spread each class)"
        elif config.method != "stratified":
            hint = " (split.method: stratified spreads each class over the parts)"
        else:
            hint = ""
        print(f"split: warning: {warning}{hint}")
    print(
        f"split ({config.method}, {f'seed {config.seed}' if config.uses_seed else 'no seed'}, folds {config.n_folds}): "
        + ", ".join(f"{name} {part['n']}" for name, part in parts.items())
        + f"; shared scaffolds train/test {result.report['shared_scaffolds']['train_test']}; "
        + (f"test max similarity to train: median {sims['median']}, mean {sims['mean']}" if sims["median"] is not None
           else "no test molecules")
    )


if __name__ == "__main__":
    run_stage(main)
