"""Applicability domain: how similar each test molecule is to what the model saw, and how the
error depends on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rdkit import Chem

from molprop.evaluation import weighted
from molprop.evaluation.bootstrap import BootstrapConfig, bootstrap, interval
from molprop.evaluation.metrics import spearman
from molprop.splits.chem import max_similarity, morgan_fingerprints
from molprop.splits.report import similarity_summary


def max_train_similarity(test: Sequence[Chem.Mol], train: Sequence[Chem.Mol]) -> np.ndarray:
    """Each test molecule's highest Tanimoto similarity (Morgan radius 2, 2048 bits, as in
    the split report) to any training molecule; NaN when there are no training molecules."""
    return max_similarity(morgan_fingerprints(test), morgan_fingerprints(train))


def domain_report(similarity: np.ndarray, errors: Mapping[str, np.ndarray],
                  config: BootstrapConfig) -> dict:
    """Summary of the similarities, and per model the Spearman correlation of error with
    similarity (negative: less similar molecules are predicted worse) with its interval."""
    similarity = np.asarray(similarity, dtype=float)
    out: dict = {"similarity": similarity_summary(similarity)}
    samples = bootstrap(
        lambda c: {name: weighted.spearman(similarity, e, c) for name, e in errors.items()},
        len(similarity), config)
    for name, error in errors.items():
        low, high = interval(samples[name], config.confidence)
        out[name] = {"error_similarity_spearman": spearman(similarity, error),
                     "error_similarity_spearman_ci": {"low": low, "high": high}}
    return out
