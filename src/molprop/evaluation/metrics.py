"""Performance metrics for regression and classification predictions."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; NaN when either side is constant or has < 2 values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R² and Spearman correlation of predictions against measured values."""
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "r2": float(skm.r2_score(y, pred)) if len(y) > 1 else float("nan"),
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
    one-vs-rest macro averages of the AUCs over the classes present in ``y``, macro F1,
    multi-class MCC. AUCs are NaN when ``y`` holds a single class.
    """
    n_classes = proba.shape[1]
    label = proba.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-division and single-class warnings: values defined
        out = {
            "accuracy": float(skm.accuracy_score(y, label)),
            "f1": float(skm.f1_score(y, label, average="binary" if n_classes == 2 else "macro",
                                     zero_division=0.0)),
            "mcc": float(skm.matthews_corrcoef(y, label)),
            "brier": float(brier_per_molecule(y, proba).mean()),
        }
    present = np.unique(y)
    if len(present) < 2:
        return out | {"roc_auc": float("nan"), "pr_auc": float("nan")}
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
    """Mean and standard deviation of each metric over ensemble members or folds."""
    summary: dict[str, float] = {}
    for key in per_member[0]:
        values = np.array([m[key] for m in per_member], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN metric: NaN summary
            summary[f"{key}_mean"] = float(np.nanmean(values))
            summary[f"{key}_std"] = float(np.nanstd(values))
    return summary
