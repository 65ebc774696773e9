"""One call from test predictions to every evaluation report and plot table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from molprop.evaluation import plots, subgroups, uncertainty
from molprop.evaluation.config import EvaluateConfig
from molprop.evaluation.domain import domain_report, max_train_similarity
from molprop.evaluation.metrics import score, summarize_members
from molprop.evaluation.performance import performance_report
from molprop.evaluation.predictions import per_molecule_error
from molprop.models.partitions import members_by_partition
from molprop.models.predictor import Predictions
from molprop.molecules import parse_validated
from molprop.schema import MOL_ID, SMILES, TARGET

ERROR_NAMES = {"regression": "absolute error",
               "classification": "1 - predicted probability of the measured class"}


@dataclass(frozen=True)
class Evaluation:
    """Contents of metrics/{evaluate,uncertainty,domain,subgroups}.json, the table of every
    subgroup, the plot tables (plots/<key>.csv) and each test molecule's max similarity to
    the training set."""

    metrics: dict
    uncertainty: dict
    domain: dict
    subgroups: dict
    subgroup_table: pd.DataFrame
    plots: dict[str, pd.DataFrame]
    similarity: np.ndarray


def jsonable(value):
    """``value`` with numpy scalars as Python numbers, NaN/inf as None and floats to 6
    significant digits (stable, readable JSON)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value


def _subgroups(task: str, y: np.ndarray, mols: list, similarity: np.ndarray,
               errors: dict[str, np.ndarray], config: EvaluateConfig,
               class_names: Sequence[str]) -> tuple[dict, pd.DataFrame]:
    """The subgroup summary (metrics/subgroups.json) and the table of every group."""
    rule = config.flag
    target = (subgroups.class_grouping(y, class_names) if task == "classification"
              else subgroups.quantile_grouping("target", y, config.target_bins))
    groupings = [
        subgroups.scaffold_grouping(mols, rule.min_group_size, config.scaffold == "generic"),
        target,
        subgroups.quantile_grouping("size", subgroups.heavy_atoms(mols), config.size_bins),
        subgroups.binned_grouping("similarity", similarity, config.similarity_bins),
    ]
    tables = {g.name: subgroups.group_table(g, errors, rule, config.bootstrap, seed=number)
              for number, g in enumerate(groupings)}
    summary = {
        "error_measure": ERROR_NAMES[task],
        "overall_error": {name: float(np.mean(e)) for name, e in errors.items()},
        "flag_rule": asdict(rule) | {"confidence": config.bootstrap.confidence},
        "scaffold": config.scaffold,
        "summary": {name: subgroups.summarize(rows, list(errors), rule)
                    for name, rows in tables.items()},
    }
    rows = [{"grouping": name, **row} for name, group_rows in tables.items() for row in group_rows]
    return summary, pd.DataFrame(rows)


def evaluate(task: str, test: pd.DataFrame, predictions: Mapping[str, Predictions],
             train: pd.DataFrame, config: EvaluateConfig,
             class_names: Sequence[str] = ()) -> Evaluation:
    """Evaluate every model's ``predictions`` of the ``test`` molecules (mol_id, smiles, y)
    against what the models were fitted on (``train``: mol_id, smiles of the training part; in
    k-fold mode, of every fold's)."""
    y = test[TARGET].to_numpy()
    where = "data/validated.parquet"
    mols = parse_validated(test[SMILES].tolist(), test[MOL_ID].tolist(), "test molecule", where)
    seen = parse_validated(train[SMILES].tolist(), train[MOL_ID].tolist(), "training molecule", where)
    boot = config.bootstrap
    means = {name: pred.mean for name, pred in predictions.items()}
    errors = {name: per_molecule_error(task, y, mean) for name, mean in means.items()}

    metrics = {"task": task, "n_test": int(len(y)), "bootstrap": asdict(boot)}
    metrics |= performance_report(task, y, means, errors, boot)
    for name, pred in predictions.items():
        if len(pred.names) > 1:
            metrics[f"{name}_members"] = summarize_members([score(task, y, m) for m in pred.members])
        folds = members_by_partition(pred.names)
        if len(folds) > 1:  # k-fold: each fold's ensemble (its members' mean) scored on the test part
            metrics[f"{name}_folds"] = summarize_members([score(task, y, pred.members[f].mean(axis=0))
                                                          for f in folds])

    quality: dict = {"task": task}
    tables: dict[str, pd.DataFrame] = {}
    for name, pred in predictions.items():
        if task == "classification":
            quality[name] = uncertainty.classification_report(y, pred.mean, config.calibration_bins, boot)
            tables[f"calibration_{name}"] = uncertainty.classification_curve(
                y, pred.mean, config.calibration_bins)
        else:
            sigma = pred.uncertainty
            quality[name] = uncertainty.regression_report(
                errors[name], sigma, len(pred.names), pred.uncertainty_scale, config.interval, boot,
                pred.uncertainty_floor)
            usable = uncertainty.unavailable_reason(sigma, len(pred.names)) is None
            tables[f"calibration_{name}"] = (uncertainty.regression_curve(errors[name], sigma)
                                             if usable else plots.empty_calibration())
        tables[f"residuals_{name}"] = plots.residual_table(task, y, pred.mean)

    similarity = max_train_similarity(mols, seen)
    tables["error_vs_similarity"] = plots.similarity_table(similarity, errors)
    summary, groups = _subgroups(task, y, mols, similarity, errors, config, class_names)
    return Evaluation(
        metrics=jsonable(metrics),
        uncertainty=jsonable(quality),
        domain=jsonable(domain_report(similarity, errors, boot)),
        subgroups=jsonable(summary),
        subgroup_table=groups,
        plots=tables,
        similarity=similarity,
    )
