"""Performance metrics for regression and classification predictions.

The regression metrics are written with numpy and pandas: they give the same numbers, bit
for bit, as scikit-learn's ``mean_squared_error``, ``mean_absolute_error``, ``r2_score`` and
SciPy's ``spearmanr`` (tests/test_evaluation.py compares them), without importing those
(~1.5 s), which the train stage would otherwise do only to score its validation part.
Classification metrics use scikit-learn, imported when first needed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given the mean of their ranks (``scipy.stats.rankdata``)."""
    return pd.Series(values).rank(method="average").to_numpy(dtype=float)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; NaN when either side has < 2 values or a NaN, or is constant
    (up to rounding, as R² judges: ranks of rounding residue say nothing)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    if constant_up_to_rounding(a) or constant_up_to_rounding(b):
        return float("nan")
    ranks = np.column_stack((_average_ranks(a), _average_ranks(b)))  # SciPy's layout, same rounding
    return float(np.corrcoef(ranks, rowvar=False)[1, 0])


def constant_up_to_rounding(values: np.ndarray) -> bool:
    """Whether finite ``values`` are one value up to rounding: their spread (max - min) within
    1e-12 of their largest absolute value, or of 1e-4 for smaller values. That takes in the
    rounding residue of 0.1 + 0.2 beside 0.3, or of a mean of replicates (0.1, 0.2, -0.3 give
    1.9e-17 beside zeros), while targets in small units (1e-13, in SI) still vary. The
    constant-target rule of R² and Spearman, on the test part and on each bootstrap resample."""
    magnitude = np.max(np.abs(values))
    return bool(np.ptp(values) <= 1e-12 * max(1e-4, magnitude))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination; for constant ``y``, 1 if every prediction is exact, else 0
    (scikit-learn's convention); NaN for fewer than 2 values."""
    if len(y) < 2:
        return float("nan")
    residual = float(((y - pred) ** 2).sum())
    if constant_up_to_rounding(y):  # y - mean(y) would be rounding residue
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / float(((y - np.average(y)) ** 2).sum())


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R² and Spearman correlation of predictions against measured values."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    return {
        "rmse": float(np.sqrt(np.average((y - pred) ** 2))),
        "mae": float(np.average(np.abs(y - pred))),
        "r2": r2_score(y, pred),
        "spearman": spearman(y, pred),
    }


def brier_per_molecule(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each molecule's Brier loss: (p1 - y)² for two classes, else Σ_k (p_k - [y = k])²
    (scikit-learn's ``brier_score_loss`` is the mean of these)."""
    onehot = np.eye(proba.shape[1])[np.asarray(y, dtype=int)]
    if proba.shape[1] == 2:
        return (proba[:, 1] - onehot[:, 1]) ** 2
    return ((proba - onehot) ** 2).sum(axis=1)


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, ROC-AUC, PR-AUC (average precision), F1, MCC and Brier score.

    ``proba`` is (n, K) class probabilities. Two classes: AUCs and F1 of class 1. More:
    one-vs-rest macro averages of the AUCs and macro F1, over the classes present in ``y``;
    multi-class MCC. AUCs and MCC are NaN when ``y`` holds a single class (MCC is 0 when only
    the predictions do), F1 of two classes when no molecule is measured or predicted in class 1.
    """
    from sklearn import metrics as skm
    from sklearn.preprocessing import label_binarize

    n_classes = proba.shape[1]
    label = proba.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-division and single-class warnings: values defined
        out = {
            "accuracy": float(skm.accuracy_score(y, label)),
            # more classes: macro over the classes measured, the same set for every model (a
            # class only one model predicts would otherwise add a 0 to that model's mean alone)
            "f1": float(skm.f1_score(y, label, average="binary" if n_classes == 2 else "macro",
                                     labels=None if n_classes == 2 else np.unique(y), zero_division=0.0)),
            "mcc": float(skm.matthews_corrcoef(y, label)),
            "brier": float(brier_per_molecule(y, proba).mean()),
        }
    if n_classes == 2 and not (np.any(y == 1) or np.any(label == 1)):  # 0 / 0
        out["f1"] = float("nan")
    present = np.unique(y)
    if len(present) < 2:
        return out | {"roc_auc": float("nan"), "pr_auc": float("nan"), "mcc": float("nan")}
    if n_classes == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
        out["pr_auc"] = float(skm.average_precision_score(y, proba[:, 1]))
        return out
    onehot = label_binarize(y, classes=np.arange(n_classes))
    keep = onehot.sum(axis=0) > 0  # classes absent from y have no defined AUC
    out["roc_auc"] = float(skm.roc_auc_score(onehot[:, keep], proba[:, keep], average="macro"))
    out["pr_auc"] = float(skm.average_precision_score(onehot[:, keep], proba[:, keep], average="macro"))
    return out


def score(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The task's metrics for one set of predictions."""
    if task == "classification":
        return classification_metrics(np.asarray(y, dtype=int), pred)
    return regression_metrics(np.asarray(y, dtype=float), pred)


def summarize_members(per_member: list[dict[str, float]]) -> dict[str, float]:
    """Mean and standard deviation of each metric over ensemble members or folds; NaN where a
    member leaves the metric undefined (the F1 of a member that calls no molecule class 1 on a
    test part without any: a mean over the others read as every member's)."""
    summary: dict[str, float] = {}
    for key in per_member[0]:
        values = np.array([m[key] for m in per_member], dtype=float)
        summary[f"{key}_mean"] = float(values.mean())
        summary[f"{key}_std"] = float(values.std())
    return summary
