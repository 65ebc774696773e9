"""One call from molecules to the split assignment, folds and report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.splits import strategies
from molprop.splits.chem import morgan_fingerprints, murcko_scaffolds, scaffold_groups, to_mols
from molprop.splits.clustering import butina_clusters, kmeans_clusters
from molprop.splits.config import SplitConfig
from molprop.splits.kfold import assign_folds
from molprop.splits.parts import Fractions
from molprop.splits.report import shared_scaffolds, similarity_histogram, split_report

SCAFFOLD_METHODS = ("scaffold", "scaffold_balanced")


@dataclass(frozen=True)
class SplitResult:
    """Part name and fold of every molecule (input order), the report and the histogram of the
    test molecules' max similarity to the training part."""

    split: np.ndarray
    fold: np.ndarray
    report: dict
    similarity_histogram: pd.DataFrame


def assign_parts(
    config: SplitConfig,
    fractions: Fractions,
    y: np.ndarray,
    task: str,
    scaffolds: list[str],
    fps: list,
) -> np.ndarray:
    """Part name of every molecule by ``config.method`` with the given fractions."""
    n, seed = len(scaffolds), config.seed
    if config.method == "random":
        return strategies.random_split(n, fractions, seed)
    if config.method == "scaffold":
        return strategies.scaffold_split(scaffolds, fractions)
    if config.method == "scaffold_balanced":
        return strategies.scaffold_balanced_split(scaffolds, fractions, seed)
    if config.method == "stratified":
        strata = strategies.strata(y, task, config.stratify_bins)
        return strategies.stratified_split(strata, fractions, seed)
    if config.cluster_method == "butina":
        clusters = butina_clusters(fps, config.cluster_distance_cutoff)
    else:
        clusters = kmeans_clusters(fps, config.n_clusters, seed)
    return strategies.cluster_split(clusters, fractions, seed)


def make_split(
    smiles: Sequence[str], y: Sequence[float], task: str, config: SplitConfig
) -> SplitResult:
    """Split the molecules as ``config`` says; k-fold mode holds out the test part by the method
    (val fraction merged into train), then gives every other molecule a fold and part "train"."""
    y = np.asarray(y)
    if task not in ("regression", "classification"):
        raise UserInputError(f"data.task is {task!r}; use regression or classification")
    missing = np.flatnonzero(pd.isna(y))
    if missing.size:
        raise UserInputError(f"rows {missing[:5].tolist()} have no target y; re-run validate")
    mols = to_mols(list(smiles))
    scaffolds, fps = murcko_scaffolds(mols), morgan_fingerprints(mols)
    fractions = (config.train + config.val, 0.0, config.test) if config.kfold else config.fractions
    labels = assign_parts(config, fractions, y, task, scaffolds, fps)
    folds = np.full(len(labels), -1, dtype=np.int32)
    if config.kfold:
        rest = np.flatnonzero(labels != "test")
        labels[rest] = "train"
        groups = scaffold_groups([scaffolds[i] for i in rest]) if config.group_folds_by_scaffold else None
        strata = None
        if config.method == "stratified":
            strata = strategies.strata(y[rest], task, config.stratify_bins)
        folds[rest] = assign_folds(len(rest), config.n_folds, config.seed, groups, strata)
    _check_scaffold_disjoint(config, labels, folds, scaffolds)
    report, test_sims = split_report(labels, folds, y, task, scaffolds, fps)
    # a seed the method ignores is not recorded: `dvc exp show` would list a changed split setting
    settings = asdict(config) | {"seed": config.seed if config.uses_seed else None}
    report = {"task": task, "config": settings, **report}
    return SplitResult(labels, folds, report, similarity_histogram(test_sims))


def _check_scaffold_disjoint(config: SplitConfig, labels, folds, scaffolds) -> None:
    """Scaffold splits share no scaffold between parts, scaffold-grouped folds none between
    folds; ``AssertionError`` otherwise."""
    scaffolds = np.asarray(scaffolds, dtype=object)
    if config.method in SCAFFOLD_METHODS:
        shared = shared_scaffolds(labels, scaffolds)
        if any(shared.values()):
            raise AssertionError(f"scaffold split shares scaffolds between parts: {shared}")
    if config.kfold and config.group_folds_by_scaffold:
        ringed = (folds >= 0) & (scaffolds != "")
        in_folds = pd.Series(folds[ringed]).groupby(scaffolds[ringed]).nunique()
        if (in_folds > 1).any():
            raise AssertionError("scaffold-grouped folds share a scaffold between folds")
